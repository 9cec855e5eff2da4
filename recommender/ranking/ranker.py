"""A learned ranker over the candidates: gradient-boosted trees trained on the store's own past.

It learns from training windows of the store's past (recommender/ranking/windows.py).
The latest window is held out: the objectives (binary and lambdarank) are trained on the older
ones and compared there by NDCG@10, against the untrained blend of the same candidates. Binary is
kept unless lambdarank is clearly better there (see _choose); the choice is kept only if it beats
the blend, and is then trained once more on every window.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray

from recommender.ranking.config import RankerConfig
from recommender.ranking.features import NAMES
from recommender.ranking.windows import Window, sample

log = logging.getLogger(__name__)

K = 10  # the list length the objectives are compared at


def build_threads() -> int:
    """LightGBM's threads for a build: every core (0) when the build is all the process does (a
    start, the command line); one beside other threads (a reload in a serving worker), where
    OpenMP's spinning threads would slow the answers."""
    alone = threading.current_thread() is threading.main_thread() and threading.active_count() == 1
    return 0 if alone else 1


@dataclass
class Ranker:
    """A trained booster and how it was chosen."""

    booster: lgb.Booster
    objective: str
    report: dict = field(default_factory=dict)

    def score(self, x: NDArray[np.float32], threads: int = 1) -> NDArray[np.float32]:
        """The ranker's score of each row of features, in (0, 1); `threads` 0: every core."""
        if len(x) == 0:
            return np.empty(0, np.float32)
        raw = self.booster.predict(x, raw_score=True, num_threads=threads)
        return (1.0 / (1.0 + np.exp(-raw))).astype(np.float32)  # in (0, 1), in the same order

    def importance(self) -> dict[str, float]:
        """Each feature's share of the total gain, largest first."""
        gain = self.booster.feature_importance("gain")
        total = float(gain.sum()) or 1.0
        ranked = sorted(zip(NAMES, gain, strict=True), key=lambda kv: -kv[1])
        return {name: round(float(g) / total, 4) for name, g in ranked}


def ndcg(scores: NDArray[np.floating], window: Window, k: int = K) -> float:
    """Mean NDCG@k over the window's users of the order `scores` gives each user's candidates."""
    return float(np.mean(ndcg_per_user(scores, window, k)))


def ndcg_per_user(scores: NDArray[np.floating], window: Window, k: int = K) -> NDArray[np.float64]:
    """NDCG@k of each of the window's users for the order `scores` gives their candidates."""
    n_users = len(window.groups)
    rows = np.repeat(np.arange(n_users), window.groups)
    order = np.lexsort((-scores, rows))
    starts = np.cumsum(window.groups) - window.groups
    rank = np.empty(len(rows), np.int64)
    rank[order] = np.arange(len(rows)) - np.repeat(starts, window.groups)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    top = (rank < k) & (window.y > 0)
    dcg = np.bincount(rows[top], weights=discounts[rank[top]], minlength=n_users)
    ideal = np.cumsum(discounts)[np.minimum(window.truth, k) - 1]
    return dcg / ideal


def train(windows: list[Window], config: RankerConfig) -> tuple[Ranker | None, str]:
    """Choose an objective on the latest window and train it on every window; or say why not."""
    windows = sorted(windows, key=lambda w: w.at)
    if len(windows) < 2:
        return None, f"{len(windows)} usable training window(s); at least 2 are needed"
    held_out = windows[-1]
    # Choose on windows whose labels end before the held-out window starts: no overlap with it.
    older = [w for w in windows[:-1] if w.end <= held_out.at]
    if not older:
        return None, "no training window ends before the latest one; the log is too short"
    baseline = ndcg(held_out.blend, held_out)
    trials: dict[str, tuple[float, int]] = {}
    per_user: dict[str, NDArray[np.float64]] = {}
    for objective in config.objectives:
        started = time.perf_counter()
        booster = _fit(older, objective, config, valid=held_out)
        per_user[objective] = ndcg_per_user(booster.predict(held_out.x, raw_score=True), held_out)
        score = float(per_user[objective].mean())
        trials[objective] = (score, max(booster.best_iteration, 1))
        log.info(
            "ranker %s: NDCG@%d %.4f on the held-out window (blend %.4f), %d rounds, %.1f s",
            objective,
            K,
            score,
            baseline,
            trials[objective][1],
            time.perf_counter() - started,
        )
    objective = _choose(per_user)
    score, rounds = trials[objective]
    report = {
        "windows": [str(w.at)[:10] for w in windows],
        "pairs": int(sum(len(w.y) for w in windows)),
        "held_out_ndcg": {name: round(s, 4) for name, (s, _) in trials.items()},
        "held_out_blend_ndcg": round(baseline, 4),
        "objective": objective,
        "rounds": rounds,
    }
    if score <= baseline:
        return None, (
            f"the ranker ({objective}, NDCG@{K} {score:.4f}) did not beat the untrained blend "
            f"({baseline:.4f}) on the latest window held out from training"
        )
    latest = sample(held_out, config.negatives, np.random.default_rng(config.seed))
    booster = _fit([*windows[:-1], latest], objective, config, rounds=rounds)
    return Ranker(booster, objective, report), "trained"


def _choose(per_user: dict[str, NDArray[np.float64]]) -> str:
    """The first objective, unless another does better on the held-out users by more than twice
    the standard error of the paired difference: one window's users are few, and a close call
    is noise."""
    names = list(per_user)
    best = names[0]
    for other in names[1:]:
        gain = per_user[other] - per_user[best]
        error = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else np.inf
        if gain.mean() > 2 * error:
            best = other
    return best


def _fit(
    windows: list[Window],
    objective: str,
    config: RankerConfig,
    valid: Window | None = None,
    rounds: int | None = None,
) -> lgb.Booster:
    params = {
        "objective": objective,
        "learning_rate": config.learning_rate,
        "num_leaves": config.leaves,
        "min_data_in_leaf": config.min_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "metric": "ndcg",
        "eval_at": [K],
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": build_threads(),
        "verbose": -1,
    }
    train_set = lgb.Dataset(
        np.vstack([w.x for w in windows]),
        np.concatenate([w.y for w in windows]),
        group=np.concatenate([w.groups for w in windows]),
        feature_name=list(NAMES),
        free_raw_data=True,
    )
    if valid is None:
        return lgb.train(params, train_set, num_boost_round=rounds or config.rounds)
    valid_set = lgb.Dataset(valid.x, valid.y, group=valid.groups, reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=config.rounds,
        valid_sets=[valid_set],
        callbacks=[_stop_early(config.min_rounds, config.patience)],
    )


def _stop_early(at_least: int, patience: int):  # type: ignore[no-untyped-def]
    """LightGBM's early stopping, except that the best round is looked for from round `at_least`
    on: the held-out NDCG of the first few rounds jumps about, and a lucky early peak once stopped
    a ranker at 5 rounds (a ranker that has barely learnt, then refused for losing to the blend)."""
    best = {"score": -np.inf, "round": at_least - 1, "results": []}

    def callback(env: lgb.callback.CallbackEnv) -> None:
        results = env.evaluation_result_list or []
        score = results[0][2] if results else 0.0
        if env.iteration + 1 >= at_least and score > best["score"]:
            best.update(score=score, round=env.iteration, results=results)
        last = env.iteration == env.end_iteration - 1
        if last or (env.iteration + 1 >= at_least and env.iteration - best["round"] >= patience):
            if not best["results"]:  # fewer rounds in all than at_least: the last one
                raise lgb.callback.EarlyStopException(env.iteration, results)
            raise lgb.callback.EarlyStopException(best["round"], best["results"])

    callback.order = 30  # type: ignore[attr-defined]  # after the evaluation, as LightGBM's own
    return callback
