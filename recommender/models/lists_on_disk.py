"""Users' lists written to disk as a build makes them, then mapped back: lists the build has no
room to hold in memory beside everything else (a store with millions of users).

The lists go, a chunk of users at a time, into two .npy files in a temporary folder of their own
(under TMPDIR). Written with plain file writes, they wait in the OS page cache, not in the build's
memory; mapped back, they are read only where a request (or a save) reads them. The folder is
removed once the lists are no longer used, or when the process exits.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.models.neighbours import Neighbours, UserLists

_TYPES = {"indices": np.dtype(np.int32), "scores": np.dtype(np.float32)}


@dataclass(frozen=True)
class ListsOnDisk(UserLists):
    """UserLists whose table is mapped from the .npy files `files` ("indices", "scores"): a save
    copies those files rather than read the lists into memory."""

    files: dict[str, Path]


class ListsWriter:
    """Writes n_users lists of width k, a chunk of users at a time and in order (write()), then
    maps them back (lists()). Call discard() instead of lists() to give up."""

    def __init__(self, n_users: int, k: int) -> None:
        self.n_users, self.k, self.written = n_users, k, 0
        self.folder = Path(tempfile.mkdtemp(prefix="recsys-lists-"))
        self.paths = {name: self.folder / f"{name}.npy" for name in _TYPES}
        self.files = {name: open(path, "wb") for name, path in self.paths.items()}  # noqa: SIM115
        for name, dtype in _TYPES.items():
            descr = np.lib.format.dtype_to_descr(dtype)
            header = {"descr": descr, "fortran_order": False, "shape": (n_users, k)}
            np.lib.format.write_array_header_1_0(self.files[name], header)

    def write(self, rows: slice, lists: Neighbours) -> None:
        """The lists of users rows.start to rows.stop, the next users after those written so far."""
        if rows.start != self.written or lists.indices.shape != (rows.stop - rows.start, self.k):
            raise ValueError(f"lists of users {rows.start}-{rows.stop} after {self.written}, width {self.k}")
        self.files["indices"].write(np.ascontiguousarray(lists.indices, _TYPES["indices"]).tobytes())
        self.files["scores"].write(np.ascontiguousarray(lists.scores, _TYPES["scores"]).tobytes())
        self.written = rows.stop

    def lists(self) -> ListsOnDisk:
        """Every user's list, mapped from the files (all users must have been written)."""
        for file in self.files.values():
            file.close()
        if self.written != self.n_users:
            self.discard()
            raise ValueError(f"lists of {self.written} users written, {self.n_users} expected")
        # Plain ndarray views of the mappings: indexed per request without np.memmap's per-slice cost.
        table = Neighbours(
            np.asarray(np.load(self.paths["indices"], mmap_mode="r")),
            np.asarray(np.load(self.paths["scores"], mmap_mode="r")),
        )
        found = ListsOnDisk(table, dict(self.paths))
        # Removing the files leaves any mapping of them readable, so the folder may go before the arrays.
        weakref.finalize(found, shutil.rmtree, self.folder, True)
        return found

    def discard(self) -> None:
        """Close and remove the files."""
        for file in self.files.values():
            file.close()
        shutil.rmtree(self.folder, ignore_errors=True)
