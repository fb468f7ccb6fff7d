"""A model card in Markdown, pre-filled from what filiation knows, ready to publish on the Hub.

The body follows the sections of Mitchell et al., *Model Cards for Model Reporting* (2019):
model details, intended use, factors, metrics, evaluation data, training data, quantitative
analyses, ethical considerations, caveats and recommendations. What filiation knows (the
lineage, licence, data sets, task, library, size) is filled in; every other part says
plainly that it is unknown, so nobody mistakes a blank for "nothing to declare".

The YAML front matter carries the Hub's own lineage fields (``base_model``,
``base_model_relation``, ``datasets``, ``license``, ``pipeline_tag``, ``library_name``), written
by a YAML library so that values read from other cards cannot break out of their field; the
body escapes them for Markdown and HTML.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote

import yaml

from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation
from filiation.exports.facts import ModelFacts, model_format
from filiation.i18n import counted
from filiation.results import hub_url
from filiation.safe_text import md_text

UNKNOWN = "**Unknown to filiation: to be completed by the model's publisher.**"

#: The relations the Hub's ``base_model_relation`` names, by the same words as ours (a plain
#: fine-tune is the Hub's default): the model-to-model ones but ``unspecified``.
HUB_RELATIONS = frozenset(LINEAGE_RELATIONS) - {Relation.UNSPECIFIED}

#: Plain text safe inside Markdown: no HTML, no emphasis, links or tables, one line.
md = md_text


def link(kind: NodeKind, node_id: str) -> str:
    url = hub_url(kind, quote(node_id, safe="/"))
    return f"[{md(node_id)}](<{url}>)" if url else md(node_id)


def base_model_relation(facts: ModelFacts) -> str | None:
    """The one relation the Hub records between a model and its base models, if it has one:
    ``merge`` for a model with several parents merged, else the parents' shared relation."""
    relations = Counter(link.relation for link in facts.base_models)
    if not relations:
        return None
    if Relation.MERGE in relations:
        return Relation.MERGE.value
    relation = next(iter(relations))
    return relation.value if len(relations) == 1 and relation in HUB_RELATIONS else None


def front_matter(facts: ModelFacts) -> dict[str, Any]:
    d = facts.details
    meta: dict[str, Any] = {}
    parents = list(dict.fromkeys(link.parent for link in facts.base_models))
    if parents:
        meta["base_model"] = parents[0] if len(parents) == 1 else parents
        relation = base_model_relation(facts)
        if relation:
            meta["base_model_relation"] = relation
    if facts.datasets:
        meta["datasets"] = list(facts.datasets)
    if d.license:
        meta["license"] = d.license
    if d.pipeline_tag:
        meta["pipeline_tag"] = d.pipeline_tag
    if d.library_name:
        meta["library_name"] = d.library_name
    return meta


@model_format(
    name="model-card",
    media_type="text/markdown; charset=utf-8",
    extension="md",
    description="a Hub model card (README.md): Mitchell et al. sections, lineage front matter",
)
def render_card(facts: ModelFacts) -> str:
    d = facts.details
    meta = front_matter(facts)
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
    out: list[str] = ["---", header.rstrip("\n") if meta else "", "---", ""]
    w = out.append

    w(f"# Model card for {md(d.id)}")
    w("")
    w(
        "Pre-filled by filiation from the lineage it knows (the Hub's metadata and recorded "
        "lineage). Sections marked unknown must be completed before publishing."
    )
    w("")
    w("## Model details")
    w("")
    w(f"- **Model:** {link(NodeKind.MODEL, d.id)}")
    kind = facts.author_types.get(d.author or "")
    by = link(NodeKind.AUTHOR, d.author) + (f" ({kind})" if kind else "") if d.author else UNKNOWN
    w(f"- **Developed by:** {by}")
    w(f"- **Created:** {md(d.created_at.date().isoformat()) if d.created_at else UNKNOWN}")
    w(f"- **Licence:** {md(d.license) if d.license else UNKNOWN}")
    w(f"- **Task:** {md(d.pipeline_tag) if d.pipeline_tag else UNKNOWN}")
    w(f"- **Library:** {md(d.library_name) if d.library_name else UNKNOWN}")
    w(f"- **Parameters:** {f'{d.parameters:,}' if d.parameters else UNKNOWN}")
    w(f"- **Citations:** {counted(d.citations, 'model names', 'models name')} it as a parent")
    if facts.base_models:
        bases = ", ".join(
            f"{link(NodeKind.MODEL, b.parent)} ({md(b.relation.value)})" for b in facts.base_models
        )
        w(f"- **Derived from:** {bases}")
    else:
        w("- **Derived from:** no base model is known to filiation.")
    w("")
    w("### Lineage")
    w("")
    if facts.links:
        w("Every model this one derives from, one link per line (child derives from parent).")
        w("")
        w("| model | relation | derives from | said by |")
        w("|---|---|---|---|")
        for lk in facts.links:
            said = "the publisher" if lk.declared else "inferred"
            w(
                f"| {link(NodeKind.MODEL, lk.child)} | {md(lk.relation.value)} | "
                f"{link(NodeKind.MODEL, lk.parent)} | {md(said)}, {md(lk.source)} |"
            )
        if facts.truncated:
            w("")
            w("The lineage above was cut by the export's depth or size limit.")
    else:
        w("No ancestry is known to filiation.")
    w("")
    w("## Intended use")
    w("")
    w(f"- **Primary intended uses:** {UNKNOWN}")
    w(f"- **Primary intended users:** {UNKNOWN}")
    w(f"- **Out-of-scope uses:** {UNKNOWN}")
    w("")
    w("## Factors")
    w("")
    w(f"Relevant factors (groups, instrumentation, environments) and evaluation factors: {UNKNOWN}")
    w("")
    w("## Metrics")
    w("")
    w(f"Model performance measures, decision thresholds, variation approaches: {UNKNOWN}")
    w("")
    w("## Evaluation data")
    w("")
    w(f"Data sets, motivation, preprocessing: {UNKNOWN}")
    w("")
    w("## Training data")
    w("")
    if facts.datasets:
        w("Data sets this model was trained on, as declared on the Hub:")
        w("")
        for ds in facts.datasets:
            w(f"- {link(NodeKind.DATASET, ds)}")
        w("")
        w(f"Preprocessing and proportions: {UNKNOWN}")
    else:
        w(f"No training data set is known to filiation. {UNKNOWN}")
    ancestors_data = "the base models' own training data is not listed here"
    if facts.ancestors:
        w("")
        ancestors = counted(len(facts.ancestors), "ancestor model")
        w(f"This model inherits from {ancestors}; {ancestors_data}.")
    w("")
    w("## Quantitative analyses")
    w("")
    w(f"Unitary and intersectional results: {UNKNOWN}")
    w("")
    w("## Ethical considerations")
    w("")
    w(
        "Personal data may reach a model through its own training data or through any of its "
        "ancestors'; the lineage above says which models and data sets to check. "
        f"Risks, mitigations and sensitive use cases: {UNKNOWN}"
    )
    w("")
    w("## Caveats and recommendations")
    w("")
    w(f"{UNKNOWN}")
    w("")
    return "\n".join(out)
