"""``filiation scan PATH --register``: models found on disk recorded in the registry.

The folders are the real ones of tests/test_scan.py (a LoRA saved by ``peft``, fine-tunes
saved by ``transformers``, a GGUF, a mergekit merge, a cache snapshot, broken files); the
registry is a copy of the real sample store (SQLite and PostgreSQL), so Hub parents resolve
against real data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from filiation.errors import PermissionDeniedError
from filiation.registry.service import Registry
from filiation.sources.local_folder import scan
from tests import test_scan
from tests.backends import Stores

models = test_scan.models  # the module's folders, built once here too
LLAMA, LLAMA_BASE, MERGED = test_scan.LLAMA, test_scan.LLAMA_BASE, test_scan.MERGED
PASSWORD = "a long enough password"


@pytest.fixture()
def reg(reg_db: Any) -> Registry:
    return filiation.open(reg_db).registry


@pytest.fixture()
def users(reg: Registry) -> dict[str, Any]:
    admin = reg.add_user("admin", "admin", PASSWORD, actor=None)
    return {
        "admin": admin,
        "editor": reg.add_user("edith", "editor", PASSWORD, actor=admin),
        "viewer": reg.add_user("victor", "viewer", PASSWORD, actor=admin),
    }


def test_found_models_are_registered_with_inferred_links(
    reg: Registry, users: dict[str, Any], models: Path
) -> None:
    report = reg.register_scan(scan(models), actor=users["editor"])
    assert sorted(report.created) == sorted(m.id for m in scan(models).models)
    assert report.updated == report.unchanged == []
    # The Hub parents known to the genealogy are registered once each, by their Hub id.
    assert sorted(report.hub_models) == sorted({LLAMA, LLAMA_BASE, MERGED[0]})
    hub = reg.model(LLAMA)
    assert hub.hub_id == LLAMA and hub.derived_from is None

    lora = reg.model("local/team--lora")
    assert (lora.derived_from, lora.derived_relation) == (LLAMA, "adapter")
    assert lora.derived_provenance == "inferred"
    assert lora.derived_evidence == (
        "team/lora/adapter_config.json:base_model_name_or_path; team/lora/README.md:base_model"
    )
    gguf = reg.model("local/gguf")
    assert (gguf.derived_from, gguf.derived_relation) == (LLAMA, "quantized")
    assert gguf.derived_evidence == "gguf/tiny-q8_0.gguf:general.base_model.0.repo_url"
    assert reg.model("local/old-ft").derived_from == LLAMA_BASE
    # A parent that is another model of the scan is linked to that registered model.
    local = reg.model("local/ft-from-local")
    assert (local.derived_from, local.derived_relation) == ("local/base", "finetune")
    assert local.training_datasets == ["HuggingFaceH4/ultrachat_200k"]
    # A merge keeps one parent in the registry; the evidence names the other.
    merge = reg.model("local/merge")
    assert merge.derived_relation == "merge" and merge.derived_from == MERGED[0]
    assert MERGED[1] in (merge.derived_evidence or "")
    assert "mergekit_config.yml:models" in (merge.derived_evidence or "")
    # A cache snapshot of a model the genealogy does not know is registered by its id.
    awq = reg.model("someorg/Llama-3.1-8B-Instruct-AWQ")
    assert (awq.hub_id, awq.derived_from, awq.derived_relation) == (None, LLAMA, "quantized")
    assert "README.md:base_model_relation" in (awq.derived_evidence or "")
    assert reg.model("local/broken").derived_from is None
    # The adapter's ancestry goes on into the public genealogy.
    ancestry = [a.id for a in reg.ancestry(lora.id).ancestors]
    assert ancestry[:2] == ["local/team--lora", LLAMA] and LLAMA_BASE in ancestry
    # Every change is in the history, as the acting user.
    created = reg.history("model", lora.id)
    assert [h.action for h in created] == ["create", "update"]
    assert {h.user for h in created} == {"edith"}
    assert created[-1].after["derived_provenance"] == "inferred"
    assert reg.history("model", hub.id)[0].user == "edith"


def test_registering_again_changes_nothing_and_reuses_the_hub_model(
    reg: Registry, users: dict[str, Any], models: Path
) -> None:
    mine = reg.create_model(
        {"name": "Llama instruct", "hub_id": LLAMA.lower()}, actor=users["editor"]
    )
    first = reg.register_scan(scan(models / "team"), actor=users["editor"])
    assert first.created == ["local/lora"] and first.hub_models == []
    assert reg.model("local/lora").derived_from == "Llama instruct" == mine.name
    entries = len(reg.history())
    again = reg.register_scan(scan(models / "team"), actor=users["editor"])
    assert again.unchanged == ["local/lora"] and again.created == again.updated == []
    assert len(reg.history()) == entries
    # A person changing the derivation declares it; the scan's evidence goes away.
    reg.update_model("local/lora", {"derived_relation": "finetune"}, actor=users["editor"])
    changed = reg.model("local/lora")
    assert (changed.derived_provenance, changed.derived_evidence) == ("declared", None)
    # Scanned again, the file's word is recorded again.
    assert reg.register_scan(scan(models / "team"), actor=users["admin"]).updated == ["local/lora"]
    back = reg.model("local/lora")
    assert (back.derived_relation, back.derived_provenance) == ("adapter", "inferred")
    assert reg.history("model", back.id)[-1].user == "admin"


def test_a_viewer_cannot_register_and_nothing_is_written(
    reg: Registry, users: dict[str, Any], models: Path
) -> None:
    with pytest.raises(PermissionDeniedError):
        reg.register_scan(scan(models), actor=users["viewer"])
    assert reg.models() == [] and [h.record_kind for h in reg.history()] == ["user"] * 3


def test_cli_scan_register_acts_as_the_registry_user(
    reg: Registry, users: dict[str, Any], reg_db: Any, models: Path
) -> None:
    run = lambda *args: CliRunner().invoke(app, ["--db", str(reg_db), "scan", *args])  # noqa: E731
    refused = run(str(models / "team"), "--register", "--user", "victor")
    assert refused.exit_code == 7 and "editor role" in refused.stderr
    unknown = run(str(models / "team"), "--register", "--user", "nobody")
    assert unknown.exit_code == 6
    assert reg.models() == []
    done = run(str(models / "team"), "--register", "--user", "edith", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["registered"]["created"] == ["local/lora"]
    assert doc["registered"]["hub_models"] == [LLAMA]
    table = run(str(models / "team"), "--register", "-u", "edith")
    assert table.exit_code == 0, table.output
    assert "registry: unchanged: local/lora" in table.stdout
    lora = reg.model("local/lora")
    assert (lora.derived_from, lora.derived_provenance) == (LLAMA, "inferred")
    # Links that cannot be recorded are named, with the reason, and the rest is written.
    tree = run(str(models), "--register", "-u", "edith")
    assert tree.exit_code == 0, tree.output
    assert "registry: created:" in tree.stdout
    assert reg.model("local/team--lora").derived_from == LLAMA


def test_parents_that_cannot_be_linked_are_reported(
    reg: Registry, users: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text(
        json.dumps({"_name_or_path": "someone/not-on-the-hub", "model_type": "llama"})
    )
    (tmp_path / "mine" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "../elsewhere/base"})
    )
    report = reg.register_scan(scan(tmp_path), actor=users["editor"])
    assert report.created == ["local/mine"]
    why = {(s.parent or "").split(" (")[0]: s.reason for s in report.skipped}
    assert why["someone/not-on-the-hub"].startswith("neither a Hub model")
    assert why["../elsewhere/base"] == "a local path outside the scan"
    assert reg.model("local/mine").derived_from is None


def test_model_page_shows_the_inferred_link_and_its_evidence(
    reg_db: Any, users: dict[str, Any], models: Path
) -> None:
    from fastapi.testclient import TestClient

    from filiation.api import create_app
    from tests.test_registry_web import login, page_ok

    g = filiation.open(reg_db)
    g.registry.register_scan(scan(models / "team"), actor=users["editor"])
    lora = g.registry.model("local/lora")
    with TestClient(create_app(g)) as client:
        login(client, "victor")
        en = page_ok(client.get(f"/en/registry/models/{lora.id}"))
        assert 'id="provenance">inferred (read from a file on disk)<' in en
        assert 'id="evidence">lora/adapter_config.json:base_model_name_or_path; ' in en
        fr = page_ok(client.get(f"/fr/registry/models/{lora.id}"))
        assert 'id="provenance">déduit (lu dans un fichier sur disque)<' in fr
        assert "Aucun enregistré." in fr  # no training run


def test_migration_0006_marks_earlier_derivations_declared(stores: Stores, fresh_db: Any) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from filiation.store import migrations
    from filiation.store.store import _url

    engine = create_engine(_url(fresh_db)[0], poolclass=NullPool)
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), "0005")
        for i, parent in ((1, None), (2, 1)):
            conn.execute(
                text(
                    "INSERT INTO registry_models (id, key, name, open_weights, "
                    "training_datasets, personal_data, derived_from, derived_relation, "
                    "created_at) VALUES (:i, :k, :k, false, '[]', false, :p, :r, :at)"
                ),
                {
                    "i": i,
                    "k": f"m{i}",
                    "p": parent,
                    "r": "finetune" if parent else None,
                    "at": "2026-11-01 10:00:00",
                },
            )
    engine.dispose()
    reg = filiation.open(fresh_db).registry  # opening the store upgrades it
    assert reg.model("m2").derived_provenance == "declared"
    assert reg.model("m1").derived_provenance is None
    head = [(migrations.HEAD,)]  # opened, the store is upgraded to the newest revision
    assert stores.rows(fresh_db, "SELECT version_num FROM alembic_version") == head
