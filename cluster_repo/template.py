"""The template files in templates/ (the metapackage spec, the cluster-release .repo
file) and how their `@name@` placeholders are filled.

`@name@` is replaced by a value the caller has already checked and escaped; `@` never
clashes with rpm's `%` macros or dnf's `$releasever`. `@@` is a literal `@`. Lines
starting with `@#` are notes for the reviewer and are left out, and a line holding
nothing but a placeholder whose value is empty is left out too, so optional parts leave
no blank lines behind. Standard library only (string.Template)."""
import os
import re
import string

from dnf_plugin_cluster.errors import ClusterError

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
_ALONE_RE = re.compile(r"@([a-z][a-z_]*)@\n?\Z")


class _AtTemplate(string.Template):
    delimiter = "@"
    flags = 0
    pattern = r"""
    @(?:
      (?P<escaped>@) |
      (?P<named>[a-z][a-z_]*)@ |
      (?P<braced>(?!)) |
      (?P<invalid>)
    )"""


def path_of(name):
    return os.path.join(TEMPLATE_DIR, name)


def _read(name):
    try:
        with open(path_of(name), encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ClusterError("cannot read template: {}".format(getattr(err, "strerror", None) or err), path_of(name))


def fill(name, values):
    """The text of template `name` with every placeholder replaced from `values` (a
    dict of strings). A placeholder without a value is an error naming the template."""
    kept = []
    for line in _read(name).splitlines(True):
        if line.startswith("@#"):
            continue
        alone = _ALONE_RE.match(line)
        if alone and values.get(alone.group(1)) == "":
            continue
        kept.append(line)
    try:
        return _AtTemplate("".join(kept)).substitute(values)
    except KeyError as err:
        raise ClusterError("template placeholder @{}@ has no value".format(err.args[0]), path_of(name))
    except ValueError as err:
        raise ClusterError("bad template: {}".format(err), path_of(name))
