"""api/ecr."""
