"""What text the store can keep: no control characters in ids, only tabs and line breaks in text.

A NUL cannot be stored in PostgreSQL at all, and the other control characters have no place in
an id; the service refuses both at the edge, so nothing it accepts fails later in a database.
"""

from __future__ import annotations

import re

MAX_ID_LENGTH = 256  # a user or product id, in characters: what every id column holds
MAX_EVENT_ID_LENGTH = 128  # a client's own id for an event
ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR allowed


def id_control(value: str) -> bool:
    """Whether an id holds a control character."""
    return ID_CONTROL.search(value) is not None


def text_control(value: str) -> bool:
    """Whether a text field holds a control character other than a tab or a line break."""
    return TEXT_CONTROL.search(value) is not None
