"""Fitted models on disk: one folder per model version, arrays as .npy files that load memory-mapped.

    artifacts/<version>/meta.json       version, settings, sizes, when and how fast it was built
    artifacts/<version>/*.npy           neighbour tables, popularity, histories, ids and titles,
                                        the ranked strategy's sources, statistics and lists
    artifacts/<version>/ranker.txt      the trained ranker (LightGBM's text format), if one was trained

A version is a digest of the input files and the settings, so a folder is never stale: changed
inputs make a new version. Workers that load the same folder share its pages through the OS page
cache instead of each holding a copy.

save() and load() name the same arrays, so they stay side by side in one module (about 300 lines).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.data_loader import Catalog
from recommender.data.history import UserHistory
from recommender.data.recent import RecentEvents
from recommender.data.snapshot import ItemStats
from recommender.memory import release_freed
from recommender.models.collaborative import ItemItemModel
from recommender.models.content_based import ContentConfig, TextSpace
from recommender.models.lists_on_disk import ListsOnDisk
from recommender.models.neighbours import Neighbours, UserLists
from recommender.models.popularity import Popularity
from recommender.ranking.candidates import PERSONAL, Sources
from recommender.ranking.features import ProductFacts
from recommender.ranking.ranked import RankedModel
from recommender.ranking.ranker import Ranker
from recommender.serving.fitting import MODEL_FORMAT, ModelSettings, model_version
from recommender.serving.service import Recommender
from recommender.storage.inputs import StoreInputs

log = logging.getLogger(__name__)


def load_or_build(inputs: StoreInputs, settings: ModelSettings, directory: str | Path | None) -> Recommender:
    """The model of these inputs: from `directory` if it was built before, else built, saved, and
    then loaded from what was saved.

    A model served from its files is mapped pages that the workers share and the system can drop,
    as after any later start. The built one would stay in the master's memory (most of the build's
    peak), and each worker would copy the pages it writes to.
    """
    version = model_version(inputs, settings)
    if directory is None:
        return Recommender.from_inputs(inputs, settings, version)
    folder = Path(directory) / version
    if not (folder / "meta.json").exists():
        save(Recommender.from_inputs(inputs, settings, version), directory)
        gc.collect()  # the built model refers to itself: only the collector lets it go
        release_freed()  # and its memory goes back to the system before the saved one is mapped
    started = time.perf_counter()
    model = load(folder)
    log.info("model %s loaded from %s in %.1f s", version, folder, time.perf_counter() - started)
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
            **(ranked_arrays(model) if model.ranked is not None else {}),
            "prices": model.catalog.prices,
            **(recent_arrays(model.history.recent) if model.history.recent is not None else {}),
            **(text_arrays(model.text) if model.text is not None else {}),
        }
        on_disk = _files_of(model.user_text, "user_text")
        for name, array in arrays.items():
            if name in on_disk:  # written to disk by the build: copied rather than read into memory
                shutil.copyfile(on_disk[name], work / f"{name}.npy")
            else:
                np.save(work / f"{name}.npy", np.ascontiguousarray(array))
        _save_strings(work, "product_ids", model.catalog.product_ids)
        _save_strings(work, "titles", model.catalog.titles)
        _save_strings(work, "categories", model.catalog.categories)
        _save_strings(work, "img_urls", model.catalog.img_urls)
        _save_strings(work, "user_ids", list(model.history.user_index))
        if model.text is not None:
            _save_strings(work, "text_terms", model.text.terms)
        meta = {
            "format": MODEL_FORMAT,
            "version": model.version,
            "settings": asdict(model.settings),
            "products": len(model.catalog),
            "users": model.history.n_users,
            "feedback_last_id": model.feedback_last_id,
            "catalog_last_id": model.catalog_last_id,
            "built": model.built,
            "ranker": ranker_meta(model),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=2))
        if model.ranked is not None:
            (work / "ranker.txt").write_text(model.ranked.ranker.booster.model_to_string())
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


def _files_of(lists: UserLists, name: str) -> dict[str, Path]:
    """The .npy files of lists the build wrote to disk (ListsOnDisk), by the names save() gives
    its arrays; none for lists in memory, or whose files are gone."""
    if not isinstance(lists, ListsOnDisk):
        return {}
    files = {f"{name}_{part}": path for part, path in lists.files.items()}
    return files if all(path.exists() for path in files.values()) else {}


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
        categories=np.array(_load_strings(folder, "categories"), dtype=object),
        descriptions=np.empty(0, dtype=object),  # only the text model's fit reads these
        index={pid: i for i, pid in enumerate(product_ids)},
        prices=array("prices"),
        img_urls=np.array(_load_strings(folder, "img_urls"), dtype=object),
    )
    users = _load_strings(folder, "user_ids")
    matrix = sp.csr_matrix(
        (array("history_data"), array("history_indices"), array("history_indptr")),
        shape=(len(users), len(catalog)),
        copy=False,
    )
    settings = ModelSettings(**meta["settings"])
    recent = None
    if (folder / "recent_indptr.npy").exists():
        names = list(settings.interaction_weights)
        recent = RecentEvents(*(array(f"recent_{n}") for n in ("indptr", "items", "kinds", "times")), names)
    history = UserHistory({u: i for i, u in enumerate(users)}, matrix, array("history_last_item"), recent)
    similar = Neighbours(array("similar_indices"), array("similar_scores"))
    collaborative = Neighbours(array("collaborative_indices"), array("collaborative_scores"))
    user_cf = UserLists(Neighbours(array("user_cf_indices"), array("user_cf_scores")))
    user_text = UserLists(Neighbours(array("user_text_indices"), array("user_text_scores")))
    shared = {"collaborative": user_cf, "text": user_text}
    model = Recommender(
        catalog,
        history,
        settings,
        similar_items=similar,
        collaborative=ItemItemModel(neighbours=collaborative),
        popularity=Popularity(array("popularity_order"), array("popularity_scores")),
        user_cf=user_cf,
        user_text=user_text,
        user_hybrid=UserLists(Neighbours(array("user_hybrid_indices"), array("user_hybrid_scores"))),
        ranked=load_ranked(folder, array, meta["ranker"], similar, collaborative, shared),
        ranker_reason=meta["ranker"]["reason"],
        version=meta["version"],
        text=load_text(folder, array, settings) if (folder / "text_idf.npy").exists() else None,
    )
    model.feedback.last_id = model.feedback_last_id = meta["feedback_last_id"]
    model.catalog_last_id = meta.get("catalog_last_id", 0)
    model.built = meta.get("built", {})
    return model


def recent_arrays(recent: RecentEvents) -> dict[str, NDArray]:
    return {f"recent_{n}": getattr(recent, n) for n in ("indptr", "items", "kinds", "times")}


def text_arrays(text: TextSpace) -> dict[str, NDArray]:
    vectors = text.vectors
    return {
        "text_indptr": vectors.indptr,
        "text_indices": vectors.indices,
        "text_data": vectors.data,
        "text_idf": text.idf,
    }


def load_text(folder: Path, array, settings: ModelSettings) -> TextSpace:  # type: ignore[no-untyped-def]
    """The text space; its vocabulary is read now, the vectorizer made when first needed."""
    terms = _load_strings(folder, "text_terms")
    idf = array("text_idf")
    shape = (len(array("prices")), max(len(idf), 1))
    vectors = sp.csr_matrix(
        (array("text_data"), array("text_indices"), array("text_indptr")), shape=shape, copy=False
    )
    return TextSpace(vectors, terms, idf, ContentConfig(neighbours=settings.neighbours))


def ranked_arrays(model: Recommender) -> dict[str, NDArray]:
    """The ranked strategy's arrays, less what it shares with the model (its text and
    collaborative tables, and the user lists that are the model's own)."""
    ranked = model.ranked
    assert ranked is not None and ranked.lists is not None
    sources, items = ranked.sources, ranked.items
    shared = _shared_lists(model)
    own = {name: lists for name, lists in ranked.personal.items() if lists is not shared.get(name)}
    return {
        "ranked_new_indices": sources.new.indices,
        "ranked_new_scores": sources.new.scores,
        "ranked_trending_items": sources.trending[0],
        "ranked_trending_scores": sources.trending[1],
        "ranked_popular_items": sources.popular[0],
        "ranked_popular_scores": sources.popular[1],
        "item_age_days": items.age_days,
        "item_users": items.users,
        "item_recent_users": items.recent_users,
        "item_trend": items.trend,
        "product_category": ranked.products.category,
        "product_log_price": ranked.products.log_price,
        "user_events": ranked.events,
        "user_idle_days": ranked.idle_days,
        "user_ranked_indices": ranked.lists.table.indices,
        "user_ranked_scores": ranked.lists.table.scores,
        **{f"ranked_user_{name}_indices": lists.table.indices for name, lists in own.items()},
        **{f"ranked_user_{name}_scores": lists.table.scores for name, lists in own.items()},
    }


def _shared_lists(model: Recommender) -> dict[str, UserLists]:
    """The model's user lists that the ranked strategy may share, by the name of its source
    (service.fit hands the same ones to fit_ranked)."""
    return {"collaborative": model.user_cf, "text": model.user_text}


def ranker_meta(model: Recommender) -> dict:
    """Whether a ranker was trained and why not, how it was chosen, and the log's length it saw."""
    ranked = model.ranked
    if ranked is None:
        return {"trained": False, "reason": model.ranker_reason}
    report = ranked.ranker.report
    return {
        "trained": True,
        "reason": "trained",
        "objective": ranked.ranker.objective,
        "report": report,
        "log_days": ranked.items.log_days,
    }


def load_ranked(
    folder: Path, array, meta: dict, text: Neighbours, collaborative: Neighbours, shared: dict[str, UserLists]
) -> RankedModel | None:  # type: ignore[no-untyped-def]
    """The ranked strategy of a saved model (None if it had no ranker); its personal lists saved
    with it, or else the model's own lists it shared (`shared`, by source name)."""
    if not meta["trained"]:
        return None
    booster = lgb.Booster(model_str=(folder / "ranker.txt").read_text())
    ranker = Ranker(booster, meta["objective"], meta["report"])
    sources = Sources(
        text=text,
        collaborative=collaborative,
        new=Neighbours(array("ranked_new_indices"), array("ranked_new_scores")),
        trending=(array("ranked_trending_items"), array("ranked_trending_scores")),
        popular=(array("ranked_popular_items"), array("ranked_popular_scores")),
    )
    items = ItemStats(
        array("item_age_days"),
        array("item_users"),
        array("item_recent_users"),
        array("item_trend"),
        meta["log_days"],
    )
    return RankedModel(
        sources=sources,
        items=items,
        products=ProductFacts(array("product_category"), array("product_log_price")),
        events=array("user_events"),
        idle_days=array("user_idle_days"),
        ranker=ranker,
        personal={
            name: UserLists(
                Neighbours(array(f"ranked_user_{name}_indices"), array(f"ranked_user_{name}_scores"))
            )
            if (folder / f"ranked_user_{name}_indices.npy").exists()
            else shared[name]
            for name in PERSONAL
        },
        lists=UserLists(Neighbours(array("user_ranked_indices"), array("user_ranked_scores"))),
    )


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
