"""Hostile files for the readers that must refuse them in one line, at once: a FIFO
(reading it would block forever), a symbolic link to /dev/zero (endless bytes, and a
path leading out of the root) and a sparse 512 MB file (no disk; read whole, 512 MB
of memory). Each takes the path to create."""
import os

SPARSE_SIZE = 512 * 1024 * 1024


def fifo(path):
    os.mkfifo(path)


def link_to_dev_zero(path):
    os.symlink("/dev/zero", path)


def sparse_file(path):
    with open(path, "w") as handle:
        handle.truncate(SPARSE_SIZE)
