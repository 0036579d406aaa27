"""Filling the head node's templates (templates/*.in): `@name@` placeholders by the
rules of the packager's templates (cluster_repo/template.py, which node-side code does
not import): `@#` lines are notes and go, `@@` is a literal `@`, an unknown placeholder
is one error naming the template's line; with drop_empty, a line that is only a
placeholder whose value is empty goes too."""
import re

from ..errors import ClusterError

PLACEHOLDER_RE = re.compile(r"@@|@([a-z][a-z_]*)@")


def fill(path, values, drop_empty=False):
    """The template at `path` with `values` filled in."""
    with open(path) as handle:
        text = handle.read()
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("@#"):
            continue
        if drop_empty:
            alone = PLACEHOLDER_RE.fullmatch(line.strip())
            if alone and alone.group(1) in values and not values[alone.group(1)]:
                continue

        def one(match, number=number):
            if match.group(0) == "@@":
                return "@"
            if match.group(1) not in values:
                raise ClusterError("unknown placeholder {}".format(match.group(0)), path, number)
            return values[match.group(1)]
        out.append(PLACEHOLDER_RE.sub(one, line))
    return "\n".join(out) + "\n"
