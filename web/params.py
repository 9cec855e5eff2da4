"""Request values every route checks the same way: ids, times, and the limits on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werkzeug.exceptions import BadRequest

from recommender.storage.feedback import EARLIEST_TS
from recommender.validation import id_control

MAX_BODY_BYTES = 1024 * 1024
MAX_ID_LENGTH = 256
MAX_EVENT_ID_LENGTH = 128
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


def id_field(body: dict, name: str, limit: int = MAX_ID_LENGTH) -> str:
    """A required id of a JSON body: a non-empty string (an integer is taken as its digits)."""
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} is required: a non-empty string")
    return checked_id(name, value, limit)


def timestamp(raw: object) -> datetime:
    """An ISO 8601 time as naive UTC; a time without an offset is taken as UTC."""
    if not isinstance(raw, str):
        raise BadRequest(f"ts must be an ISO 8601 string such as 2024-03-01T14:05:00Z; got {raw!r}")
    try:
        parsed = datetime.fromisoformat(raw.strip())
        if parsed.tzinfo is not None:  # an offset at the calendar's edge overflows here
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadRequest(f"ts must be an ISO 8601 time such as 2024-03-01T14:05:00Z; got {raw!r}") from None
    if parsed < EARLIEST_TS:
        raise BadRequest(f"ts must be 1970-01-01 or later; got {raw!r}")
    return parsed
