"""A model's lineage as a CycloneDX 1.6 ML-BOM (JSON).

The model is the BOM's subject (``metadata.component``, type ``machine-learning-model``)
with a model card; the models it derives from are ``pedigree.ancestors``; the data sets it
was trained on are ``data`` components that the model card's ``modelParameters.datasets``
refers to. CycloneDX has no field for "derived by quantization/merge/...", so each link of
the ancestry is a property of the derived component, ``filiation:parent:<relation>`` =
parent id (properties are the format's extension point), which lets a reader rebuild the
family tree, merges with several parents included.

The BOM is built with ``cyclonedx-python-lib``. Its 11.x releases do not model a
component's ``modelCard`` nor its ``data`` yet (upstream issue CycloneDX/cyclonedx-python-lib
#911), so those two objects are added to the library's JSON output; the whole document is
checked against the official 1.6 schema the library ships in the tests.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from filiation import __version__
from filiation.domain import AUTHOR_ORGANISATION, AUTHOR_PERSON, NodeKind
from filiation.exports.facts import TOOL, ModelFacts, model_format
from filiation.results import hub_url

if TYPE_CHECKING:
    from cyclonedx.model.component import Component


#: Property names, in the ``filiation:`` namespace of the BOM's properties.
PARENT_PROPERTY = "filiation:parent:"  # + relation; value: the parent's id
DECLARED_PROPERTY = "filiation:declared-parent"  # value: parent id, when the publisher said so


def model_ref(node_id: str) -> str:
    return f"model:{node_id}"


def dataset_ref(node_id: str) -> str:
    return f"dataset:{node_id}"


def _component(facts: ModelFacts, node_id: str, author: str | None) -> Component:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity

    properties = []
    for link in facts.parents_of(node_id):
        properties.append(Property(name=PARENT_PROPERTY + link.relation.value, value=link.parent))
        if link.declared:
            properties.append(Property(name=DECLARED_PROPERTY, value=link.parent))
    url = hub_url(NodeKind.MODEL, node_id)
    # CycloneDX has both notions: an organisation supplies, a person authors; the plain
    # ``publisher`` text is all that is said of an author of unknown type.
    kind = facts.author_types.get(author or "")
    supplier = OrganizationalEntity(name=author) if kind == AUTHOR_ORGANISATION else None
    authors = [OrganizationalContact(name=author)] if kind == AUTHOR_PERSON else None
    return Component(
        supplier=supplier,
        authors=authors,
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=node_id,
        bom_ref=model_ref(node_id),
        publisher=author,
        external_references=[ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(url))]
        if url
        else None,
        properties=properties,
    )


@model_format(
    name="cyclonedx",
    media_type="application/vnd.cyclonedx+json",
    extension="cdx.json",
    description="CycloneDX 1.6 ML-BOM: the model, its model card, ancestors, data sets",
)
def build(facts: ModelFacts) -> dict[str, Any]:
    """The BOM as a JSON document (a dict), ready to be written."""
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType, Pedigree
    from cyclonedx.output.json import JsonV1Dot6

    d = facts.details
    subject = _component(facts, d.id, d.author)
    if d.license:
        subject.licenses.add(LicenseFactory().make_from_string(d.license))
    for name, value in (
        ("filiation:library", d.library_name),
        ("filiation:parameters", d.parameters),
        ("filiation:citations", d.citations),
        ("filiation:created", d.created_at.isoformat() if d.created_at else None),
        ("filiation:ancestry-truncated", "true" if facts.truncated else None),
    ):
        if value is not None:
            subject.properties.add(Property(name=name, value=str(value)))
    if facts.ancestors:
        subject.pedigree = Pedigree(
            ancestors=[_component(facts, a.id, a.author) for a in facts.ancestors]
        )
    datasets = []
    for ds in facts.datasets:
        url = hub_url(NodeKind.DATASET, ds)
        datasets.append(
            Component(
                type=ComponentType.DATA,
                name=ds,
                bom_ref=dataset_ref(ds),
                external_references=[
                    ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(url))
                ]
                if url
                else None,
            )
        )
    bom = Bom(components=datasets)
    # The same model and snapshot give the same serial number.
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, f"filiation:{d.id}:{facts.links}")
    bom.metadata.component = subject
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name=TOOL, version=__version__)
    )
    for ds in datasets:
        bom.register_dependency(subject, [ds])
    doc = json.loads(JsonV1Dot6(bom).output_as_string())
    doc["metadata"]["component"]["modelCard"] = _model_card(facts)
    for component in doc.get("components", []):
        if component.get("type") == "data":
            component["data"] = [{"type": "dataset", "name": component["name"]}]
    return doc


def _model_card(facts: ModelFacts) -> dict[str, Any]:
    """CycloneDX's model card: what filiation knows; CycloneDX has no "unknown" marker, so
    what is unknown is left out."""
    d = facts.details
    params: dict[str, Any] = {}
    if d.pipeline_tag:
        params["task"] = d.pipeline_tag
    if facts.ancestors:
        # The farthest ancestor without parents is the family's origin (Llama-3.1-8B...).
        roots = [a for a in facts.ancestors if not facts.parents_of(a.id)]
        if roots:
            params["architectureFamily"] = max(roots, key=lambda a: (a.depth, a.id)).id
    if facts.datasets:
        params["datasets"] = [{"ref": dataset_ref(ds)} for ds in facts.datasets]
    card: dict[str, Any] = {"bom-ref": f"model-card:{d.id}"}
    if params:
        card["modelParameters"] = params
    card["properties"] = [
        {"name": "filiation:base-model", "value": link.parent} for link in facts.base_models
    ] or [{"name": "filiation:base-model", "value": "none known"}]
    return card
