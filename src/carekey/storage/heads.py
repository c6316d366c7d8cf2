"""The heads file: every signed tree head, appended as one JSON line to a file outside the database.

Why: the database holds the log *and* its signed heads, so whoever can write the database can cut the log's
tail together with the newer heads (or delete every head) and nothing inside the database contradicts it. The
heads file (default ``<data_dir>/carekey.heads``, mode 0600) is a second, append-only record: ``carekey log
verify`` checks the database against it by default, and the server refuses to sign a tree that is smaller than,
or inconsistent with, the largest head it holds. Witnesses on other machines (``carekey log witness``) are the
third record, the one a local administrator cannot rewrite.

Each line is written with one ``write`` on a descriptor opened with ``O_APPEND`` (atomic for a short line on a
local file system, also across processes), then ``fsync``-ed. A head is appended *after* the transaction that
stored it commits, so the file never holds a head of a tree the database rolled back; a crash in between
leaves the head only in the database, which is harmless (the file is checked as a subset).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from carekey.audit.sth import SignedTreeHead


class HeadsFileError(ValueError):
    """The heads file is unreadable, malformed, or shorter than it was (truncated or replaced)."""


@dataclass(frozen=True)
class HeadsSnapshot:
    heads: list[SignedTreeHead]
    largest: SignedTreeHead | None


class HeadsFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._offset = 0  # bytes already parsed (the file only grows)
        self._inode: tuple[int, int] | None = None
        self._largest: SignedTreeHead | None = None
        self._last_written: bytes | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> None:
        """Create the file empty (mode 0600) if it does not exist yet."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)

    def append(self, sth: SignedTreeHead) -> None:
        """Append one head (skipped when it is the head this process appended last)."""
        with self._lock:
            if sth.signature == self._last_written:
                return
            line = (sth.to_json() + "\n").encode()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last_written = sth.signature

    def read(self) -> list[SignedTreeHead]:
        """Every head in the file, in file order, duplicates dropped (HeadsFileError if a line is malformed)."""
        return parse_heads(self.path.read_bytes(), str(self.path))

    def largest(self) -> SignedTreeHead | None:
        """The head of the largest tree in the file, reading only what was appended since the last call.
        HeadsFileError when the file shrank or was replaced since it was last read (a cut file)."""
        with self._lock:
            st = os.stat(self.path)
            inode = (st.st_dev, st.st_ino)
            if (self._inode is not None and inode != self._inode) or st.st_size < self._offset:
                raise HeadsFileError(f"{self.path} was truncated or replaced while carekey was running")
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                new = fh.read()
            end = new.rfind(b"\n") + 1  # a line still being written by another process is read next time
            for sth in parse_heads(new[:end], str(self.path)):
                if self._largest is None or sth.size > self._largest.size:
                    self._largest = sth
            self._offset += end
            self._inode = inode
            return self._largest


def parse_heads(data: bytes, where: str) -> list[SignedTreeHead]:
    heads: list[SignedTreeHead] = []
    seen: set[SignedTreeHead] = set()
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            sth = SignedTreeHead.from_dict(obj.get("signed_tree_head", obj))
        except (ValueError, AttributeError) as err:
            raise HeadsFileError(f"{where}:{n}: not a signed tree head ({err})") from None
        if sth not in seen:
            seen.add(sth)
            heads.append(sth)
    return heads
