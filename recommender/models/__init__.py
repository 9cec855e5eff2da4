"""The models fitted at build: text neighbours, the collaborative regression, best sellers,
the hybrid blend."""
