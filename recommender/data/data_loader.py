"""Read the catalog and the interaction log, checking them with messages that point at the line."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray
from pyarrow import csv as pa_csv

from recommender.errors import DataError, UnknownProductError
from recommender.memory import release_freed

log = logging.getLogger(__name__)

PRODUCT_COLUMNS = ("product_id", "title")
OPTIONAL_PRODUCT_COLUMNS = ("category", "description", "img_url")
INTERACTION_COLUMNS = ("user_id", "product_id", "interaction_type", "ts")
LOADED_COLUMNS = ("user_id", "item", "interaction_type", "ts")  # of load_interactions' frame
# Interaction rows checked and coded at once, and the bytes of the file Arrow parses at once.
CHUNK_ROWS = 1_000_000
BLOCK_BYTES = 64 << 20


@dataclass(frozen=True)
class Catalog:
    """The products, in file order; a product's position is its index in every model array."""

    product_ids: NDArray[np.object_]
    titles: NDArray[np.object_]
    categories: NDArray[np.object_]
    descriptions: NDArray[np.object_]
    index: dict[str, int]
    prices: NDArray[np.float32] = field(default_factory=lambda: np.empty(0, np.float32))  # NaN: unknown
    img_urls: NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))  # "": none

    def __len__(self) -> int:
        return len(self.product_ids)

    def position(self, product_id: str) -> int:
        """The row of product_id; raises UnknownProductError."""
        try:
            return self.index[product_id]
        except KeyError:
            raise UnknownProductError(product_id) from None

    def __contains__(self, product_id: object) -> bool:
        return product_id in self.index


def load_catalog(path: str | Path) -> Catalog:
    """Read products.csv: product_id and title required, category and description optional."""
    frame = _read_csv(path, PRODUCT_COLUMNS)
    name = Path(path).name
    if frame.empty:
        raise DataError(f"{name}: no products (the file has a header but no rows)")
    ids = frame["product_id"].str.strip()
    _reject_empty(ids, name, "product_id")
    duplicated = ids.duplicated(keep="first")
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        first = int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])
        raise DataError(
            f"{name} line {_line(row)}, column product_id: duplicate product_id "
            f"{ids.iloc[row]!r} (first on line {_line(first)})"
        )
    columns = {
        c: frame[c] if c in frame else pd.Series("", index=frame.index) for c in OPTIONAL_PRODUCT_COLUMNS
    }
    product_ids = ids.to_numpy(dtype=object)
    return Catalog(
        product_ids=product_ids,
        titles=frame["title"].str.strip().to_numpy(dtype=object),
        categories=columns["category"].str.strip().to_numpy(dtype=object),
        descriptions=columns["description"].str.strip().to_numpy(dtype=object),
        index={pid: i for i, pid in enumerate(product_ids)},
        prices=_prices(frame),
        img_urls=columns["img_url"].str.strip().to_numpy(dtype=object),
    )


LARGEST_PRICE = float(np.finfo(np.float32).max)  # what the model's 32-bit prices hold (3.4e38)


def _prices(frame: pd.DataFrame) -> NDArray[np.float32]:
    """The price column as numbers; NaN where it is absent, empty, not a number, not above 0, or
    beyond what the model's 32-bit prices hold (3.4e38)."""
    if "price" not in frame:
        return np.full(len(frame), np.nan, np.float32)
    prices = pd.to_numeric(frame["price"].str.strip(), errors="coerce").to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(prices) & (prices > 0) & (prices <= LARGEST_PRICE)
        return np.where(usable, prices, np.nan).astype(np.float32)


def load_interactions(
    path: str | Path, catalog: Catalog, types: Collection[str], chunk_rows: int = CHUNK_ROWS
) -> pd.DataFrame:
    """Read interactions.csv into columns user_id, item (catalog row), interaction_type, ts (naive UTC).

    Rows naming a product that is not in the catalog, or an interaction type outside `types`,
    are skipped and counted in a warning. A header with no rows is a store with no history yet.
    The file is parsed by Arrow's CSV reader on every core, and checked and coded `chunk_rows`
    rows at a time: only a block of the file's text is in memory at once.
    """
    name = Path(path).name
    skipped = {
        "product_id": _Skipped("is not in the catalog"),
        "interaction_type": _Skipped(f"is not one of {', '.join(types)}"),
    }
    products = pd.Index(catalog.product_ids)  # hashed once, not once a chunk
    users: dict[str, str] = {}  # each user id once, whichever chunks it appears in
    parts: dict[str, list[np.ndarray]] = {column: [] for column in LOADED_COLUMNS}
    start = 0
    for chunk in _arrow_chunks(path, INTERACTION_COLUMNS, chunk_rows):
        for column, values in _interactions(chunk, start, name, products, users, types, skipped).items():
            parts[column].append(values)
        start += chunk.num_rows
    for column, skip in skipped.items():
        if skip.count:
            log.warning(
                "%s: skipped %d rows whose %s %s (e.g. %r on line %d)",
                name,
                skip.count,
                column,
                skip.reason,
                skip.example,
                skip.line,
            )
    if start and not sum(len(part) for part in parts["item"]):
        log.warning("%s: no usable rows; recommendations fall back to content and catalog order", name)
    if not parts["item"]:  # a header alone
        return _frame({column: _EMPTY[column] for column in LOADED_COLUMNS})
    # Column by column, each column's chunks let go once joined and their memory handed back (else
    # the allocator keeps it), and the frame made of the joined columns without copying them: the
    # log is in memory about once.
    columns = {}
    for column in LOADED_COLUMNS:
        columns[column] = np.concatenate(parts.pop(column))
        release_freed()
    return _frame(columns)


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The columns as a frame, as they are: the ids and types stay arrays of the loader's shared
    strings, which pandas would otherwise copy into its string type, checking each string (two
    more arrays of 8 bytes a row while it copies, some 5 s at 85M rows)."""
    return pd.DataFrame(
        {name: pd.Series(values, dtype=values.dtype, copy=False) for name, values in columns.items()},
        copy=False,
    )


_EMPTY = {
    "user_id": np.empty(0, object),
    "item": np.empty(0, np.int32),
    "interaction_type": np.empty(0, object),
    "ts": np.empty(0, "datetime64[ns]"),
}


@dataclass
class _Skipped:
    """Rows skipped for one reason, and the first of them."""

    reason: str
    count: int = 0
    example: str = ""
    line: int = 0

    def add(self, bad: NDArray[np.bool_], values: pa.Array | NDArray[np.object_], start: int) -> None:
        """Count a chunk's `bad` rows (the chunk's first row is data row `start` of the file)."""
        if bad.any() and not self.count:
            first = int(np.argmax(bad))
            example = values[first]
            self.example = example.as_py() if isinstance(example, pa.Scalar) else example
            self.line = _line(start + first)
        self.count += int(bad.sum())


def _interactions(
    chunk: pa.RecordBatch,
    start: int,
    name: str,
    products: pd.Index,
    known_users: dict[str, str],
    types: Collection[str],
    skipped: dict[str, _Skipped],
) -> dict[str, np.ndarray]:
    """One chunk's columns (its first row is data row `start` of the file), checked and coded.

    Each column is coded through its distinct values, which repeat over millions of rows. A user
    id seen in an earlier chunk is the same string object as there (`known_users`): a user's rows
    spread over many chunks would otherwise hold a copy of the id in each.
    """
    users = _per_value(chunk.column("user_id"), lambda u: _interned([x.strip() for x in u], known_users))
    _reject_empty(users, name, "user_id", start)
    ts = _timestamps(chunk.column("ts"), name, start)
    kinds = _per_value(
        chunk.column("interaction_type"), lambda k: np.array([x.strip().lower() for x in k], object)
    )
    items = _per_value(chunk.column("product_id"), lambda p: products.get_indexer([x.strip() for x in p]))
    known_item = items >= 0
    known_kind = np.isin(kinds, list(types))
    skipped["product_id"].add(~known_item, chunk.column("product_id"), start)
    skipped["interaction_type"].add(~known_kind, kinds, start)
    keep = known_item & known_kind
    return {
        "user_id": users[keep],
        "item": items[keep].astype(np.int32),
        "interaction_type": kinds[keep],
        "ts": ts[keep],
    }


def _arrow_chunks(path: str | Path, required: tuple[str, ...], rows: int) -> Iterator[pa.RecordBatch]:
    """The `required` columns of the file as strings, `rows` rows at a time (gzip by its name)."""
    path = Path(path)
    header = _header(path, required)
    options = pa_csv.ConvertOptions(
        column_types={column: pa.string() for column in header},
        include_columns=[raw for raw in header if raw.strip() in required],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),  # a quoted value's line break
            convert_options=options,
        )
        for batch in reader:
            batch = batch.rename_columns([c.strip() for c in batch.schema.names])
            for offset in range(0, batch.num_rows, rows):
                yield batch.slice(offset, rows)
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path.name}: not a readable CSV file ({exc})") from None


def _header(path: Path, required: tuple[str, ...]) -> list[str]:
    """The file's column names as written, checked for the `required` ones."""
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 20)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path.name}: not a readable CSV file ({exc})") from None
    if not head.strip():
        raise DataError(f"{path.name}: the file is empty (expected a header: {','.join(required)})")
    try:
        first = next(csv.reader(io.StringIO(head.decode("utf-8-sig").splitlines()[0])))
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise DataError(f"{path.name}: not a readable CSV file ({exc})") from None
    _checked(pd.DataFrame(columns=first), path.name, required)
    return first


def _timestamps(raw: pa.Array, name: str, start: int) -> NDArray[np.datetime64]:
    """ISO 8601 times as naive UTC: by Arrow when the chunk's times are all naive or all with a
    zone, else (a mix, or a bad one: its line) by pandas."""
    trimmed = pc.utf8_trim_whitespace(raw)
    for kind in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC")):
        try:
            return pc.cast(trimmed, kind).cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            continue
    ts = _parse_timestamps(pd.Series(raw.to_pylist(), dtype=object), name, start)
    return ts.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def _read_csv(path: str | Path, required: tuple[str, ...]) -> pd.DataFrame:
    """The whole file as one frame of strings (a header alone: an empty frame)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty (expected a header: {','.join(required)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not a readable CSV file ({exc})") from None
    return _checked(frame, path.name, required)


def _checked(frame: pd.DataFrame, name: str, required: tuple[str, ...]) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name} line 1: missing column(s) {', '.join(missing)}; "
            f"the header must contain {','.join(required)}"
        )
    return frame


def _per_value(column: pa.Array, change: Callable[[list[str]], ArrayLike]) -> np.ndarray:
    """change() applied to each distinct value once: ids and types repeat over millions of rows."""
    coded = pc.dictionary_encode(column)
    return np.asarray(change(coded.dictionary.to_pylist()))[coded.indices.to_numpy(zero_copy_only=False)]


def _interned(strings: list[str], known: dict[str, str]) -> NDArray[np.object_]:
    """The strings as an object array, each the string first seen equal to it (remembered in `known`)."""
    return np.fromiter(map(known.setdefault, strings, strings), dtype=object, count=len(strings))


def _parse_timestamps(raw: pd.Series, name: str, start: int = 0) -> pd.Series:
    ts = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
    if ts.isna().any():  # perhaps only spaces around some values: strip (slow on millions) and retry
        ts = pd.to_datetime(raw.str.strip(), format="ISO8601", utc=True, errors="coerce")
    bad = ts.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name} line {_line(start + row)}, column ts: {raw.iloc[row]!r} is not an ISO 8601 time "
            "(e.g. 2024-03-01T14:05:00)"
        )
    return ts


def _reject_empty(values: pd.Series | NDArray[np.object_], name: str, column: str, start: int = 0) -> None:
    empty = np.asarray(values == "")
    if empty.any():
        raise DataError(
            f"{name} line {_line(start + int(np.flatnonzero(empty)[0]))}, column {column}: empty {column}"
        )


def _line(row: int) -> int:
    """File line of a data row: the header is line 1."""
    return row + 2
