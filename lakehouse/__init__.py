"""Local-first replica of an AWS lakehouse: profiles, storage, ingestion, warehouse and services."""
