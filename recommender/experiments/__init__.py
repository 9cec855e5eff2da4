"""A/B testing: bucketing users into variants, the experiment's set-up, the report."""
