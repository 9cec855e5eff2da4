"""Users' lists written to disk a chunk at a time and mapped back."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from recommender.models.lists_on_disk import ListsOnDisk, ListsWriter
from recommender.models.neighbours import Neighbours


def chunk(first: int, rows: int, k: int) -> Neighbours:
    indices = np.arange(first * k, (first + rows) * k, dtype=np.int32).reshape(rows, k)
    return Neighbours(indices, indices.astype(np.float32) / 10)


def test_lists_written_a_chunk_at_a_time_read_back_as_written():
    writer = ListsWriter(5, 3)
    for start, stop in ((0, 2), (2, 4), (4, 5)):
        writer.write(slice(start, stop), chunk(start, stop - start, 3))
    lists = writer.lists()
    assert isinstance(lists, ListsOnDisk)
    whole = chunk(0, 5, 3)
    np.testing.assert_array_equal(lists.table.indices, whole.indices)
    np.testing.assert_array_equal(lists.table.scores, whole.scores)
    assert lists.table.indices.dtype == np.int32 and lists.table.scores.dtype == np.float32
    items, scores = lists.of(3, 2)
    assert items.tolist() == [9, 10] and scores.tolist() == pytest.approx([0.9, 1.0])
    assert not lists.table.indices.flags.writeable


def test_the_files_go_when_the_lists_do():
    writer = ListsWriter(2, 3)
    writer.write(slice(0, 2), chunk(0, 2, 3))
    lists = writer.lists()
    folder = lists.files["indices"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["indices.npy", "scores.npy"]
    del lists
    gc.collect()
    assert not folder.exists()


def test_lists_out_of_order_of_another_width_or_short_are_refused_and_removed():
    writer = ListsWriter(4, 3)
    with pytest.raises(ValueError, match="users 2-4 after 0"):
        writer.write(slice(2, 4), chunk(2, 2, 3))
    with pytest.raises(ValueError, match="width 3"):
        writer.write(slice(0, 2), chunk(0, 2, 4))
    writer.write(slice(0, 2), chunk(0, 2, 3))
    with pytest.raises(ValueError, match="2 users written, 4 expected"):
        writer.lists()
    assert not writer.folder.exists()


def test_a_discarded_writer_leaves_nothing():
    writer = ListsWriter(2, 3)
    writer.write(slice(0, 1), chunk(0, 1, 3))
    writer.discard()
    assert not writer.folder.exists()
