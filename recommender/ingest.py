"""Load a store's products or interactions into the service's database.

    python -m recommender.ingest products FILE... [--rejects PATH]
    python -m recommender.ingest interactions FILE... [--rejects PATH]

FILE is CSV (the columns of the service's CSV files), gzipped CSV, or JSON lines (.jsonl,
.ndjson or .json, gzipped or not) with the same fields. The database is DATABASE_URL's (or
--database). Each row is stored once however often it is ingested: an interaction by its
event_id where it has one, otherwise by its content; a product replaces the stored record of its
id. Bad rows are skipped into --rejects with their line and the reason; the rest are stored.

Exit status: 0 when every file was read through (rejected rows included), 2 on a usage error
(nothing is stored), 1 on a failure (what was stored stays; running the job again completes it
without storing anything twice).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from config import Config, ConfigError
from recommender.data.event_files import Rejected, Row, RowFile
from recommender.errors import DataError
from recommender.storage import schema
from recommender.storage.event_log import UnsupportedDatabase, store_interactions, store_products

log = logging.getLogger("recommender.ingest")

BATCH_ROWS = 50_000  # rows a transaction: a killed job loses at most one batch's work, and reruns it
PROGRESS_SECONDS = 0.5


@dataclass
class Counts:
    read: int = 0
    stored: int = 0
    already: int = 0
    rejected: int = 0

    def add(self, other: Counts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"{self.read:,} rows read, {self.stored:,} stored, {self.already:,} already there, "
            f"{self.rejected:,} rejected"
        )


class Rejects:
    """The rejects file (CSV: file, line, reason, text), or a count alone without one."""

    def __init__(self, path: Path | None) -> None:
        self._file = path.open("w", newline="", encoding="utf-8") if path else None
        self._writer = csv.writer(self._file) if self._file else None
        if self._writer:
            self._writer.writerow(["file", "line", "reason", "text"])
        self.first: tuple[str, Rejected] | None = None

    def add(self, name: str, row: Rejected) -> None:
        if self.first is None:
            self.first = (name, row)
        if self._writer:
            self._writer.writerow([name, row.line, row.reason, row.text])

    def close(self) -> None:
        if self._file:
            self._file.close()


def ingest_file(
    rows: RowFile, store: Callable[[list[Row]], int], rejects: Rejects, progress: Progress, batch_rows: int
) -> Counts:
    """Every row of one file stored or rejected, one batch a transaction.

    A batch is stored by a second thread while the next one is read: the database's work and
    the reading overlap. At most one batch is in the database's hands at a time, and a failure
    stops the file at the next batch.
    """
    counts = Counts()
    batch: list[Row] = []
    storing: tuple[Future[int], int] | None = None  # the batch in the database's hands, and its size

    def settle() -> None:
        """Wait for the batch in the database's hands (raising what the store raised), and count it."""
        nonlocal storing
        if storing is not None:
            future, size = storing
            stored = future.result()
            counts.stored += stored
            counts.already += size - stored
            storing = None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as writer:
        for row in rows.rows():
            counts.read += 1
            if isinstance(row, Rejected):
                counts.rejected += 1
                rejects.add(rows.path.name, row)
            else:
                batch.append(row)
                if len(batch) >= batch_rows:
                    settle()
                    storing, batch = (writer.submit(store, batch), len(batch)), []
            progress.show(rows, counts)
        settle()
        if batch:
            storing = (writer.submit(store, batch), len(batch))
            settle()
    progress.end()
    return counts


class Progress:
    """A line on stderr, redrawn twice a second, when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()
        self.started = time.monotonic()
        self.shown = 0.0

    def show(self, rows: RowFile, counts: Counts) -> None:
        now = time.monotonic()
        if not self.on or now - self.shown < PROGRESS_SECONDS:
            return
        self.shown = now
        rate = counts.read / max(now - self.started, 1e-9)
        done = rows.done
        width = 30
        bar = "#" * int(done * width)
        self.stream.write(
            f"\r{rows.path.name} [{bar:<{width}}] {done:4.0%} {counts.read:,} rows ({rate:,.0f}/s)"
        )
        self.stream.flush()

    def end(self) -> None:
        if self.on and self.shown:
            self.stream.write("\n")
        self.started = time.monotonic()
        self.shown = 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recommender.ingest",
        description="Load products or interactions into the service's database (DATABASE_URL).",
    )
    parser.add_argument("kind", choices=("products", "interactions"), help="what the files hold")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CSV, .csv.gz or JSON lines")
    parser.add_argument(
        "--rejects", type=Path, help="write the rejected rows here (CSV: file, line, reason, text)"
    )
    parser.add_argument(
        "--database", help="a SQLAlchemy URL (default: DATABASE_URL, else the embedded SQLite)"
    )
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    try:
        config = Config.from_env()
    except ConfigError as exc:
        parser.error(str(exc))
    url = args.database or config.feedback_db
    types = tuple(name for name, _ in config.interaction_weights)
    engine = schema.engine_for(url)
    store = {
        "products": lambda batch: store_products(engine, batch),
        "interactions": lambda batch: store_interactions(engine, batch),
    }[args.kind]
    rejects = Rejects(args.rejects)
    progress = Progress(sys.stderr)
    total = Counts()
    try:
        schema.ready(engine)
        for path in args.files:
            counts = ingest_file(RowFile(path, args.kind, types), store, rejects, progress, args.batch_rows)
            print(f"{path}: {counts}")
            total.add(counts)
    except (DataError, UnsupportedDatabase) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _failed(total)
    except sa.exc.SQLAlchemyError as exc:
        print(f"error: the database failed: {exc}", file=sys.stderr)
        return _failed(total)
    finally:
        rejects.close()
        engine.dispose()
    if len(args.files) > 1:
        print(f"total: {total}")
    if rejects.first is not None:
        name, row = rejects.first
        where = f"; all in {args.rejects}" if args.rejects else "; --rejects PATH keeps them all"
        print(f"first rejected: {name} line {row.line}: {row.reason}{where}")
    return 0


def _failed(total: Counts) -> int:
    print(
        f"stopped after storing {total.stored:,} rows; the files that were read through are whole. "
        "Run the job again: rows already stored are not stored twice.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
