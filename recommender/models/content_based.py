"""Content-based similarity: TF-IDF over title, category and description, cosine between products."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from recommender.data.data_loader import Catalog
from recommender.forking import WORKERS, can_fork, fork_map
from recommender.models.neighbours import Neighbours, top_k_neighbours, top_per_row

# From this many products, the text is turned into vectors by forked processes, one per core:
# tokenizing is Python work, which one process does on one core.
PARALLEL_PRODUCTS = 100_000


@dataclass(frozen=True)
class ContentConfig:
    """How much each text field counts, and how many neighbours each product keeps."""

    title_weight: float = 2.0
    category_weight: float = 1.0
    description_weight: float = 1.0
    neighbours: int = 100
    max_features: int = 500_000
    # Similarity work budget (multiply-adds): sets how many products a word may link at most.
    work: int = 10_000_000_000
    min_postings: int = 256


@dataclass
class TextSpace:
    """The fitted TF-IDF space: product vectors, and what embeds a new product's text in it
    (the vocabulary, each term's idf, the field weights). Saved with the model."""

    vectors: sp.csr_matrix  # products x terms, rows of unit length
    terms: list[str]  # the vocabulary, by column
    idf: np.ndarray
    config: ContentConfig = field(default_factory=lambda: ContentConfig())
    _vectorizer: TfidfVectorizer | None = field(default=None, repr=False)

    def embed(self, title: str, category: str, description: str) -> sp.csr_matrix:
        """One product's vector (1 x terms, unit length; all zero when no word is known)."""
        if not self.terms:
            return sp.csr_matrix((1, self.vectors.shape[1]), dtype=np.float32)
        if self._vectorizer is None:  # made on first use: a large vocabulary takes a moment
            vectorizer = _vectorizer(self.config)
            vectorizer.vocabulary = {term: i for i, term in enumerate(self.terms)}
            vectorizer.idf_ = np.asarray(self.idf, np.float64)
            self._vectorizer = vectorizer
        cfg = self.config
        fields = [
            (title, cfg.title_weight),
            (category, cfg.category_weight),
            (description, cfg.description_weight),
        ]
        return _combine(self._vectorizer, [([text], w) for text, w in fields])

    def similarities(self, vector: sp.csr_matrix) -> np.ndarray:
        """Cosine of `vector` with every product."""
        dense = np.zeros(self.vectors.shape[1], np.float32)
        dense[vector.indices] = vector.data
        return np.asarray(self.vectors @ dense).ravel()


def _vectorizer(cfg: ContentConfig) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True,
        stop_words="english",
        ngram_range=(1, 2),
        sublinear_tf=True,
        max_features=cfg.max_features,
        dtype=np.float32,
    )


def _combine(vectorizer: TfidfVectorizer, fields: list[tuple[list[str], float]]) -> sp.csr_matrix:
    """Each field normalised on its own, so a long description cannot drown the title; then weighted.

    A large catalog's rows are made by forked processes, a slice of rows at a time (each row
    comes from its own text alone, so the rows are the same either way).
    """
    n = len(fields[0][0])
    if n < PARALLEL_PRODUCTS or WORKERS == 1 or not can_fork():
        return _combined_rows(vectorizer, fields)
    bounds = np.linspace(0, n, 4 * WORKERS + 1).astype(int).tolist()  # small slices: small copies
    spans = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    rows = lambda span: _combined_rows(vectorizer, [(text[slice(*span)], w) for text, w in fields])  # noqa: E731
    return sp.vstack(fork_map(rows, spans), format="csr")


def _combined_rows(vectorizer: TfidfVectorizer, fields: list[tuple[list[str], float]]) -> sp.csr_matrix:
    weighted = [w * normalize(vectorizer.transform(list(text))) for text, w in fields if w > 0]
    return normalize(sp.csr_matrix(sum(weighted[1:], weighted[0]))).astype(np.float32)


class ContentModel:
    """Products described by the words of their text fields; similar products share rare words."""

    def __init__(self, config: ContentConfig | None = None) -> None:
        self.config = config or ContentConfig()
        self.neighbours: Neighbours | None = None
        self.vectors: sp.csr_matrix | None = None  # products x words, rows of unit length
        self.text: TextSpace | None = None

    def fit(self, catalog: Catalog) -> ContentModel:
        """Build the product vectors and every product's nearest neighbours."""
        cfg = self.config
        fields = [
            (catalog.titles, cfg.title_weight),
            (catalog.categories, cfg.category_weight),
            (catalog.descriptions, cfg.description_weight),
        ]
        vectorizer = _vectorizer(cfg)
        documents = [" ".join(parts) for parts in zip(*(f for f, _ in fields), strict=True)]
        try:
            vectorizer.fit(documents)
        except ValueError:  # no word anywhere in the catalog: nothing is similar to anything
            vectors = sp.csr_matrix((len(catalog), 1), dtype=np.float32)
            terms, idf = [], np.zeros(1, np.float32)
        else:
            vectors = _combine(vectorizer, fields)
            terms, idf = vectorizer.get_feature_names_out().tolist(), vectorizer.idf_.astype(np.float32)
        # Each word links a product to at most `postings` others (those where the word weighs most):
        # exact for words shared by fewer products, and a bounded cost for very common ones.
        postings = max(cfg.min_postings, cfg.work // max(vectors.nnz, 1))
        linked = top_per_row(vectors.T.tocsr(), postings).T.tocsr()
        self.neighbours = top_k_neighbours(vectors, linked, cfg.neighbours)
        self.vectors = vectors.tocsr().astype(np.float32)
        self.text = TextSpace(self.vectors, terms, idf, cfg)
        return self
