"""Replay: the days after a cutoff played through the service as a live store lives them.

    python -m recommender.evaluate --products P.csv --interactions I.csv --cutoff 2011-07-01 --replay 31

The service is built from what the store knew at the cutoff (the products first taken before it,
products never taken, and the interactions before it) and answers through its own routes, in
process: the app gunicorn serves, called with Flask's test client, so the live catalog, the feedback
overlay and the shelf are the ones in production. Day by day, the products first taken that day are
added with `PUT /products` at the day's start; each basket (one shopper's events at one time) is
first asked for with `GET /recommend/user`, then posted event by event to `POST /feedback`. With
`rebuild_every`, `POST /admin/reload` rebuilds the models every that many days, as a scheduled
rebuild would.

Peers live the same days: EASE fitted at the cutoff with each shopper's events folded in as they
come (filled up with the peer below when it has fewer than k products to offer, as a new shopper's
first basket), and the best sellers of the 30 days before each day. Per basket: NDCG@k on the
products new to that shopper, for shoppers known at the cutoff and new ones apart; hits on products
launched in the period; answers holding a product the shopper had taken (a bug if ever above 0).

This module imports the web app (`app.create_app`) when a replay runs: what it measures is the
service as served, not the library beneath it.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.evaluation import baselines
from recommender.evaluation.metrics import ranking_metrics

POPULAR_DAYS = 30  # the popularity peer's window
EASE_LAMBDAS = (100.0, 500.0, 2000.0)  # tried on catalogs up to EASE_GRID_MAX_ITEMS; the best is kept
EASE_GRID_MAX_ITEMS = 5_000
EASE_LAMBDA = 500.0  # larger catalogs: one fit (the static evaluations' grids are flat around it)
ADMIN_TOKEN = "replay"  # of the replayed service, which listens nowhere
# Every basket; shoppers known at the cutoff; shoppers new since; new shoppers' first baskets.
SEGMENTS = ("all", "known", "new", "first")


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


@dataclass
class Score:
    """What one player offered before each basket, and what the basket held that was new."""

    answers: list[NDArray[np.int32]] = field(default_factory=list)
    truths: list[NDArray[np.int32]] = field(default_factory=list)
    segment: list[str] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    owned_answers: int = 0

    def metrics(
        self, k: int, n_items: int, launched: NDArray[np.bool_], which: str = "all"
    ) -> dict[str, float]:
        wanted = {"all": ("known", "new", "first"), "new": ("new", "first")}.get(which, (which,))
        keep = [i for i, s in enumerate(self.segment) if s in wanted]
        if not keep:
            return {"ndcg": float("nan"), "baskets": 0, "launched_hits": 0}
        answers = [self.answers[i] for i in keep]
        truths = [self.truths[i] for i in keep]
        figures = ranking_metrics(answers, truths, k, n_items)
        hits = sum(
            int(launched[np.intersect1d(a[:k], t)].sum()) for a, t in zip(answers, truths, strict=True)
        )
        return {**figures, "baskets": len(keep), "launched_hits": hits}

    def daily(self, k: int, n_items: int, days: int) -> list[float]:
        """Mean NDCG@k of each day's baskets (NaN on a day without any)."""
        out = []
        for day in range(days):
            keep = [i for i, d in enumerate(self.day) if d == day]
            answers = [self.answers[i] for i in keep]
            truths = [self.truths[i] for i in keep]
            out.append(ranking_metrics(answers, truths, k, n_items)["ndcg"] if keep else float("nan"))
        return out


def play(
    store: Store,
    players: list[Player],
    k: int,
    progress: Callable[[str], None],
    each_day: Callable[[pd.Timestamp], None] = lambda day: None,
) -> dict[str, Score]:
    """Every basket of the period, in time order: each player answers, then learns what was taken."""
    owned: dict[str, set[int]] = {}
    for user, items in store.train.groupby("user_id")["item"]:
        owned[str(user)] = set(items.tolist())
    known_users = set(owned)
    scores = {p.name: Score() for p in players}
    period = store.period
    days = (store.end - store.cutoff).days
    started = time.perf_counter()
    for day_number in range(days):
        day = store.cutoff + pd.Timedelta(days=day_number)
        each_day(day)
        launched = store.launched_on(day)
        for player in players:
            player.start_day(day, launched)
        today = period[(period["ts"] >= day) & (period["ts"] < day + pd.Timedelta(days=1))]
        for (user, _), rows in today.groupby(["user_id", "ts"], sort=False):
            have = owned.setdefault(str(user), set())
            taken = set(rows["item"].tolist())
            new = np.array(sorted(taken - have), np.int32)
            segment = "known" if user in known_users else "new" if have else "first"
            for player in players:
                answer = player.answer(str(user), have, k)
                score = scores[player.name]
                score.owned_answers += any(int(i) in have for i in answer)
                if len(new):
                    score.answers.append(answer)
                    score.truths.append(new)
                    score.segment.append(segment)
                    score.day.append(day_number)
            for player in players:
                player.took(str(user), rows)
            have |= taken
        progress(
            f"replay {day.date()}: {len(today)} events, {len(launched)} launched "
            f"({time.perf_counter() - started:.0f} s)"
        )
    return scores


class Service:
    """The service itself, built at the cutoff and spoken to over its routes (in process)."""

    name = "service"

    def __init__(self, store: Store, folder: Path, seed: int, rebuild_every: int | None) -> None:
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
        self.columns = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() > 0)
        if len(self.columns) > baselines.EASE_MAX_ITEMS:  # the most taken only
            counts = np.asarray(matrix.sum(axis=0)).ravel()
            self.columns = np.sort(np.argsort(-counts, kind="stable")[: baselines.EASE_MAX_ITEMS])
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


@dataclass
class ReplayRun:
    """A replay's figures: per player and segment, the day-by-day curve, and facts."""

    rows: dict[str, dict[str, dict[str, float]]]  # player -> segment -> metrics
    daily: dict[str, list[float]]
    owned_answers: dict[str, int]
    facts: dict[str, object]


def replay(
    products_csv: str | Path,
    interactions_csv: str | Path,
    cutoff: str,
    days: int,
    k: int = 10,
    seeds: int = 1,
    rebuild_every: int | None = None,
    peers: bool = True,
    strategies: tuple[str, ...] = ("collaborative", "hybrid"),
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> ReplayRun:
    """The service (with ranker seeds 0..seeds-1, the mean reported) and the peers over `days` days."""
    store = Store.read(products_csv, interactions_csv, cutoff, days)
    n_items = len(store.products)
    launched = store.launched
    seeded: list[dict[str, Score]] = []
    rankers: list[dict[str, object]] = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory(prefix="replay-") as folder:
            started = time.perf_counter()
            service = Service(store, Path(folder), seed, rebuild_every)
            seconds = time.perf_counter() - started
            progress(f"replay: the service built at {cutoff} (seed {seed}) in {seconds:.1f} s")
            players: list[Player] = [service]
            if seed == 0:  # the strategies the default falls back to (the ranker's seed does not change them)
                players += [Strategy(service, name) for name in strategies]
            if peers and seed == 0:
                popular = Popular(store)
                players += [popular, *_eases(store, popular, k, progress)]
            seeded.append(play(store, players, k, progress))
            rankers.append(service.ranker)
        if not service.ranker["trained"]:  # every seed would build the same model
            progress(f"replay: no ranker at {cutoff} ({service.ranker['reason']}): one seed is enough")
            break
    seeds = len(seeded)
    scores = {name: score for name, score in seeded[0].items() if name != "service" or seeds == 1}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, score in scores.items():
        rows[name] = {s: score.metrics(k, n_items, launched, s) for s in SEGMENTS}
    daily = {name: score.daily(k, n_items, days) for name, score in scores.items()}
    owned = {name: score.owned_answers for name, score in scores.items()}
    if seeds > 1:
        per_seed = [{s: run["service"].metrics(k, n_items, launched, s) for s in SEGMENTS} for run in seeded]
        rows = {"service": mean_over_seeds(per_seed), **rows}
        curves = np.array([run["service"].daily(k, n_items, days) for run in seeded])
        daily = {"service": np.nanmean(curves, axis=0).tolist() if curves.size else [], **daily}
        owned = {"service": sum(run["service"].owned_answers for run in seeded), **owned}
    service_score = seeded[0]["service"]
    facts: dict[str, object] = {
        "cutoff": cutoff,
        "days": days,
        "k": k,
        "seeds": seeds,
        "rebuild_every": rebuild_every,
        "ranker_by_seed": rankers,
        "products_at_cutoff": int(store.known.sum()),
        "launched": int(launched.sum()),
        "events": len(store.period),
        "baskets": len(service_score.segment),
        "known_baskets": service_score.segment.count("known"),
        "new_baskets": len(service_score.segment) - service_score.segment.count("known"),
        "first_baskets": service_score.segment.count("first"),
    }
    return ReplayRun(rows, daily, owned, facts)


def _eases(store: Store, popular: Popular, k: int, progress: Callable[[str], None]) -> list[Player]:
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


def mean_over_seeds(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each segment's metrics as their mean over the seeds, with NDCG's lowest and highest."""
    out: dict[str, dict[str, float]] = {}
    for segment in SEGMENTS:
        figures = [run[segment] for run in per_seed]
        out[segment] = {m: float(np.mean([f[m] for f in figures])) for m in figures[0]}
        ndcgs = [f["ndcg"] for f in figures]
        out[segment] |= {"ndcg_min": min(ndcgs), "ndcg_max": max(ndcgs)}
    return out
