"""``filiation export``: one format registry behind the CLI, the Python API and the JSON API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from filiation import exports
from filiation.api import create_app
from filiation.cli import app
from filiation.errors import InvalidArgumentError

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def test_json_export_is_the_documented_lineage(sample) -> None:
    exported = sample.export(LLAMA.lower(), "json", direction="descendants", max_depth=1)
    assert exported.media_type == "application/json"
    assert exported.filename == "meta-llama_Llama-3.1-8B-Instruct.json"
    doc = json.loads(exported.content)
    direct = sample.descendants(LLAMA, max_depth=1)
    assert doc["root"] == LLAMA
    assert sorted(n["id"] for n in doc["nodes"]) == sorted(n["id"] for n in direct.nodes)


def test_unknown_format_or_direction_lists_what_exists(sample) -> None:
    with pytest.raises(InvalidArgumentError, match="json"):
        sample.export(LLAMA, "docx")
    with pytest.raises(InvalidArgumentError, match="ancestors, descendants or both"):
        sample.export(LLAMA, "json", direction="sideways")


def test_cli_writes_the_file_whole(sample_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "llama.json"
    runner = CliRunner()
    result = runner.invoke(
        app, ["--db", str(sample_db), "export", LLAMA, "-f", "json", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_bytes())["root"] == LLAMA
    assert not list(tmp_path.glob(".*.part"))
    bad = runner.invoke(app, ["--db", str(sample_db), "export", LLAMA, "-f", "docx"])
    assert bad.exit_code == 2
    assert "unknown export format" in bad.output


def test_api_serves_an_attachment(sample) -> None:
    client = TestClient(create_app(sample))
    response = client.get(f"/api/models/{LLAMA}/export", params={"format": "json"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert json.loads(response.content)["root"] == LLAMA
    assert client.get(f"/api/models/{LLAMA}/export", params={"format": "x"}).status_code == 422


def test_every_registered_format_names_a_media_type() -> None:
    for name, fmt in exports.formats().items():
        assert fmt.name == name and "/" in fmt.media_type and fmt.extension
