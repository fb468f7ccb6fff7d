"""Wrong arguments get clear errors, from the Python API and the command line alike."""

from __future__ import annotations

import pytest

from filiation import InvalidArgumentError, NodeNotFoundError


def test_unknown_kinds_are_refused_with_the_valid_ones(sample) -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown kind 'robot'.*model, dataset, author"):
        sample.search("llama", kinds=["robot"])
    with pytest.raises(InvalidArgumentError, match="unknown kind"):
        sample.show("meta-llama/Llama-3.1-8B-Instruct", kind="robot")
    assert sample.search("llama", kinds=["MODEL"])  # kinds are case-insensitive


def test_a_bad_relation_is_reported_before_an_unknown_id(sample) -> None:
    """Both checks happen, in the same order, for every command."""
    for call in (
        lambda: sample.show("no/such-model", relations=["cousin"]),
        lambda: sample.descendants("no/such-model", relations=["cousin"]),
        lambda: sample.impact("no/such-dataset", relations=["cousin"]),
    ):
        with pytest.raises(InvalidArgumentError, match="unknown relation 'cousin'"):
            call()


@pytest.mark.parametrize("length", [600, 5_000, 50_000])
def test_absurdly_long_ids_are_not_found_quickly(sample, length: int) -> None:
    """Suggestions for a typo are bounded work, whatever the length of the input."""
    with pytest.raises(NodeNotFoundError):
        sample.show("a/" + "llama" * (length // 5))
