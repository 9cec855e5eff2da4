"""The ranker's settings: its training windows, its boosting, and which stores it trains for.

Their own module: the windows (windows.py) and the ranker (ranker.py) both read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RankerConfig:
    windows: int = 8  # label windows, the latest held out to choose and check the ranker
    window_days: int = 30
    stride_days: int = 10  # windows start this far apart (they overlap: more examples from a short log)
    users_per_window: int = 3_000  # at most this many labelled users sampled per window
    negatives: float = 0.5  # share of the candidates not taken that training keeps (all taken ones stay)
    min_users: int = 100  # fewer labelled users than this in a window: the window is skipped
    rounds: int = 500
    min_rounds: int = 50  # early stopping picks the best round from here on (see _stop_early)
    patience: int = 50  # rounds without a better held-out NDCG before training stops
    learning_rate: float = 0.05
    leaves: int = 15
    min_leaf: int = 200
    objectives: tuple[str, ...] = ("binary", "lambdarank")
    seed: int = 0
    # More users than this: no ranker (ranking each one's candidates at build would take too long).
    max_users: int = 50_000
