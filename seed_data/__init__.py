"""Generators of the messy reference e-commerce dataset, with a ground-truth manifest."""
