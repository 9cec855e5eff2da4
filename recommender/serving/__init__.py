"""What answers requests: the model in use (the facade), the shelf, the live catalog and the
feedback overlay on top of it, saved models, rebuilds and the answer cache."""
