"""Offline evaluation: metrics, baselines, the replay and the reports (`python -m recommender.evaluate`)."""
