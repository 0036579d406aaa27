"""What the libdnf5 backend's modules share: libdnf5's transaction names, the priority
of command-line settings, dnf5's reasons as the seam names them, one-line errors."""
import libdnf5

T = libdnf5.transaction
PRIORITY = libdnf5.conf.Option.Priority_COMMANDLINE

REASONS = {T.TransactionItemReason_USER: "user", T.TransactionItemReason_DEPENDENCY: "dependency",
           T.TransactionItemReason_WEAK_DEPENDENCY: "weak-dependency", T.TransactionItemReason_GROUP: "group",
           T.TransactionItemReason_CLEAN: "clean", T.TransactionItemReason_EXTERNAL_USER: "unknown",
           T.TransactionItemReason_NONE: "unknown"}


def one_line(err):
    return " ".join(str(err).split())
