"""The lineage as filiation's documented JSON (docs/json.md), as ``--json`` prints it."""

from __future__ import annotations

from filiation.exports import ExportFormat, ExportInput, register


def render(answer: ExportInput) -> bytes:
    return answer.lineage.to_json(indent=True).encode()


register(
    ExportFormat(
        name="json",
        media_type="application/json",
        extension="json",
        description="the lineage as filiation JSON (nodes, links, depths; docs/json.md)",
        render=render,
    )
)
