"""Domain errors; the web layer maps each to one HTTP status."""

from __future__ import annotations


class RecommenderError(Exception):
    """Base class of the errors this package raises on purpose."""


class DataError(RecommenderError):
    """An input file cannot be used; the message names file, line and column."""


class UnknownProductError(RecommenderError, LookupError):
    """A product id that is not in the catalog."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"unknown product_id {product_id!r}")
        self.product_id = product_id


class FeedbackUnavailableError(RecommenderError):
    """The feedback store could not commit an event."""
