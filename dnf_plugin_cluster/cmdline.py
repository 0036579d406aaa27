"""Reading a command line without argparse (whose parsers, with Python 3.14's colour
themes, cost about as much as dnf5's whole no-op answer): the global options of dnf5
(dnf5cli.py) or dnf 4 (fast4.py) taken out wherever they stand, and the plain
`cluster-node sync|status` lines the no-op fast path answers. Anything unusual is left
to argparse and the full path."""


class Option(object):
    """One global option: its names, where argparse stores it, its value's name (None:
    a flag), its help, its argparse action."""

    def __init__(self, names, dest, value=None, help=None, action=None):
        self.names, self.dest, self.value, self.help = names, dest, value, help
        self.action = action or ("append" if dest in ("setopts", "setvars", "repos", "enable_repos",
                                                      "disable_repos", "excludes")
                                 else ("store" if value else "store_true"))


class UsageError(Exception):
    pass


def split_globals(argv, long_options, short_options):
    """(global option arguments, the rest): global options are taken out wherever they
    stand; everything else (the command, its options and values) keeps its order.
    `long_options`, `short_options`: {"--name": _Option}, {"n": _Option}."""
    found, rest, args = [], [], list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest += [arg] + args
            break
        if arg.startswith("--"):
            name, eq, _ = arg.partition("=")
            option = long_options.get(name)
            if option is None:
                rest.append(arg)
            elif option.value and not eq:
                if not args:
                    raise UsageError("dnf-cluster: error: option {} needs a value".format(name))
                found.append("{}={}".format(name, args.pop(0)))
            else:
                found.append(arg)
            continue
        if arg.startswith("-") and len(arg) > 1 and all(c in short_options for c in arg[1:2]):
            taken, j = [], 1
            while j < len(arg):
                option = short_options.get(arg[j])
                if option is None:
                    taken = None
                    break
                if option.value:
                    value = arg[j + 1:]
                    if not value:
                        if not args:
                            raise UsageError("dnf-cluster: error: option -{} needs a value".format(arg[j]))
                        value = args.pop(0)
                    taken.append("{}={}".format(option.names[-1], value))
                    break
                taken.append(option.names[-1])
                j += 1
            if taken is not None:
                found += taken
                continue
        rest.append(arg)
    return found, rest


class _Values(object):
    def __init__(self, **values):
        self.__dict__.update(values)


#: the options of `cluster-node sync|status` the fast path reads without argparse (whose
#: parsers, with Python 3.14's colour themes, cost about as much as dnf5's whole no-op
#: answer); a line with anything else goes to argparse and the full path
NODE_FLAGS = {"--json": "json", "--dry-run": "dry_run", "--check": "check", "--packages": "packages",
              "--full": "full", "--allow-mass-removal": "allow_mass_removal"}


def plain_globals(found, options, long_options):
    """The global options split_globals() found, as argparse parses them, or None
    (anything unusual: argparse decides)."""
    values = {}
    for option in options:
        values[option.dest] = [] if option.action == "append" else (None if option.value else False)
    for arg in found:
        name, eq, value = arg.partition("=")
        option = long_options.get(name)
        if option is None or bool(option.value) != bool(eq):
            return None
        if option.action == "append":
            values[option.dest].append(value)
        else:
            values[option.dest] = value if option.value else True
    return _Values(**values)


def plain_node_options(rest):
    """`cluster-node sync|status [OPTIONS]` as the command's parser reads it, or None."""
    if not rest or rest[0] != "cluster-node":
        return None
    values = dict((dest, False) for dest in NODE_FLAGS.values())
    values["role"] = None
    subs, args = [], list(rest[1:])
    while args:
        arg = args.pop(0)
        if arg in NODE_FLAGS:
            values[NODE_FLAGS[arg]] = True
        elif arg == "--role" and args and not args[0].startswith("-"):
            values["role"] = args.pop(0)
        elif arg.startswith("--role=") and len(arg) > len("--role="):
            values["role"] = arg[len("--role="):]
        elif arg in ("sync", "status") and not subs:
            subs.append(arg)
        else:
            return None
    if not subs:
        return None
    values["subcommand"] = subs
    return _Values(**values)
