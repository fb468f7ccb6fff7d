"""Search a page at a time, on the real sample: pages that chain to every result once, a total
that is the number of ids containing the text (counted here by brute force over every id),
authors and data sets with what they reach; the same through the JSON API and the search page.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import filiation
from filiation.api import create_app
from filiation.domain import Relation
from filiation.service import searching

TEXTS = ["llama", "ultrachat", "qwen2.5-7b"]


def _brute(g: filiation.Genealogy, text: str) -> set[str]:
    a = g.index.a
    ids = a.ids_of(np.arange(a.n_nodes))
    return {i for i in ids if text.lower() in i.lower()}


@pytest.mark.parametrize("text", TEXTS)
def test_pages_chain_to_every_result_once_with_the_total(sample, text: str) -> None:
    want = _brute(sample, text)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = sample.search_page(text, offset=offset, limit=17)
        assert page.total == len(want) and page.total_exact and page.offset == offset
        assert len(page.items) <= 17
        seen += [h.id for h in page.items]
        offset = page.next_offset
    assert len(seen) == len(set(seen)) and set(seen) == want
    # The same order as the plain search (an exact id first, then best known first).
    assert [h.id for h in sample.search(text, limit=1000)] == seen[:1000]


def test_a_total_beyond_the_bound_says_so(sample, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(searching, "COUNT_BOUND", 10)
    page = sample.search_page("llama", limit=5)
    assert page.total == 10 and not page.total_exact and page.next_offset == 5
    far = sample.search_page("llama", offset=40, limit=5)  # past the bound: counted to the page
    assert len(far.items) == 5 and far.total == 45 and not far.total_exact


def test_authors_and_data_sets_say_what_they_reach(sample) -> None:
    hits = sample.search_page("ultrachat_200k", limit=50).items
    ds = next(h for h in hits if h.id == "HuggingFaceH4/ultrachat_200k")
    assert ds.models == len(sample.impact(ds.id)) == 59  # the figure
    authors = sample.search_page("meta-llama", limit=50, kinds=["author"]).items
    author = next(h for h in authors if h.id == "meta-llama")
    published = sample.descendants(author.id, relations=[Relation.PUBLISHED_BY], max_depth=1)
    assert author.models == len([n for n in published if n.kind == "model"]) > 0
    assert author.families == sample.families(author.id).total > 0
    models = sample.search_page("llama", limit=20, kinds=["model"]).items
    assert all(h.models is None and h.families is None for h in models)


@pytest.fixture(scope="module")
def client(sample_db: Any) -> Any:
    with TestClient(create_app(filiation.open(sample_db))) as c:
        yield c


def test_the_api_pages_with_a_total(client: Any, sample) -> None:
    want = _brute(sample, "llama")
    got: list[str] = []
    params: dict[str, Any] = {"q": "llama", "limit": 100}
    while True:
        body = client.get("/api/search/page", params=params).json()
        assert body["total"] == len(want) and body["total_exact"] is True
        got += [h["id"] for h in body["items"]]
        if body["next_offset"] is None:
            break
        params["offset"] = body["next_offset"]
    assert set(got) == want and len(got) == len(want)
    assert client.get("/api/search/page", params={"q": "x", "offset": -1}).status_code == 422


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_search_page_has_a_total_and_a_next_page(client: Any, sample, lang: str) -> None:
    total = len(_brute(sample, "llama"))
    first = client.get(f"/{lang}/search", params={"q": "llama"}).text
    assert 'start="1"' in first and 'class="next"' in first and 'class="prev"' not in first
    label = "Résultats" if lang == "fr" else "Results"
    count = re.search(rf"{label}(?:&nbsp;|\s|\u202f)?: ([\d\s\u202f,.]+)<", first)
    assert count and int(re.sub(r"\D", "", count.group(1))) == total
    nxt = html.unescape(re.search(r'class="next" href="([^"]+)"', first).group(1))  # type: ignore[union-attr]
    second = client.get(f"/{lang}/search{nxt}").text
    assert 'start="51"' in second and 'class="prev"' in second
    ids = re.findall(
        r'<li class="node kind-\w+">\s*<span[^>]*></span>\s*<a href="[^"]+">([^<]+)</a>', second
    )
    want = [h.id for h in sample.search_page("llama", offset=50, limit=50).items]
    assert [html.unescape(i) for i in ids] == want
    # An author and a data set say what they reach, not "0 descendants".
    page = client.get(f"/{lang}/search", params={"q": "ultrachat_200k"}).text
    row = page.split("HuggingFaceH4/ultrachat_200k</a>")[1].split("</li>")[0]
    assert "59" in row and ("impact" in row)
