"""Service configuration: one frozen dataclass, read once from the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent

DEFAULT_INTERACTION_WEIGHTS = (("view", 1.0), ("clicked", 1.0), ("add_to_cart", 1.2), ("purchase", 1.5))
# What an A/B variant may be called: each name is one way of answering /recommend/ab.
AB_STRATEGIES = ("content", "collaborative", "hybrid", "popularity", "ranked")


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Config:
    products_csv: str = str(ROOT / "data" / "products.csv")
    interactions_csv: str = str(ROOT / "data" / "interactions.csv")
    artifacts_dir: str = str(ROOT / "artifacts")
    redis_url: str = "redis://localhost:6379/0"
    cache_enabled: bool = True
    cache_ttl_seconds: int = 300
    cache_key_prefix: str = "rec:"
    cache_local_entries: int = 10_000  # answers each worker keeps in front of Redis; 0: none
    ab_variants: tuple[tuple[str, float], ...] = (("content", 50.0), ("hybrid", 50.0))
    ab_salt: str = "recsys-ab-2026"
    ab_exposures: bool = True  # false: A/B answers are not recorded (the report then shows none)
    feedback_db: str = f"sqlite:///{ROOT / 'instance' / 'feedback.db'}"
    admin_token: str | None = None
    events_token: str | None = None  # set: POST /feedback needs it as a bearer token
    port: int = 5000
    max_top_k: int = 100
    interaction_weights: tuple[tuple[str, float], ...] = DEFAULT_INTERACTION_WEIGHTS
    hybrid_w_content: float = 0.1
    hybrid_w_cf: float = 0.9
    new_item_weight: float = 0.15
    recency_days: float = 90.0
    neighbours: int = 100
    ranker: bool = True
    ranker_max_users: int = 50_000
    ranker_seed: int = 0  # the ranker's sampling and boosting: the same seed, the same model
    text_lists_max_users: int = 1_000_000
    feedback_rate_limit: str | None = "120/minute"  # per user_id; None (FEEDBACK_RATE_LIMIT=off): no limit
    feedback_client_rate_limit: str | None = "6000/minute"  # per client address; None: no limit
    trusted_proxies: int = 0  # proxies in front that set X-Forwarded-For (the client's address)
    log_format: str = "text"  # "json": one JSON object per line (gunicorn.conf.py makes it the default)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        """Build a Config from environment variables; unset ones keep their defaults."""
        defaults = cls()
        env = {k: v for k, v in environ.items() if v != ""}

        def get(name: str, parse, default):  # type: ignore[no-untyped-def]
            return parse(name, env[name]) if name in env else default

        return cls(
            products_csv=env.get("PRODUCTS_CSV", defaults.products_csv),
            interactions_csv=env.get("INTERACTIONS_CSV", defaults.interactions_csv),
            artifacts_dir=env.get("ARTIFACTS_DIR", defaults.artifacts_dir),
            redis_url=_redis_url(env, defaults.redis_url),
            cache_enabled=get("CACHE_ENABLED", _bool, defaults.cache_enabled),
            cache_ttl_seconds=get("CACHE_TTL_SECONDS", _positive_int, defaults.cache_ttl_seconds),
            cache_key_prefix=env.get("CACHE_KEY_PREFIX", defaults.cache_key_prefix),
            cache_local_entries=get("CACHE_LOCAL_ENTRIES", _non_negative_int, defaults.cache_local_entries),
            ab_variants=get("AB_VARIANTS", _ab_variants, defaults.ab_variants),
            ab_salt=env.get("AB_SALT", defaults.ab_salt),
            ab_exposures=get("AB_EXPOSURES", _bool, defaults.ab_exposures),
            feedback_db=env.get("DATABASE_URL", env.get("FEEDBACK_DB", defaults.feedback_db)),
            admin_token=env.get("ADMIN_TOKEN", defaults.admin_token),
            events_token=env.get("EVENTS_TOKEN", defaults.events_token),
            port=get("PORT", _port, defaults.port),
            max_top_k=get("MAX_TOP_K", _positive_int, defaults.max_top_k),
            interaction_weights=get("INTERACTION_WEIGHTS", _weights, defaults.interaction_weights),
            hybrid_w_content=get("HYBRID_W_CONTENT", _weight, defaults.hybrid_w_content),
            hybrid_w_cf=get("HYBRID_W_CF", _weight, defaults.hybrid_w_cf),
            new_item_weight=get("NEW_ITEM_WEIGHT", _weight, defaults.new_item_weight),
            recency_days=get("RECENCY_DAYS", _positive_number, defaults.recency_days),
            neighbours=get("NEIGHBOURS", _positive_int, defaults.neighbours),
            ranker=get("RANKER", _bool, defaults.ranker),
            ranker_max_users=get("RANKER_MAX_USERS", _positive_int, defaults.ranker_max_users),
            ranker_seed=get("RANKER_SEED", _non_negative_int, defaults.ranker_seed),
            text_lists_max_users=get("TEXT_LISTS_MAX_USERS", _positive_int, defaults.text_lists_max_users),
            log_format=get("LOG_FORMAT", _log_format, defaults.log_format),
            feedback_rate_limit=get("FEEDBACK_RATE_LIMIT", _rate_limit, defaults.feedback_rate_limit),
            feedback_client_rate_limit=get(
                "FEEDBACK_CLIENT_RATE_LIMIT", _rate_limit, defaults.feedback_client_rate_limit
            ),
            trusted_proxies=get("TRUSTED_PROXIES", _non_negative_int, defaults.trusted_proxies),
        )


def _redis_url(env: Mapping[str, str], default: str) -> str:
    if "REDIS_URL" in env:
        return env["REDIS_URL"]
    if not any(k in env for k in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB")):
        return default
    host = env.get("REDIS_HOST", "localhost")
    port = _port("REDIS_PORT", env["REDIS_PORT"]) if "REDIS_PORT" in env else 6379
    db = _non_negative_int("REDIS_DB", env["REDIS_DB"]) if "REDIS_DB" in env else 0
    return f"redis://{host}:{port}/{db}"


def _rate_limit(name: str, raw: str) -> str | None:
    """A rate such as 120/minute or 10 per second; off or 0 for none."""
    from limits import parse

    value = raw.strip().lower()
    if value in ("off", "0", "none"):
        return None
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as 120/minute or off, got {raw!r}") from None
    return value


def _log_format(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("json", "text"):
        raise ConfigError(f"{name} must be json or text, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _positive_int(name: str, raw: str) -> int:
    value = _int(name, raw)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {raw!r}")
    return value


def _non_negative_int(name: str, raw: str) -> int:
    value = _int(name, raw)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _port(name: str, raw: str) -> int:
    value = _int(name, raw)
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be a port number between 1 and 65535, got {raw!r}")
    return value


def _weight(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def _ab_variants(name: str, raw: str) -> tuple[tuple[str, float], ...]:
    variants = _weights(name, raw)
    for variant, _ in variants:
        if variant not in AB_STRATEGIES:
            allowed = ", ".join(AB_STRATEGIES)
            raise ConfigError(f"{name}: unknown variant {variant!r}; variants are {allowed}")
    return variants


def _positive_number(name: str, raw: str) -> float:
    value = _weight(name, raw)
    if value <= 0:
        raise ConfigError(f"{name} must be a number above 0, got {raw!r}")
    return value


def _weights(name: str, raw: str) -> tuple[tuple[str, float], ...]:
    """Parse 'a:1,b:2.5' into (('a', 1.0), ('b', 2.5)); names unique, weights >= 0, one > 0."""
    pairs: list[tuple[str, float]] = []
    for item in raw.split(","):
        key, sep, value = item.strip().partition(":")
        if not sep or not key.strip():
            raise ConfigError(f"{name} must be a list like 'name:weight,name:weight', got {raw!r}")
        pairs.append((key.strip(), _weight(name, value)))
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{name} names each entry once, got {raw!r}")
    if not any(w > 0 for _, w in pairs):
        raise ConfigError(f"{name} needs at least one weight above 0, got {raw!r}")
    return tuple(pairs)
