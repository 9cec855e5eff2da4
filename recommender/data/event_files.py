"""Rows of a store's files for ingestion: CSV, gzipped CSV or JSON lines, each row checked alone.

A bad row never stops a file: it comes out as a `Rejected` (its line and the reason) and the rows
around it are read on. Only a file that cannot be read at all (missing, no header, a header
without the required columns) raises `DataError`.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson

from recommender.data.data_loader import INTERACTION_COLUMNS, PRODUCT_COLUMNS
from recommender.errors import DataError
from recommender.storage.catalog_changes import FIELDS, Product, parse_product
from recommender.validation import MAX_EVENT_ID_LENGTH, MAX_ID_LENGTH, id_control

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
GZIP_MAGIC = b"\x1f\x8b"
REJECTED_TEXT = 500  # characters of a rejected line kept in the rejects file


@dataclass(frozen=True)
class Interaction:
    user_id: str
    product_id: str
    interaction_type: str
    ts: datetime  # UTC, naive
    event_id: str | None


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    text: str


Row = Interaction | Product


class RowFile:
    """One file's rows, in order; `done` is the share of the file read so far (for a progress bar)."""

    def __init__(self, path: str | Path, kind: str, types: Collection[str] = ()) -> None:
        self.path = Path(path)
        if kind not in ("interactions", "products"):
            raise ValueError(f"unknown kind of rows {kind!r}")
        self.kind = kind
        self.types = frozenset(types)
        self.required = INTERACTION_COLUMNS if kind == "interactions" else PRODUCT_COLUMNS
        self.size = self.path.stat().st_size
        self._raw: BinaryIO | None = None

    @property
    def done(self) -> float:
        return self._raw.tell() / self.size if self._raw is not None and self.size else 0.0

    def rows(self) -> Iterator[Row | Rejected]:
        with self.path.open("rb") as raw:
            self._raw = raw
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            with gzip.open(raw) if gzipped else raw as lines:
                stem = self.path.name.removesuffix(".gz")
                json_lines = stem.endswith(JSON_SUFFIXES)
                yield from (self._json_rows if json_lines else self._csv_rows)(lines)
            self._raw = None

    def _json_rows(self, lines: BinaryIO) -> Iterator[Row | Rejected]:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield _rejected(number, f"bytes that are not UTF-8 ({exc.reason})", raw)
                continue
            except orjson.JSONDecodeError as exc:
                yield _rejected(number, f"not JSON ({exc})", raw)
                continue
            fields = _json_fields(record)
            row = self._checked(fields) if isinstance(fields, dict) else fields
            yield row if not isinstance(row, str) else _rejected(number, row, raw)

    def _csv_rows(self, lines: BinaryIO) -> Iterator[Row | Rejected]:
        position = {"line": 0}
        undecodable: list[Rejected] = []

        def decoded() -> Iterator[str]:
            for raw in lines:
                position["line"] += 1
                try:
                    text = raw.decode("utf-8-sig" if position["line"] == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    undecodable.append(
                        _rejected(position["line"], f"bytes that are not UTF-8 ({exc.reason})", raw)
                    )
                    continue
                yield text

        reader = csv.reader(decoded())
        header = [name.strip() for name in next(reader, [])]
        missing = [c for c in self.required if c not in header]
        if not header or missing:
            raise DataError(
                f"{self.path.name} line 1: missing column(s) {', '.join(missing or self.required)}; "
                f"the header must contain {','.join(self.required)}"
            )
        width = len(header)
        for values in reader:
            yield from undecodable
            undecodable.clear()
            line = position["line"]
            if not values or values == [""]:
                continue
            if len(values) != width:
                problem = "short" if len(values) < width else "long"
                reason = f"{problem} line: {len(values)} fields where the header has {width}"
                yield Rejected(line, reason, _text(",".join(values)))
                continue
            row = self._checked(dict(zip(header, values, strict=True)))
            yield row if not isinstance(row, str) else Rejected(line, row, _text(",".join(values)))
        yield from undecodable

    def _checked(self, fields: dict[str, str]) -> Row | str:
        """The row, or why it cannot be stored."""
        missing = [c for c in self.required if not fields.get(c, "").strip()]
        if missing:
            return f"missing {', '.join(missing)}"
        if self.kind == "interactions":
            return _interaction(fields, self.types)
        return _product(fields)


def _json_fields(record: object) -> dict[str, str] | str:
    """A JSON line's fields as the CSV reader gives them (text; null as empty), or why not."""
    if not isinstance(record, dict):
        return "not a JSON object"
    fields = {}
    for name, value in record.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            return f"{name} must be a string or a number; got {type(value).__name__}"
        fields[name] = "" if value is None else str(value)
    return fields


def _interaction(fields: dict[str, str], types: frozenset[str]) -> Interaction | str:
    user_id, product_id = fields["user_id"].strip(), fields["product_id"].strip()
    for name, value in (("user_id", user_id), ("product_id", product_id)):
        if problem := _id_problem(name, value, MAX_ID_LENGTH):
            return problem
    kind = fields["interaction_type"].strip().lower()
    if types and kind not in types:
        return f"interaction_type {kind!r} is not one of {', '.join(sorted(types))}"
    raw_ts = fields["ts"].strip()
    try:
        ts = datetime.fromisoformat(raw_ts)
    except ValueError:
        return f"ts {raw_ts!r} is not an ISO 8601 time (e.g. 2024-03-01T14:05:00)"
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    event_id = fields.get("event_id", "").strip() or None
    if event_id is not None and (problem := _id_problem("event_id", event_id, MAX_EVENT_ID_LENGTH)):
        return problem
    return Interaction(user_id, product_id, kind, ts, event_id)


def _product(fields: dict[str, str]) -> Product | str:
    product_id = fields["product_id"].strip()
    if problem := _id_problem("product_id", product_id, MAX_ID_LENGTH):
        return problem
    body: dict[str, object] = {name: fields[name] for name in FIELDS if fields.get(name, "").strip()}
    if "price" in body:
        try:
            body["price"] = float(str(body["price"]))
        except ValueError:
            return f"price {body['price']!r} is not a number"
        if not math.isfinite(float(body["price"])):  # type: ignore[arg-type]
            return f"price {body['price']!r} is not a number"
    if "available" in body:
        flag = str(body["available"]).strip().lower()
        if flag not in ("true", "false", "1", "0"):
            return f"available {body['available']!r} is not true or false"
        body["available"] = flag in ("true", "1")
    try:
        return parse_product(product_id, body)
    except ValueError as exc:
        return str(exc)


def _id_problem(name: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{name} is longer than {limit} characters"
    if id_control(value):
        return f"{name} holds a control character"
    return None


def _rejected(line: int, reason: str, raw: bytes) -> Rejected:
    return Rejected(line, reason, _text(raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")))


def _text(line: str) -> str:
    return line if len(line) <= REJECTED_TEXT else line[:REJECTED_TEXT] + "..."
