"""SILVER transforms: typed, cleaned, deduplicated datasets built from BRONZE."""
