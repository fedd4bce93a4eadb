"""Glue-compatible Spark jobs (entry scripts) and the pure transform library they call."""
