"""CycloneDX, SPDX and model-card exports: valid for their own tools, and faithful round trips.

Each export is read back with the format's own library and must give the same ancestors,
links (with their relation) and training data sets as the service, on real models of the
bundled Hub sample: a merge of merges descending from meta-llama/Llama-3.1-8B-Instruct that
declares a data set, and a LoRA adapter of it trained on 14 data sets.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml

from filiation.domain import NodeKind
from filiation.errors import InvalidArgumentError
from filiation.exports.facts import ModelFacts
from filiation.exports.model_card import UNKNOWN, render_card
from filiation.results import NodeDetails

MERGE = "netcat420/MFANN-llama3.1-abliterated-SLERP-v3.1"
ADAPTER = "Nekochu/Llama-3.1-8B-German-ORPO"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def expected(g, model: str, **bounds) -> tuple[set[str], set[tuple[str, str, str]], set[str]]:
    """What the service says: ancestor ids, (child, parent, relation) links, data sets."""
    ancestry = g.ancestors(model, **bounds)
    ancestors = {n["id"] for n in ancestry.nodes if n["depth"] > 0}
    links = {(e["child"], e["parent"], e["relation"]) for e in ancestry.edges}
    datasets = {d.id for d in g.show(model).datasets}
    return ancestors, links, datasets


# -- CycloneDX --------------------------------------------------------------------------------


def cyclonedx_doc(g, model: str, **bounds) -> str:
    return g.export(model, "cyclonedx", **bounds).content.decode()


@pytest.mark.parametrize("model", [MERGE, ADAPTER])
def test_cyclonedx_is_valid_against_the_official_1_6_schema(sample, model: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = cyclonedx_doc(sample, model)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"


def test_cyclonedx_schema_check_catches_a_broken_bom(sample) -> None:
    """The validator used above really checks: a model card in the wrong place fails."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    doc = json.loads(cyclonedx_doc(sample, MERGE))
    doc["components"][0]["modelCard"] = doc["metadata"]["component"]["modelCard"]
    doc["metadata"]["component"]["type"] = "ml-model"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is not None


@pytest.mark.parametrize("model", [MERGE, ADAPTER])
def test_cyclonedx_round_trip_gives_the_service_lineage(sample, model: str) -> None:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import ComponentType

    from filiation.exports.cyclonedx import PARENT_PROPERTY

    doc = json.loads(cyclonedx_doc(sample, model))
    bom = Bom.from_json(doc)  # type: ignore[attr-defined]
    subject = bom.metadata.component
    assert subject.type is ComponentType.MACHINE_LEARNING_MODEL and subject.name == model
    ancestors = {c.name for c in subject.pedigree.ancestors} if subject.pedigree else set()
    links = {
        (component.name, prop.value, prop.name.removeprefix(PARENT_PROPERTY))
        for component in [subject, *(subject.pedigree.ancestors if subject.pedigree else [])]
        for prop in component.properties
        if prop.name.startswith(PARENT_PROPERTY)
    }
    datasets = {c.name for c in bom.components if c.type is ComponentType.DATA}
    assert (ancestors, links, datasets) == expected(sample, model)
    assert LLAMA in ancestors
    # The model card points at the data components by their bom-ref.
    card = doc["metadata"]["component"]["modelCard"]
    refs = {d["ref"] for d in card["modelParameters"]["datasets"]}
    assert refs == {c["bom-ref"] for c in doc["components"] if c["type"] == "data"}
    assert card["modelParameters"]["task"] == sample.show(model).pipeline_tag
    assert card["modelParameters"]["architectureFamily"] == "meta-llama/Llama-3.1-8B"


def test_cyclonedx_ancestry_follows_the_bounds(sample) -> None:
    from cyclonedx.model.bom import Bom

    bom = Bom.from_json(json.loads(cyclonedx_doc(sample, MERGE, max_depth=1)))  # type: ignore[attr-defined]
    parents = {p.id for p in sample.show(MERGE).parents}
    assert {c.name for c in bom.metadata.component.pedigree.ancestors} == parents
    props = {p.name: p.value for p in bom.metadata.component.properties}
    assert props["filiation:ancestry-truncated"] == "true"


# -- SPDX -------------------------------------------------------------------------------------


def spdx_objects(g, model: str, **bounds):
    import spdx_python_model

    doc = json.loads(g.export(model, "spdx", **bounds).content)
    assert doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    spdx_check(doc)
    spdx, objects = spdx_python_model.load_data(doc)
    return spdx, objects


@pytest.mark.parametrize("model", [MERGE, ADAPTER])
def test_spdx_round_trip_gives_the_service_lineage(sample, model: str) -> None:
    spdx, objects = spdx_objects(sample, model)
    packages = {p.name for p in objects.foreach_type(spdx.ai_AIPackage)}
    datasets = {p.name for p in objects.foreach_type(spdx.dataset_DatasetPackage)}
    relationships = list(objects.foreach_type(spdx.Relationship))
    descendant_of = {
        (r.from_.name, to.name, r.comment)
        for r in relationships
        if r.relationshipType == spdx.RelationshipType.descendantOf
        for to in r.to
    }
    ancestor_of = {
        (to.name, r.from_.name)
        for r in relationships
        if r.relationshipType == spdx.RelationshipType.ancestorOf
        for to in r.to
    }
    trained_on = {
        (r.from_.name, to.name)
        for r in relationships
        if r.relationshipType == spdx.RelationshipType.trainedOn
        for to in r.to
    }
    ancestors, links, want_datasets = expected(sample, model)
    assert packages == ancestors | {model}
    assert descendant_of == links
    assert ancestor_of == {(c, p) for c, p, _ in links}
    assert datasets == want_datasets and trained_on == {(model, d) for d in want_datasets}
    (document,) = objects.foreach_type(spdx.SpdxDocument)
    assert [e.name for e in document.rootElement] == [model]
    assert {spdx.ProfileIdentifierType.ai, spdx.ProfileIdentifierType.dataset} <= set(
        document.profileConformance
    )


def spdx_check(doc: dict) -> None:
    """What the SPDX bindings accept: known types and values on reading, every required
    property and cardinality on writing the document again."""
    import io

    import spdx_python_model

    model, objects = spdx_python_model.load_data(doc)
    model.JSONLDSerializer().write(objects, io.BytesIO())


def test_spdx_passes_the_bindings_checks_that_catch_broken_documents(sample) -> None:
    import copy

    doc = json.loads(sample.export(MERGE, "spdx").content)
    spdx_check(doc)
    breakages = {
        "unknown relationship type": ("relationshipType", "descendantOf", "descendentOf"),
        "package without creationInfo": ("type", "ai_AIPackage", None),
        "relationship without from": ("type", "Relationship", None),
    }
    for what, (key, match, replacement) in breakages.items():
        broken = copy.deepcopy(doc)
        for obj in broken["@graph"]:
            if obj.get(key) != match:
                continue
            if replacement is not None:
                obj[key] = replacement
            else:
                obj.pop("creationInfo" if match == "ai_AIPackage" else "from")
        with pytest.raises(ValueError):
            spdx_check(broken)
            pytest.fail(what)


def test_spdx_declares_the_licence_as_an_expression(sample) -> None:
    from license_expression import get_spdx_licensing

    spdx, objects = spdx_objects(sample, ADAPTER)
    (declared,) = [
        r
        for r in objects.foreach_type(spdx.Relationship)
        if r.relationshipType == spdx.RelationshipType.hasDeclaredLicense
    ]
    expression = declared.to[0].simplelicensing_licenseExpression
    # llama3.1 is not in the SPDX list: a LicenseRef that SPDX tools can parse.
    assert sample.show(ADAPTER).license == "llama3.1"
    assert expression == "LicenseRef-llama3.1"
    get_spdx_licensing().parse(expression)


def test_standard_formats_describe_models_only(sample) -> None:
    for fmt in ("cyclonedx", "spdx", "model-card"):
        with pytest.raises(InvalidArgumentError, match="describes a model"):
            sample.export("meta-llama", fmt)


# -- model card -------------------------------------------------------------------------------


def split_card(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head) or {}, body


@pytest.mark.parametrize(("model", "relation"), [(MERGE, "merge"), (ADAPTER, "adapter")])
def test_model_card_front_matter_is_the_hub_lineage(sample, model: str, relation: str) -> None:
    from huggingface_hub import ModelCard

    text = sample.export(model, "model-card").content.decode()
    meta, _ = split_card(text)
    details = sample.show(model)
    parents = sorted(p.id for p in details.parents)
    base = meta["base_model"]
    assert sorted([base] if isinstance(base, str) else base) == parents
    assert meta["base_model_relation"] == relation
    assert sorted(meta["datasets"]) == sorted(d.id for d in details.datasets)
    assert meta["license"] == details.license
    assert meta.get("pipeline_tag") == details.pipeline_tag
    assert meta.get("library_name") == details.library_name
    card = ModelCard(text)  # the Hub client's own parser and validator of card metadata
    assert card.data.base_model == meta["base_model"]
    assert card.data.base_model_relation == relation
    assert card.data.datasets == meta["datasets"]
    assert card.data.license == details.license


def test_model_card_has_mitchell_sections_and_marks_the_unknown(sample) -> None:
    text = sample.export(MERGE, "model-card").content.decode()
    _, body = split_card(text)
    headings = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    assert headings == [
        "Model details",
        "Intended use",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
    ]
    for section in ("Intended use", "Factors", "Metrics", "Caveats and recommendations"):
        assert UNKNOWN in body.split(f"## {section}")[1].split("\n## ")[0]
    # What is known is filled in: every ancestry link is a row of the lineage table.
    _, links, _ = expected(sample, MERGE)
    rows = [line for line in body.splitlines() if line.startswith("| [")]
    assert len(rows) == len(links)
    assert "8,030,261,248" in body


def hostile_facts() -> ModelFacts:
    evil = "mit\n---\nbase_model: evil/model\n<script>alert(1)</script>"
    details = NodeDetails(
        id="org/model",
        kind=NodeKind.MODEL,
        stub=False,
        url=None,
        author="org",
        license=evil,
        pipeline_tag="text-generation: {x: [1]}",
        library_name="](javascript:alert(1)) *bold* | cell",
        parents=[],
        parents_by_relation={},
        children_by_relation={},
        children=0,
        datasets=[],
        descendants=0,
        generations=0,
        important_parents=[],
        important_children=[],
        ranking=[],
        created_at=datetime(2024, 1, 2),
    )
    return ModelFacts(
        details=details,
        ancestors=[],
        links=[],
        datasets=["a/b\n---\nlicense: gpl", "c/d'\"#"],
        truncated=False,
    )


def test_model_card_escapes_hostile_values() -> None:
    from huggingface_hub import ModelCard

    facts = hostile_facts()
    text = render_card(facts)
    meta, body = split_card(text)
    # Each value comes back whole, in its own field: nothing escaped into the front matter.
    assert set(meta) == {"datasets", "license", "pipeline_tag", "library_name"}
    assert meta["license"] == facts.details.license
    assert meta["pipeline_tag"] == facts.details.pipeline_tag
    assert meta["datasets"] == facts.datasets
    assert ModelCard(text).data.license == facts.details.license
    # In the body: no HTML, no link or emphasis made of the values, no broken table row.
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "\\](javascript" in body and "](javascript" not in body.replace("\\](", "")
    assert "*bold*" not in body and "\\*bold\\*" in body
    assert "(<https://huggingface.co/datasets/a/b%0A---%0Alicense%3A%20gpl>)" in body
    assert not [line for line in body.splitlines() if line.startswith(("---", "license"))]
    assert "no base model is known" in body


# -- the model page's download menu -----------------------------------------------------------


def test_model_page_offers_every_format_in_both_languages(sample) -> None:
    import html
    import re

    from fastapi.testclient import TestClient

    from filiation import exports
    from filiation.api import create_app

    client = TestClient(create_app(sample))
    for lang, title in (("en", "Download the lineage"), ("fr", "Télécharger la filiation")):
        page = client.get(f"/{lang}/models/{MERGE}")
        assert page.status_code == 200
        assert title in page.text
        links = re.findall(r'<a href="([^"]+)" download data-format="([^"]+)">', page.text)
        assert sorted(f for _, f in links) == sorted(exports.formats())
        for url, fmt in links:
            response = client.get(html.unescape(url))
            assert response.status_code == 200, (fmt, response.text[:200])
            assert "attachment" in response.headers["content-disposition"]
            assert response.headers["content-type"].startswith(exports.get(fmt).media_type)


def test_odd_ids_from_an_edge_list_still_give_valid_documents(new_db, tmp_path) -> None:
    """Edge lists are written by people: ids with spaces, quotes, markup and '#' must not
    break any format (nor reach the card unescaped)."""
    import csv
    import io

    import spdx_python_model
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    import filiation

    child, parent, data = 'evil org/child "x" & y', "org/base <script>", "data/set#1 ?q"
    edges = tmp_path / "edges.csv"
    with edges.open("w", newline="") as f:
        csv.writer(f).writerows(
            [
                ["parent_id", "child_id", "relation"],
                [parent, child, "adapter"],
                [data, child, "trained_on"],
            ]
        )
    g = filiation.open(new_db("odd"), load_bundled=False)
    g.ingest_edges(edges)
    bom = g.export(child, "cyclonedx").content.decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bom) is None
    assert json.loads(bom)["metadata"]["component"]["pedigree"]["ancestors"][0]["name"] == parent
    model, objects = spdx_python_model.load_data(json.loads(g.export(child, "spdx").content))
    model.JSONLDSerializer().write(objects, io.BytesIO())
    assert {p.name for p in objects.foreach_type(model.ai_AIPackage)} == {child, parent}
    meta, body = split_card(g.export(child, "model-card").content.decode())
    assert meta == {"base_model": parent, "base_model_relation": "adapter", "datasets": [data]}
    assert "<script>" not in body and "&lt;script&gt;" in body
