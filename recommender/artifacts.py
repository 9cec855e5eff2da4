"""Fitted models on disk: one folder per model version, arrays as .npy files that load memory-mapped.

    artifacts/<version>/meta.json       version, settings, sizes, when and how fast it was built
    artifacts/<version>/*.npy           neighbour tables, popularity, histories, ids and titles

A version is a digest of the input files and the settings, so a folder is never stale: changed
inputs make a new version. Workers that load the same folder share its pages through the OS page
cache instead of each holding a copy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.collaborative import ItemItemModel
from recommender.data_loader import Catalog
from recommender.history import UserHistory
from recommender.neighbours import Neighbours, UserLists
from recommender.popularity import Popularity
from recommender.service import MODEL_FORMAT, ModelSettings, Recommender, model_version

log = logging.getLogger(__name__)


def load_or_build(
    products_csv: str | Path,
    interactions_csv: str | Path,
    settings: ModelSettings,
    directory: str | Path | None,
) -> Recommender:
    """The model of these inputs: from `directory` if it was built before, else built (and saved)."""
    version = model_version(products_csv, interactions_csv, settings)
    if directory is not None:
        folder = Path(directory) / version
        if (folder / "meta.json").exists():
            started = time.perf_counter()
            model = load(folder)
            log.info("model %s loaded from %s in %.1f s", version, folder, time.perf_counter() - started)
            return model
    model = Recommender.from_csv(products_csv, interactions_csv, settings, version)
    if directory is not None:
        save(model, directory)
    return model


def save(model: Recommender, directory: str | Path) -> Path:
    """Write the model to directory/<version>/ (atomically: a half-written folder is never seen)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / model.version
    work = Path(tempfile.mkdtemp(prefix=f".{model.version}-", dir=directory))
    try:
        arrays = {
            "similar_indices": model.similar_items.indices,
            "similar_scores": model.similar_items.scores,
            "collaborative_indices": model.collaborative.neighbours.indices,
            "collaborative_scores": model.collaborative.neighbours.scores,
            "popularity_order": model.popularity.order,
            "popularity_scores": model.popularity.scores,
            "history_indptr": model.history.matrix.indptr,
            "history_indices": model.history.matrix.indices,
            "history_data": model.history.matrix.data,
            "history_last_item": model.history.last_item,
            "user_cf_indices": model.user_cf.table.indices,
            "user_cf_scores": model.user_cf.table.scores,
            "user_text_indices": model.user_text.table.indices,
            "user_text_scores": model.user_text.table.scores,
            "user_hybrid_indices": model.user_hybrid.table.indices,
            "user_hybrid_scores": model.user_hybrid.table.scores,
        }
        for name, array in arrays.items():
            np.save(work / f"{name}.npy", np.ascontiguousarray(array))
        _save_strings(work, "product_ids", model.catalog.product_ids)
        _save_strings(work, "titles", model.catalog.titles)
        _save_strings(work, "user_ids", list(model.history.user_index))
        meta = {
            "format": MODEL_FORMAT,
            "version": model.version,
            "settings": asdict(model.settings),
            "products": len(model.catalog),
            "users": model.history.n_users,
            "feedback_last_id": model.feedback_last_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=2))
        os.chmod(work, 0o755)
        try:
            work.rename(final)
        except OSError:  # another process saved the same version first: theirs is as good
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("model %s saved to %s", model.version, final)
    return final


def load(folder: str | Path) -> Recommender:
    """A Recommender from a folder written by save(); the big arrays stay memory-mapped."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"{folder}: artifact format {meta.get('format')}, this code reads {MODEL_FORMAT}")

    def array(name: str) -> NDArray:
        # A plain ndarray view of the mapping: shares its pages, without np.memmap's per-slice cost.
        return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))

    product_ids = np.array(_load_strings(folder, "product_ids"), dtype=object)
    catalog = Catalog(
        product_ids=product_ids,
        titles=np.array(_load_strings(folder, "titles"), dtype=object),
        categories=np.empty(0, dtype=object),  # only the text model's fit reads these
        descriptions=np.empty(0, dtype=object),
        index={pid: i for i, pid in enumerate(product_ids)},
    )
    users = _load_strings(folder, "user_ids")
    matrix = sp.csr_matrix(
        (array("history_data"), array("history_indices"), array("history_indptr")),
        shape=(len(users), len(catalog)),
        copy=False,
    )
    history = UserHistory({u: i for i, u in enumerate(users)}, matrix, array("history_last_item"))
    settings = ModelSettings(**meta["settings"])
    model = Recommender(
        catalog,
        history,
        settings,
        similar_items=Neighbours(array("similar_indices"), array("similar_scores")),
        collaborative=ItemItemModel(
            neighbours=Neighbours(array("collaborative_indices"), array("collaborative_scores"))
        ),
        popularity=Popularity(array("popularity_order"), array("popularity_scores")),
        user_cf=UserLists(Neighbours(array("user_cf_indices"), array("user_cf_scores"))),
        user_text=UserLists(Neighbours(array("user_text_indices"), array("user_text_scores"))),
        user_hybrid=UserLists(Neighbours(array("user_hybrid_indices"), array("user_hybrid_scores"))),
        version=meta["version"],
    )
    model.feedback.last_id = model.feedback_last_id = meta["feedback_last_id"]
    return model


def _save_strings(folder: Path, name: str, values) -> None:  # type: ignore[no-untyped-def]
    """Strings as one UTF-8 blob plus offsets: compact, and no pickle."""
    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    np.save(folder / f"{name}.npy", np.frombuffer(b"".join(encoded), dtype=np.uint8))
    np.save(folder / f"{name}_offsets.npy", offsets)


def _load_strings(folder: Path, name: str) -> list[str]:
    blob = np.load(folder / f"{name}.npy").tobytes()
    offsets = np.load(folder / f"{name}_offsets.npy").tolist()
    return [blob[a:b].decode() for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
