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


def test_children_pages_concatenate_to_the_full_list(sample) -> None:
    """Paging is done by the service: pages in order make the whole ranked list."""
    model = "meta-llama/Llama-3.1-8B-Instruct"
    full = [c.id for c in sample.children(model, limit=None)]
    pages = [
        [c.id for c in sample.children(model, offset=offset, limit=7)]
        for offset in range(0, len(full) + 7, 7)
    ]
    assert [i for page in pages for i in page] == full
    assert all(len(p) == 7 for p in pages[: len(full) // 7])
    published = sample.children("meta-llama", kind="author", relations=["published_by"], limit=None)
    assert published and all(p.author == "meta-llama" for p in published)
    with pytest.raises(InvalidArgumentError):
        sample.children(model, offset=-1)
