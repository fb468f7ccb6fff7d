"""What the service answers for the interfaces that used to compute it themselves: the home
page's entry points, the health of a server process, id limits and long ids; the rights
facade; and the layering (exports and rights never import the service)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import networkx as nx
import pytest

import filiation
from filiation import NodeNotFoundError
from filiation.sources.hub_stats import MAX_ID_LENGTH
from tests import reference

SRC = Path(filiation.__file__).resolve().parent


def test_entry_points_are_the_most_derived_and_the_newest_models(sample, hub_sample) -> None:
    entries = sample.entry_points()
    ref = reference.model_graph(hub_sample)
    published = {r["id"].lower(): r for r in reference.rows(hub_sample)}
    reach = sorted((len(nx.descendants(ref, m)) for m in published), reverse=True)
    assert [n.descendants for n in entries.families] == reach[: len(entries.families)]
    assert len(entries.families) == 12 and all(n.kind.value == "model" for n in entries.families)
    created = sorted((r["createdAt"] for r in published.values() if r["createdAt"]), reverse=True)
    got = [published[n.id.lower()]["createdAt"] for n in entries.recent]
    assert got == created[: len(got)] and len(got) == 12
    # Kept for the index's life: the home page asks on every visit.
    assert sample.entry_points() is entries
    assert [n.id for n in sample.entry_points(3).families] == [n.id for n in entries.families[:3]]


def test_health_names_the_snapshots_this_process_answers_from(sample) -> None:
    health = sample.health()
    current = [s["id"] for s in sample.snapshots() if s["current"]]
    assert health.status == "ok" and health.version == filiation.__version__
    assert health.snapshots == current and health.worker == os.getpid()


def test_long_ids_are_bounded_and_still_found(sample) -> None:
    limits = sample.limits
    assert limits.max_id_length == MAX_ID_LENGTH and limits.suggest_max < MAX_ID_LENGTH
    assert sample.resolve("META-LLAMA/llama-3.1-8b-instruct") == "meta-llama/Llama-3.1-8B-Instruct"
    long_id = "org/" + "x" * (limits.suggest_max + 10)
    with pytest.raises(NodeNotFoundError) as err:
        sample.resolve(long_id)
    assert err.value.suggestions == [] and err.value.node_id.endswith("…")
    assert len(err.value.node_id) == limits.suggest_max + 1
    with pytest.raises(NodeNotFoundError):
        sample.descendants("org/" + "y" * (MAX_ID_LENGTH + 1))
    with pytest.raises(NodeNotFoundError) as near:
        sample.resolve("meta-llama/Llama-3.1-8B-Instrukt")
    assert "meta-llama/Llama-3.1-8B-Instruct" in near.value.suggestions


def test_locate_says_what_an_id_is(sample) -> None:
    found = sample.locate("meta-llama")
    assert (found.id, found.kind.value) == ("meta-llama", "author")
    assert sample.locate("meta-llama/llama-3.1-8b").kind.value == "model"


def test_the_rights_facade_answers_typed_records(sample) -> None:
    from filiation.rights.dossier import Dossier

    dossier = sample.rights.dossier(model="meta-llama/Llama-3.1-8B-Instruct")
    assert isinstance(dossier, Dossier)
    lin = sample.descendants("meta-llama/Llama-3.1-8B-Instruct")
    # The model itself and every model derived from it.
    assert {m.id for m in dossier.affected} == {n.id for n in lin if n.kind == "model"}
    # The delegate the interfaces call today gives the same dossier.
    same = sample.rights.dossier(model="meta-llama/Llama-3.1-8B-Instruct")
    assert same.model_dump(exclude={"generated_at"}) == dossier.model_dump(exclude={"generated_at"})


def test_lineage_nodes_are_typed_and_match_the_json_records(sample) -> None:
    lin = sample.ancestors("meta-llama/Llama-3.1-8B-Instruct")
    typed = list(lin)
    assert [n.id for n in typed] == [r["id"] for r in lin.nodes]
    assert [n.depth for n in typed] == [r["depth"] for r in lin.nodes]
    assert typed[0].depth == 0 and typed[0].via is None
    with pytest.raises(AttributeError):
        typed[0].depth = 3  # type: ignore[misc]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("package", ["exports", "rights", "store", "lineage"])
def test_lower_layers_never_import_the_service(package: str) -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(n for n in _imports(path) if "service" in n)
        for path in (SRC / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
