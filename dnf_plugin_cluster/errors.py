"""The one error type users see: a single line, naming the file/line or package at fault."""


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


class RpmdbError(ClusterError):
    """The rpm database of a root cannot be read: an error, never drift."""

    def __init__(self, root, problem):
        super(RpmdbError, self).__init__("cannot read the rpm database of {}: {}".format(root, problem))
