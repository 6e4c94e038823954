"""Embedded sample data: a deterministic generator of census-like rows."""

from mlmax_census.data.generator import generate, write_csv

__all__ = ["generate", "write_csv"]
