"""Who lives the replayed days: the store's log split at the cutoff, the service itself spoken to
over its routes, its own strategies, and the peers (EASE with histories folded in, recent best
sellers).

The Service player imports the web app (`app.create_app`): what a replay measures is the service as
served, not the library beneath it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.evaluation import baselines

POPULAR_DAYS = 30  # the popularity peer's window
EASE_LAMBDAS = (100.0, 500.0, 2000.0)  # tried on catalogs up to EASE_GRID_MAX_ITEMS; the best is kept
EASE_GRID_MAX_ITEMS = 5_000
EASE_LAMBDA = 500.0  # larger catalogs: one fit (the static evaluations' grids are flat around it)
ADMIN_TOKEN = "replay"  # of the replayed service, which listens nowhere


class Player(Protocol):
    """One recommender living the replayed days: asked before each basket, told after it."""

    name: str

    def start_day(self, day: pd.Timestamp, launched: list[int]) -> None: ...

    def answer(self, user: str, owned: set[int], k: int) -> NDArray[np.int32]: ...

    def took(self, user: str, rows: pd.DataFrame) -> None: ...


@dataclass
class Store:
    """A store's log, indexed by product, split at the cutoff."""

    products: pd.DataFrame  # the products CSV as strings
    events: pd.DataFrame  # user_id, product_id, interaction_type, ts, item (row in `products`)
    cutoff: pd.Timestamp
    end: pd.Timestamp
    first_taken: NDArray[np.datetime64]  # per product; NaT: never

    @classmethod
    def read(cls, products_csv: str | Path, interactions_csv: str | Path, cutoff: str, days: int) -> Store:
        products = pd.read_csv(products_csv, dtype=str, keep_default_na=False)
        products = products.drop_duplicates("product_id").reset_index(drop=True)
        events = pd.read_csv(interactions_csv, dtype=str, keep_default_na=False)
        events["ts"] = pd.to_datetime(events["ts"], format="ISO8601")
        index = pd.Index(products["product_id"])
        events["item"] = index.get_indexer(events["product_id"])
        events = events[events["item"] >= 0].sort_values("ts", kind="stable").reset_index(drop=True)
        first = events.groupby("item")["ts"].min()
        first_taken = np.full(len(products), np.datetime64("NaT"), "datetime64[ns]")
        first_taken[first.index.to_numpy()] = first.to_numpy()
        start = pd.Timestamp(cutoff)
        return cls(products, events, start, start + pd.Timedelta(days=days), first_taken)

    @property
    def known(self) -> NDArray[np.bool_]:
        """The catalog at the cutoff: products taken before it, and products never taken."""
        return ~(self.first_taken >= self.cutoff.to_datetime64())

    @property
    def train(self) -> pd.DataFrame:
        return self.events[self.events["ts"] < self.cutoff]

    @property
    def period(self) -> pd.DataFrame:
        return self.events[(self.events["ts"] >= self.cutoff) & (self.events["ts"] < self.end)]

    def launched_on(self, day: pd.Timestamp) -> list[int]:
        after = self.first_taken >= day.to_datetime64()
        return np.flatnonzero(
            after & (self.first_taken < (day + pd.Timedelta(days=1)).to_datetime64())
        ).tolist()

    @property
    def launched(self) -> NDArray[np.bool_]:
        return (self.first_taken >= self.cutoff.to_datetime64()) & (
            self.first_taken < self.end.to_datetime64()
        )


class Service:
    """The service itself, built at the cutoff and spoken to over its routes (in process)."""

    name = "service"

    def __init__(
        self, store: Store, folder: Path, seed: int, rebuild_every: int | None, ranker: bool = True
    ) -> None:
        from app import create_app  # the web layer: see the module's docstring
        from config import Config

        self.store = store
        self.rebuild_every = rebuild_every
        self.days = 0
        products = folder / "products.csv"
        interactions = folder / "interactions.csv"
        store.products[store.known].to_csv(products, index=False)
        columns = ["user_id", "product_id", "interaction_type", "ts"]
        store.train[columns].to_csv(interactions, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        config = Config(
            products_csv=str(products),
            interactions_csv=str(interactions),
            artifacts_dir=str(folder / "artifacts"),
            cache_enabled=False,
            ab_exposures=False,
            feedback_db=f"sqlite:///{folder / 'replay.db'}",
            admin_token=ADMIN_TOKEN,
            feedback_rate_limit=None,
            feedback_client_rate_limit=None,
            ranker=ranker,
            ranker_seed=seed,
        )
        logging.getLogger("recsys.request").setLevel(logging.WARNING)
        self.client = create_app(config).test_client()
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.ranker = self._ok(self.client.get("/health", headers=self.admin))["ranker"]
        self.index = pd.Index(store.products["product_id"])

    def start_day(self, day: pd.Timestamp, launched: list[int]) -> None:
        if self.rebuild_every and self.days and self.days % self.rebuild_every == 0:
            self._rebuild()
        self.days += 1
        for item in launched:
            row = self.store.products.iloc[item]
            body = {"title": row.get("title") or row["product_id"]}
            for name in ("category", "description", "img_url"):
                if row.get(name):
                    body[name] = row[name]
            if row.get("price"):
                body["price"] = float(row["price"])
            self._ok(
                self.client.put(
                    f"/products/{quote(row['product_id'], safe='')}", json=body, headers=self.admin
                )
            )

    def answer(self, user: str, owned: set[int], k: int, strategy: str | None = None) -> NDArray[np.int32]:
        url = f"/recommend/user/{quote(user, safe='')}?top_k={k}"
        answer = self._ok(self.client.get(url + (f"&strategy={strategy}" if strategy else "")))
        items = self.index.get_indexer([r["product_id"] for r in answer["results"]])
        return items[items >= 0].astype(np.int32)

    def took(self, user: str, rows: pd.DataFrame) -> None:
        for product, action, ts in zip(rows["product_id"], rows["interaction_type"], rows["ts"], strict=True):
            body = {"user_id": user, "product_id": product, "action": action, "ts": ts.isoformat()}
            self._ok(self.client.post("/feedback", json=body))

    def _rebuild(self) -> None:
        self._ok(self.client.post("/admin/reload", headers=self.admin))
        while True:
            status = self._ok(self.client.get("/admin/reload", headers=self.admin))["reload"]
            if status.get("state") != "running":
                break
            time.sleep(0.5)
        if status.get("state") == "failed":
            raise RuntimeError(f"the replayed service's rebuild failed: {status}")

    @staticmethod
    def _ok(response) -> dict:  # type: ignore[no-untyped-def]
        if response.status_code >= 300:
            raise RuntimeError(
                f"the replayed service answered {response.status_code}: {response.get_data(as_text=True)}"
            )
        return response.get_json()


class Strategy:
    """One of the service's own strategies, asked of the same running service (`strategy=`)."""

    def __init__(self, service: Service, strategy: str) -> None:
        self.name = f"service: {strategy}"
        self.service = service
        self.strategy = strategy

    def start_day(self, day: pd.Timestamp, launched: list[int]) -> None:
        pass

    def answer(self, user: str, owned: set[int], k: int) -> NDArray[np.int32]:
        return self.service.answer(user, owned, k, self.strategy)

    def took(self, user: str, rows: pd.DataFrame) -> None:
        pass  # the service player posts the basket


class Popular:
    """The best sellers of the last POPULAR_DAYS days, counted again at each day's start."""

    def __init__(self, store: Store, name: str = "popularity") -> None:
        self.name = name
        self.store = store
        self.recent: list[tuple[pd.Timestamp, NDArray[np.int64]]] = []
        self.order: list[int] = []

    def start_day(self, day: pd.Timestamp, launched: list[int]) -> None:
        since = day - pd.Timedelta(days=POPULAR_DAYS)
        events = self.store.events
        window = events[(events["ts"] >= since) & (events["ts"] < day)]
        counts = Counter(window["item"].tolist())
        self.order = [item for item, _ in counts.most_common()]

    def answer(self, user: str, owned: set[int], k: int) -> NDArray[np.int32]:
        return np.array(_first(self.order, owned, k), np.int32)

    def took(self, user: str, rows: pd.DataFrame) -> None:
        pass


class FoldedEase:
    """EASE fitted at the cutoff; a shopper's row grows with what they take during the replay."""

    name = "EASE"

    def __init__(self, store: Store, fill: Popular, regularization: float) -> None:
        train = store.train
        users = pd.Index(train["user_id"].unique())
        rows = users.get_indexer(train["user_id"])
        n_items = len(store.products)
        matrix = sp.csr_matrix(
            (np.ones(len(train)), (rows, train["item"].to_numpy())), shape=(len(users), n_items)
        )
        matrix.data[:] = 1.0
        self.columns = baselines.most_taken(matrix)
        self.weights = baselines.ease_weights(matrix[:, self.columns], regularization)
        self.position = {int(item): i for i, item in enumerate(self.columns)}
        self.fill = fill
        self.regularization = regularization

    def start_day(self, day: pd.Timestamp, launched: list[int]) -> None:
        pass

    def answer(self, user: str, owned: set[int], k: int) -> NDArray[np.int32]:
        known = [self.position[i] for i in owned if i in self.position]
        chosen: list[int] = []
        if known:
            scores = self.weights[known].sum(axis=0)
            scores[known] = -np.inf
            top = np.argsort(-scores, kind="stable")[: k + len(known)]
            chosen = [int(self.columns[i]) for i in top if np.isfinite(scores[i]) and scores[i] > 0][:k]
        if len(chosen) < k:
            chosen += _first(self.fill.order, owned | set(chosen), k - len(chosen))
        return np.array(chosen, np.int32)

    def took(self, user: str, rows: pd.DataFrame) -> None:
        pass  # the shopper's row is what they own: play() passes it to answer()


def _first(order: Iterable[int], owned: set[int], k: int) -> list[int]:
    out = []
    for item in order:
        if item not in owned:
            out.append(item)
            if len(out) == k:
                break
    return out


def eases(store: Store, popular: Popular, k: int, progress: Callable[[str], None]) -> list[Player]:
    """EASE at each regularization tried; the evaluation keeps the best (generous to the peer)."""
    n_items = int((store.first_taken < store.cutoff.to_datetime64()).sum())
    lambdas = EASE_LAMBDAS if n_items <= EASE_GRID_MAX_ITEMS else (EASE_LAMBDA,)
    out: list[Player] = []
    for lam in lambdas:
        started = time.perf_counter()
        ease = FoldedEase(store, popular, lam)
        ease.name = f"EASE lambda={lam:g}"
        progress(
            f"replay: {ease.name} over {len(ease.columns)} products in {time.perf_counter() - started:.1f} s"
        )
        out.append(ease)
    return out
