"""A cheap "anything new?" between the processes of one machine: a token in a shared file.

The process that commits feedback writes a fresh random token after the commit; a process about
to answer compares the token with the one it saw last (a read of 8 mapped bytes) and reads the
store only when it changed, or when `max_age` seconds have passed (events posted to other
machines change no local token).
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

SIZE = 8


class ChangeSignal:
    def __init__(self, path: str | Path, max_age: float = 1.0) -> None:
        self.path = Path(path)
        self.max_age = max_age
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:  # create it, never truncate it
            if f.tell() < SIZE:
                f.write(b"\0" * (SIZE - f.tell()))
        with open(self.path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), SIZE)
        self._seen: bytes | None = None
        self._looked = 0.0

    def bump(self) -> None:
        """Tell every process something new was committed (call after the commit)."""
        self._map[:SIZE] = os.urandom(SIZE)

    def should_look(self) -> bool:
        """True when something may have been committed since the last True (which starts a look)."""
        token = self._map[:SIZE]
        now = time.monotonic()
        if token == self._seen and now - self._looked < self.max_age:
            return False
        self._seen, self._looked = token, now
        return True
