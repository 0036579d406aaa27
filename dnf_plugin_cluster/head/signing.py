"""Signing with GnuPG, for the packager's build and the head node's publish: RPMs
through rpmsign, repository files (repomd.xml) with a detached armored signature."""
import os
import shutil
import subprocess
import tempfile

from ..errors import ClusterError


class Gpg(object):
    """Signing with GnuPG: RPMs through rpmsign, files with a detached armored signature."""

    def __init__(self, key, home):
        self.key, self.home = key, home

    def _base(self):
        return ["gpg", "--batch", "--yes"] + (["--homedir", self.home] if self.home else [])

    def run(self, args, **kwargs):
        proc = subprocess.run(self._base() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ClusterError("gpg {} failed: {}".format(args[0], lines[-1] if lines else "exit {}".format(
                proc.returncode)))
        return proc.stdout

    def public_key(self):
        key = self.run(["--armor", "--export", self.key])
        if not key.strip():
            raise ClusterError("no public key '{}' in the GnuPG keyring".format(self.key))
        return key

    def sign_rpms(self, paths):
        # rpm's %__gpg names /usr/bin/gpg2, which Debian does not ship; use the gpg on PATH.
        cmd = ["rpmsign", "--addsign", "--define", "_gpg_name {}".format(self.key),
               "--define", "__gpg {}".format(shutil.which("gpg") or "/usr/bin/gpg")]
        if self.home:
            cmd += ["--define", "_gpg_path {}".format(self.home)]
        proc = subprocess.run(cmd + list(paths), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            raise ClusterError("rpmsign failed: {}".format(proc.stdout.strip().splitlines()[-1:]))

    def check(self):
        """Sign a scratch file: a key without its secret part, a wrong key id or a
        locked agent fails here, before anything is written."""
        scratch = tempfile.mkdtemp(prefix="cluster-sign-check-")
        try:
            path = os.path.join(scratch, "check")
            with open(path, "w") as handle:
                handle.write("can this key sign?\n")
            try:
                self.sign_file(path)
            except ClusterError as err:
                raise ClusterError("cannot sign with key '{}': {}".format(self.key, err))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return self

    def sign_file(self, path):
        self.run(["--local-user", self.key, "--armor", "--detach-sign", "--output", path + ".asc", path])
