"""GOLD transforms: marts and dimensional tables built from SILVER."""
