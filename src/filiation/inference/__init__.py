"""Lineage filiation infers rather than reads: suspects, weight evidence, checks."""
