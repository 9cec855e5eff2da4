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

The players (the service, its strategies, the peers) and the store's log are in players.py.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender.evaluation.metrics import ranking_metrics
from recommender.evaluation.players import Player, Popular, Service, Store, Strategy, eases

# Every basket; shoppers known at the cutoff; shoppers new since; new shoppers' first baskets.
SEGMENTS = ("all", "known", "new", "first")


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
    ranker: bool = True,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> ReplayRun:
    """The service (with ranker seeds 0..seeds-1, the mean reported) and the peers over `days` days;
    `ranker=False` builds the service without its ranker (the setting RANKER=false)."""
    store = Store.read(products_csv, interactions_csv, cutoff, days)
    n_items = len(store.products)
    launched = store.launched
    seeded: list[dict[str, Score]] = []
    rankers: list[dict[str, object]] = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory(prefix="replay-") as folder:
            started = time.perf_counter()
            service = Service(store, Path(folder), seed, rebuild_every, ranker)
            seconds = time.perf_counter() - started
            progress(f"replay: the service built at {cutoff} (seed {seed}) in {seconds:.1f} s")
            players: list[Player] = [service]
            if seed == 0:  # the strategies the default falls back to (the ranker's seed does not change them)
                players += [Strategy(service, name) for name in strategies]
            if peers and seed == 0:
                popular = Popular(store)
                players += [popular, *eases(store, popular, k, progress)]
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


def mean_over_seeds(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each segment's metrics as their mean over the seeds, with NDCG's lowest and highest."""
    out: dict[str, dict[str, float]] = {}
    for segment in SEGMENTS:
        figures = [run[segment] for run in per_seed]
        out[segment] = {m: float(np.mean([f[m] for f in figures])) for m in figures[0]}
        ndcgs = [f["ndcg"] for f in figures]
        out[segment] |= {"ndcg_min": min(ndcgs), "ndcg_max": max(ndcgs)}
    return out
