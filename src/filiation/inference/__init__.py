"""Lineage inferred from evidence rather than read from declarations."""
