"""A model's lineage as SPDX 3.0.1 JSON-LD, with the AI and Dataset profiles.

The model and each model it derives from are ``ai_AIPackage`` elements, its training data
sets ``dataset_DatasetPackage`` elements. Each link of the ancestry is a ``descendantOf``
relationship from the derived model to its parent (whose ``comment`` is filiation's relation
name: ``finetune``, ``quantized``, ``adapter``, ``merge`` or ``unspecified``), and each parent
has one ``ancestorOf`` relationship to the models derived from it; the model is
``trainedOn`` its data sets. The document is built with ``spdx-python-model`` (the SPDX
project's own bindings, generated from the SPDX 3.0.1 model), which checks types, patterns
and cardinalities as objects are built and written, and reads the document back in the tests.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from filiation import __version__
from filiation.domain import AUTHOR_ORGANISATION, AUTHOR_PERSON, NodeKind
from filiation.exports.facts import TOOL, ModelFacts, model_format
from filiation.i18n import counted
from filiation.results import hub_url

_LICENSE_REF = re.compile(r"[^A-Za-z0-9.-]+")


def _spdx_license(value: str) -> str:
    """An SPDX licence expression for a Hub licence tag: the SPDX id when the tag is one
    (``apache-2.0`` → ``Apache-2.0``), else a ``LicenseRef-`` (``llama3.1``, ``other``)."""
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    try:
        parsed = licensing.parse(value, validate=True, strict=True)
    except Exception:  # an unknown tag: the library raises several kinds of errors
        parsed = None
    if parsed is not None and not licensing.unknown_license_keys(parsed):
        return str(parsed)
    return "LicenseRef-" + (_LICENSE_REF.sub("-", value).strip("-") or "unknown")


@model_format(
    name="spdx",
    media_type="application/spdx+json",
    extension="spdx.json",
    description="SPDX 3.0.1 JSON-LD (AI and Dataset profiles): ancestry, trainedOn data sets",
)
def build(facts: ModelFacts) -> dict[str, Any]:
    """The SPDX document as JSON-LD (a dict)."""
    from spdx_python_model import v3_0_1 as spdx

    d = facts.details
    namespace = f"urn:filiation:{uuid.uuid5(uuid.NAMESPACE_URL, 'filiation:' + d.id)}"

    def iri(kind: str, node_id: str) -> str:
        return f"{namespace}:{kind}:{quote(node_id, safe='')}"

    now = datetime.now(UTC).replace(microsecond=0)
    agent = spdx.SoftwareAgent(_id=iri("agent", TOOL), name=f"{TOOL} {__version__}")
    info = spdx.CreationInfo(specVersion="3.0.1", created=now, createdBy=[agent])
    agent.creationInfo = info
    tool = spdx.Tool(_id=iri("tool", TOOL), name=TOOL, creationInfo=info)
    info.createdUsing = [tool]
    elements: list[Any] = [agent, tool]
    authors: dict[str, Any] = {}

    def agent(name: str | None) -> Any:
        """The author as SPDX's ``Person`` or ``Organization`` when a source typed it, else
        as a plain ``Agent`` (SPDX 3's element for "a person, an organisation or software",
        the honest value when nobody said which)."""
        if not name:
            return None
        if name not in authors:
            kind = {AUTHOR_PERSON: spdx.Person, AUTHOR_ORGANISATION: spdx.Organization}.get(
                facts.author_types.get(name, ""), spdx.Agent
            )
            authors[name] = kind(_id=iri("author", name), name=name, creationInfo=info)
            elements.append(authors[name])
        return authors[name]

    def on_the_hub(kind: NodeKind, node_id: str) -> dict[str, Any]:
        """What a model's and a data set's packages say alike: their IRI, their id as name,
        the document's creation and where the Hub serves them."""
        return {
            "_id": iri(kind.value, node_id),
            "name": node_id,
            "creationInfo": info,
            "software_downloadLocation": hub_url(kind, node_id),
        }

    def package(node_id: str, author: str | None) -> Any:
        pkg = spdx.ai_AIPackage(
            **on_the_hub(NodeKind.MODEL, node_id),
            software_primaryPurpose=spdx.software_SoftwarePurpose.model,
        )
        supplier = agent(author)
        if supplier is not None:
            pkg.suppliedBy = supplier
        elements.append(pkg)
        return pkg

    model = package(d.id, d.author)
    if d.pipeline_tag:
        model.ai_domain = [d.pipeline_tag]
    if d.created_at:
        model.releaseTime = d.created_at.replace(tzinfo=UTC, microsecond=0)
    notes = [f"library: {d.library_name}" if d.library_name else None]
    if d.parameters:
        notes.append(f"parameters: {d.parameters}")
    notes.append(f"citations: {counted(d.citations, 'model names', 'models name')} it as a parent")
    if facts.truncated:
        notes.append("ancestry truncated by the export's bounds")
    if any(notes):
        model.comment = "; ".join(n for n in notes if n)
    packages = {d.id: model}
    for a in facts.ancestors:
        packages[a.id] = package(a.id, a.author)

    def relationship(kind: str, rel_type: Any, src: Any, to: list[Any], comment: str) -> Any:
        r = spdx.Relationship(
            _id=iri("relationship", f"{kind}-{len(elements)}"),
            creationInfo=info,
            from_=src,
            to=to,
            relationshipType=rel_type,
            completeness=spdx.RelationshipCompleteness.noAssertion,
        )
        if comment:
            r.comment = comment
        elements.append(r)
        return r

    children: dict[str, list[Any]] = {}
    for link in facts.links:
        if link.parent not in packages or link.child not in packages:
            continue
        relationship(
            "derived",
            spdx.RelationshipType.descendantOf,
            packages[link.child],
            [packages[link.parent]],
            link.relation.value,
        )
        children.setdefault(link.parent, []).append(packages[link.child])
    for parent, kids in children.items():
        relationship("ancestor", spdx.RelationshipType.ancestorOf, packages[parent], kids, "")

    datasets = []
    for ds in facts.datasets:
        pkg = spdx.dataset_DatasetPackage(
            **on_the_hub(NodeKind.DATASET, ds),
            software_primaryPurpose=spdx.software_SoftwarePurpose.data,
            dataset_datasetType=[spdx.dataset_DatasetType.noAssertion],
        )
        elements.append(pkg)
        datasets.append(pkg)
    if datasets:
        relationship("trained", spdx.RelationshipType.trainedOn, model, datasets, "")
    if d.license:
        expression = spdx.simplelicensing_LicenseExpression(
            _id=iri("license", d.license),
            creationInfo=info,
            simplelicensing_licenseExpression=_spdx_license(d.license),
        )
        elements.append(expression)
        relationship(
            "license", spdx.RelationshipType.hasDeclaredLicense, model, [expression], d.license
        )

    document = spdx.SpdxDocument(
        _id=iri("document", d.id),
        name=f"Lineage of {d.id}",
        creationInfo=info,
        rootElement=[model],
        element=[e for e in elements if e is not agent],
        profileConformance=[
            spdx.ProfileIdentifierType.core,
            spdx.ProfileIdentifierType.software,
            spdx.ProfileIdentifierType.ai,
            spdx.ProfileIdentifierType.dataset,
            spdx.ProfileIdentifierType.simpleLicensing,
        ],
        dataLicense=spdx.simplelicensing_LicenseExpression(
            _id=iri("license", "CC0-1.0"),
            creationInfo=info,
            simplelicensing_licenseExpression="CC0-1.0",
        ),
    )
    objects = spdx.SHACLObjectSet([document, *elements])
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, out)
    return json.loads(out.getvalue())
