"""One rebuild at a time across every worker and replica of a deployment.

On PostgreSQL the lock is a session advisory lock, held by a connection of its own for the
whole build; elsewhere (SQLite: one machine) it is an exclusive `flock` on a file in the
artifacts folder. Either way a process that dies lets go of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from recommender.errors import FeedbackUnavailableError

KEY = int.from_bytes(hashlib.sha256(b"recsys.rebuild").digest()[:8], "big", signed=True)


class BuildLock:
    """Taken without waiting: `acquire` is False while another process (or thread) holds it."""

    def __init__(self, engine: Engine | None, folder: str | Path) -> None:
        self.engine = engine if engine is not None and engine.dialect.name == "postgresql" else None
        self.path = Path(folder) / "REBUILD.lock"
        self._held: sa.Connection | int | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; raises FeedbackUnavailableError when the database that
        holds it cannot be reached (the rebuild then does not start)."""
        if self.engine is not None:
            try:
                conn = self.engine.connect()
            except sa.exc.SQLAlchemyError as exc:
                raise FeedbackUnavailableError(
                    "the database is unavailable: no rebuild started; retry later"
                ) from exc
            try:
                taken = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(KEY))).scalar())
                conn.commit()
            except BaseException:
                conn.close()
                raise
            if not taken:
                conn.close()
                return False
            self._held = conn
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._held = fd
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if isinstance(held, sa.Connection):
            try:
                held.execute(sa.select(sa.func.pg_advisory_unlock(KEY)))
                held.commit()
            except sa.exc.SQLAlchemyError:
                pass  # the connection is gone, and the lock with it
            finally:
                held.close()
        elif held is not None:
            os.close(held)  # closing the file lets go of its lock
