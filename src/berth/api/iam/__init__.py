"""api/iam."""
