"""Node filters on traversals (kind, downloads, creation date): one rule for the Python API,
the CLI, the JSON API and the exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from filiation.api import create_app
from filiation.cli import app
from filiation.errors import InvalidArgumentError

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
ALL = ["finetune", "quantized", "adapter", "merge", "unspecified", "trained_on", "published_by"]


def _day(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def test_min_downloads_keeps_exactly_the_nodes_that_pass(sample) -> None:
    full = sample.lineage(LLAMA, max_depth=2)
    cut = sorted(n["downloads"] or 0 for n in full.nodes[1:])[len(full) // 2]
    kept = sample.lineage(LLAMA, max_depth=2, min_downloads=cut)
    want = {n["id"] for n in full.nodes[1:] if n["downloads"] is not None and n["downloads"] >= cut}
    assert {n["id"] for n in kept.nodes[1:]} == want
    assert 0 < len(kept) < len(full)
    assert kept.nodes[0]["id"] == LLAMA  # the start is always kept
    ids = {n["id"] for n in kept.nodes}
    assert kept.edges and all(e["parent"] in ids and e["child"] in ids for e in kept.edges)
    # every link of the full answer between two kept nodes is still there
    between = {
        (e["parent"], e["child"]) for e in full.edges if e["parent"] in ids and e["child"] in ids
    }
    assert {(e["parent"], e["child"]) for e in kept.edges} == between
    assert kept.to_dict()["filters"] == {"min_downloads": cut}
    assert "filters" not in full.to_dict()


def test_a_filter_does_not_stop_the_walk_and_limit_counts_what_it_keeps(sample) -> None:
    full = sample.descendants(LLAMA)
    dl = {n["id"]: n["downloads"] or 0 for n in full.nodes}
    # A grandchild better known than the child it was reached through.
    hidden = max(
        (n for n in full.nodes[1:] if n["depth"] > 1 and dl[n["id"]] > dl[n["via"]]),
        key=lambda n: dl[n["id"]],
    )
    cut = dl[hidden["id"]]
    kept = sample.descendants(LLAMA, min_downloads=cut)
    assert hidden["id"] in {n["id"] for n in kept.nodes}
    assert hidden["via"] not in {n["id"] for n in kept.nodes}
    popular = [n for n in full.nodes[1:] if dl[n["id"]] >= 1]
    assert len(popular) > 3
    few = sample.descendants(LLAMA, min_downloads=1, limit=3)
    assert len(few) == 3 and few.truncated
    nearest = sorted(n["depth"] for n in popular)[:3]
    assert sorted(n["depth"] for n in few.nodes[1:]) == nearest


def test_date_range_includes_both_ends_and_drops_unknown_dates(sample) -> None:
    full = sample.descendants(LLAMA)
    days = sorted({n["created_at"][:10] for n in full.nodes[1:] if n["created_at"]})
    assert len(days) > 4
    since, until = days[len(days) // 4], days[len(days) // 2]
    kept = sample.descendants(LLAMA, since=since, until=until)
    want = {
        n["id"]
        for n in full.nodes[1:]
        if n["created_at"] and since <= n["created_at"][:10] <= until
    }
    assert {n["id"] for n in kept.nodes[1:]} == want and want
    lo = datetime.fromisoformat(since).replace(tzinfo=UTC)
    assert all(_day(n["created_at"]) >= lo for n in kept.nodes[1:])  # type: ignore[operator]
    with pytest.raises(InvalidArgumentError, match="since must not be after until"):
        sample.descendants(LLAMA, since=days[-1], until=days[0])
    with pytest.raises(InvalidArgumentError, match="2024-05-01"):
        sample.descendants(LLAMA, since="last tuesday")


def test_kinds_keep_data_sets_and_authors_reached_through_their_links(sample) -> None:
    full = sample.ancestors(LLAMA, relations=ALL)
    kinds = {n["kind"] for n in full.nodes[1:]}
    assert "author" in kinds and "model" in kinds
    authors = sample.ancestors(LLAMA, relations=ALL, kinds=["author"])
    assert {n["id"] for n in authors.nodes[1:]} == {
        n["id"] for n in full.nodes[1:] if n["kind"] == "author"
    }
    assert {n["kind"] for n in authors.nodes[1:]} == {"author"}
    with pytest.raises(InvalidArgumentError, match="model, dataset, author"):
        sample.ancestors(LLAMA, kinds=["robot"])


def test_cli_and_api_take_the_same_filters(sample, sample_db: Path) -> None:
    want = sample.lineage(LLAMA, max_depth=2, min_downloads=100, since="2024-08-01").to_dict()
    runner = CliRunner()
    args = ["--db", str(sample_db), "descendants", LLAMA, "-d", "2", "--min-downloads", "100"]
    result = runner.invoke(app, [*args, "--since", "2024-08-01", "--json"])
    assert result.exit_code == 0, result.output
    down = json.loads(result.output)
    assert down["filters"]["min_downloads"] == 100
    assert {n["id"] for n in down["nodes"]} == {n["id"] for n in want["nodes"] if n["depth"] >= 0}
    bad = runner.invoke(app, [*args, "--until", "soon"])
    assert bad.exit_code == 2 and "until must be a date" in bad.output
    client = TestClient(create_app(sample))
    r = client.get(
        f"/api/models/{LLAMA}/lineage",
        params={"max_depth": 2, "min_downloads": 100, "since": "2024-08-01"},
    )
    assert r.status_code == 200 and r.json() == json.loads(json.dumps(want))
    kinds = client.get(
        f"/api/models/{LLAMA}/ancestors", params={"relation": ",".join(ALL), "kind": "author"}
    )
    assert {n["kind"] for n in kinds.json()["nodes"][1:]} == {"author"}
    assert client.get(f"/api/models/{LLAMA}/lineage", params={"since": "x"}).status_code == 422
    assert client.get(f"/api/models/{LLAMA}/lineage", params={"kind": "x"}).status_code == 422


def test_impact_takes_the_same_filters(sample) -> None:
    dataset = "HuggingFaceH4/ultrachat_200k"
    full = sample.impact(dataset)
    cut = sorted(n["downloads"] or 0 for n in full.nodes[1:])[len(full) // 2]
    kept = sample.impact(dataset, min_downloads=cut)
    want = {n["id"] for n in full.nodes[1:] if (n["downloads"] or -1) >= cut}
    assert {n["id"] for n in kept.nodes[1:]} == want and 0 < len(want) < len(full)
    assert kept.nodes[0]["id"] == dataset and kept.direction == "impact"
    assert len(sample.impact(dataset, min_downloads=cut, limit=2)) == 2
    client = TestClient(create_app(sample))
    r = client.get(f"/api/datasets/{dataset}/impact", params={"min_downloads": cut})
    assert r.status_code == 200 and {n["id"] for n in r.json()["nodes"][1:]} == want
