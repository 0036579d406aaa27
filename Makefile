# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both set up first; set-up is idempotent and quick once done.
VENV   := .venv
PYTHON := $(VENV)/bin/python

.PHONY: setup demo test bench lint fmt render srpm clean test-debian13

setup:
	@tools/bootstrap

demo: setup
	$(PYTHON) -m cluster_testkit.demo

test: setup
	$(PYTHON) -m pytest

bench: setup
	$(PYTHON) -m bench

lint: setup
	$(PYTHON) bin/cluster-repo lint

fmt: setup
	$(PYTHON) bin/cluster-repo fmt

render: setup
	$(PYTHON) bin/cluster-repo render

# The plugin's own SRPMs from this tree (Source0: the tarball `cluster-repo build` makes,
# the same bytes for the same tree), into out/srpm/. TARGET=fc42 for another distribution.
TARGET ?= el9
SRPM_DIR ?= out/srpm
srpm: setup
	$(PYTHON) bin/cluster-repo srpm --target $(TARGET) --outdir $(SRPM_DIR)

# Both commands again, from a copy of this checkout, in a fresh Debian 13 chroot.
test-debian13:
	tools/chroot-check --suite trixie demo test

clean:
	rm -rf $(VENV) build out .pytest_cache
