"""Ids as every route checks them, and the limits on requests (declare.py builds the parameters)."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.exceptions import BadRequest

from recommender.validation import MAX_ID_LENGTH, id_control

MAX_BODY_BYTES = 1024 * 1024
MAX_FILTER_VALUES = 500  # category= and exclude= values per request
MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the server's clock an event's ts may be


def checked_id(name: str, raw: str, limit: int = MAX_ID_LENGTH) -> str:
    """An id as sent, stripped; 400 naming `name` when it is longer than `limit` or holds a
    control character (which no store column can keep faithfully)."""
    value = raw.strip()
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    if id_control(value):
        raise BadRequest(f"{name} holds a control character (such as NUL); an id may hold none")
    return value


def path_id(raw: str, name: str = "product_id") -> str:
    """An id from the path: checked, and never empty."""
    value = checked_id(name, raw)
    if not value:
        raise BadRequest(f"a {name} is 1 to {MAX_ID_LENGTH} characters")
    return value
