"""The one error type users see: a single line, naming the file/line or package at fault."""

#: dnf's own words for a command that changes the system, run by another user
SUPERUSER = "This command has to be run with superuser privileges (under the root user on most systems)."


class ClusterError(Exception):
    """A user-facing error; str() is the complete one-line message."""

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        self.bare = message
        if path is not None and line is not None:
            message = "{}:{}: {}".format(path, line, message)
        elif path is not None:
            message = "{}: {}".format(path, message)
        super(ClusterError, self).__init__(" ".join(str(message).split("\n")))
