"""The service's entry point: `gunicorn app:app`, or `python app.py` for Flask's development server.

The HTTP layer itself is the web/ package: the factory (web/factory.py) and one blueprint per concern.
"""

from __future__ import annotations

from flask import Flask

from config import Config, ConfigError
from recommender.errors import DataError
from web.factory import create_app

__all__ = ["create_app"]


def _start() -> Flask:
    """The app from the environment; a bad setting or input file stops with its message, not a traceback."""
    try:
        return create_app(Config.from_env())
    except (ConfigError, DataError) as exc:
        raise SystemExit(f"cannot start: {exc}") from None


def main() -> None:
    _start().run(host="0.0.0.0", port=Config.from_env().port)


def __getattr__(name: str) -> Flask:
    """`app`, built on first use: what `gunicorn app:app` imports, without costing importers a build."""
    if name != "app":
        raise AttributeError(name)
    globals()["app"] = built = _start()
    return built


if __name__ == "__main__":
    main()
