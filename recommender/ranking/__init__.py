"""The two-stage ranking: candidates from every signal, their features, training windows, the ranker."""
