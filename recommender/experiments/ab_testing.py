"""Deterministic A/B assignment: the same user always lands in the same variant for one salt."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

EXPERIMENT = "recommendations"
NAME_LENGTH = 64  # the longest experiment or variant name a recomm_id can carry (the columns' width)


class ABRouter:
    """Users split among weighted variants by an MD5 hash of salt, experiment and user id."""

    def __init__(
        self, variants: Sequence[tuple[str, float]], salt: str, experiment: str = EXPERIMENT
    ) -> None:
        total = sum(w for _, w in variants)
        if not variants or total <= 0 or any(w < 0 for _, w in variants):
            raise ValueError("variants need non-negative weights with a positive sum")
        self.variants = [name for name, _ in variants]
        self.control = self.variants[0]
        self.salt = salt
        self.experiment = experiment
        # Upper bound of each variant's slice of [0, 1); the last one ends exactly at 1.
        self._bounds: list[float] = []
        running = 0.0
        for _, weight in variants:
            running += weight
            self._bounds.append(running / total)
        self._bounds[-1] = 1.0

    def bucket(self, user_id: str) -> float:
        """A number in [0, 1) fixed by salt, experiment and user id."""
        digest = hashlib.md5(f"{self.salt}.{self.experiment}.{user_id}".encode(), usedforsecurity=False)
        return int(digest.hexdigest()[:15], 16) / float(16**15)

    def assign(self, user_id: str) -> str:
        """The user's variant."""
        point = self.bucket(user_id)
        for name, bound in zip(self.variants, self._bounds, strict=True):
            if point < bound:
                return name
        return self.variants[-1]


def new_recomm_id(experiment: str, variant: str | None) -> str:
    """A new id for one answer: random, and for an A/B answer "<experiment>-<variant>-<random>",
    so an event that quotes it can be counted for that variant of that experiment."""
    token = random.randbytes(8).hex()
    return token if variant is None else f"{experiment}-{variant}-{token}"


def parse_recomm_id(recomm: str) -> tuple[str, str] | None:
    """The (experiment, variant) an A/B answer's recomm_id names; None for any other id (names
    longer than NAME_LENGTH included: no answer of the service carries one)."""
    parts = recomm.split("-")
    if len(parts) != 3 or not all(parts) or len(parts[0]) > NAME_LENGTH or len(parts[1]) > NAME_LENGTH:
        return None
    return parts[0], parts[1]
