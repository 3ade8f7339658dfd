"""A writer for the cpio "newc" format, the one the Linux kernel unpacks as an initramfs.

Pure Python so that building the guest image needs no `cpio` binary. Every entry is written with
nlink 1 and its own inode number, so hard links become copies: the kernel then never has to
pair them up, and the archive stays valid when it is concatenated with another one (the kernel
unpacks a concatenation of archives in order, a later entry replacing an earlier one).

>>> import io
>>> buf = io.BytesIO()
>>> w = CpioWriter(buf)
>>> w.add_file("init", b"#!/bin/sh\\n", mode=0o755)
>>> w.close()
>>> buf.getvalue()[:6], len(buf.getvalue()) % 4
(b'070701', 0)
"""
from __future__ import annotations

import stat
from typing import BinaryIO

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


class CpioWriter:
    """Appends entries to `out`; parent directories are created on demand, each only once."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1
        self._dirs: set[str] = {""}
        self._closed = False

    def _header(self, name: str, mode: int, size: int, mtime: int, rdev: tuple[int, int],
                nlink: int = 1) -> None:
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        header = _MAGIC + b"".join(b"%08X" % f for f in fields)
        self._out.write(header + encoded + _pad4(len(header) + len(encoded)))
        self._ino += 1

    def _parents(self, name: str, mtime: int) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.add_dir("/".join(parts[:i]), mtime=mtime)

    @staticmethod
    def _norm(name: str) -> str:
        name = name.strip("/")
        return name.removeprefix("./")

    def add_dir(self, name: str, mode: int = 0o755, mtime: int = 0) -> None:
        name = self._norm(name)
        if name in self._dirs:
            return
        self._parents(name, mtime)
        self._header(name, stat.S_IFDIR | (mode & 0o7777), 0, mtime, (0, 0), nlink=2)
        self._dirs.add(name)

    def add_file(self, name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> None:
        name = self._norm(name)
        self._parents(name, mtime)
        self._header(name, stat.S_IFREG | (mode & 0o7777), len(data), mtime, (0, 0))
        self._out.write(data + _pad4(len(data)))

    def add_symlink(self, name: str, target: str, mtime: int = 0) -> None:
        name = self._norm(name)
        self._parents(name, mtime)
        data = target.encode()
        self._header(name, stat.S_IFLNK | 0o777, len(data), mtime, (0, 0))
        self._out.write(data + _pad4(len(data)))

    def add_device(self, name: str, mode: int, major: int, minor: int, mtime: int = 0) -> None:
        """`mode` carries the type bits (S_IFCHR, S_IFBLK, S_IFIFO) and the permissions."""
        name = self._norm(name)
        self._parents(name, mtime)
        self._header(name, mode, 0, mtime, (major, minor))

    def close(self) -> None:
        if not self._closed:
            self._header(_TRAILER, 0, 0, 0, (0, 0), nlink=1)
            self._closed = True
