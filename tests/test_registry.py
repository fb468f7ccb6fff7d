"""The registry of AI systems and models: validation, history, access, impact, Etalab CSV.

Each test gets its own copy of the real sample store (``backend``: SQLite and PostgreSQL),
so registry rows of one test never reach another, and Hub ids resolve against real data.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

import filiation
from filiation.errors import (
    AuthenticationError,
    EtalabImportError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.registry.etalab import COLUMNS
from filiation.registry.models import LearningType, parse_model, parse_system
from filiation.registry.service import Registry
from tests.backends import Stores

INVENTORY = Path(__file__).resolve().parent / "data" / "registry-etalab.csv"
ZEPHYR = "HuggingFaceH4/zephyr-7b-beta"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
ULTRACHAT = "HuggingFaceH4/ultrachat_200k"
PASSWORD = "a long enough password"


@pytest.fixture()
def g(reg_db: Any) -> filiation.Genealogy:
    return filiation.open(reg_db)


@pytest.fixture()
def reg(g: filiation.Genealogy) -> Registry:
    return g.registry


@pytest.fixture()
def admin(reg: Registry) -> Any:
    return reg.add_user("admin", "admin", PASSWORD, actor=None)


@pytest.fixture()
def editor(reg: Registry, admin: Any) -> Any:
    return reg.add_user("edith", "editor", PASSWORD, actor=admin)


@pytest.fixture()
def viewer(reg: Registry, admin: Any) -> Any:
    return reg.add_user("victor", "viewer", PASSWORD, actor=admin)


def problems(exc: pytest.ExceptionInfo[RegistryValidationError]) -> dict[str, str]:
    return {field: p.code for field, p in exc.value.fields.items()}


# -- field validation ------------------------------------------------------------------------------
VALID = {"name": "Zephyr", "description": "chat assistant"}
TOMORROW_PLUS = (date.today() + timedelta(days=5)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "   "}, "name", "required"),
        ({"name": "x" * 201}, "name", "too_long"),
        ({"name": "two\nlines"}, "name", "one_line"),
        ({"name": "bell\x07"}, "name", "control"),
        ({"description": "d" * 5001}, "description", "too_long"),
        ({"learning_type": "deep"}, "learning_type", "choice"),
        ({"provider": "p" * 201}, "provider", "too_long"),
        ({"version": "1\n2"}, "version", "one_line"),
        ({"model_card_url": "huggingface.co/x"}, "model_card_url", "url"),
        ({"model_card_url": "javascript:alert(1)"}, "model_card_url", "url"),
        ({"repository_url": "ftp://example.org/repo"}, "repository_url", "url"),
        ({"open_weights": "peut-être"}, "open_weights", "bool"),
        ({"open_weights": "no", "weights_url": "https://x.org"}, "weights_url", "weights_not_open"),
        ({"open_weights": "oui", "weights_url": "file:///etc/passwd"}, "weights_url", "url"),
        ({"updated_on": "23/13/2024"}, "updated_on", "date"),
        ({"updated_on": "yesterday"}, "updated_on", "date"),
        ({"updated_on": TOMORROW_PLUS}, "updated_on", "future"),
        ({"updated_on": "1900-01-01"}, "updated_on", "date"),
        ({"training_datasets": "good/id, bad id"}, "training_datasets", "dataset_id"),
        ({"personal_data": "2"}, "personal_data", "bool"),
        (
            {"hub_id": "a/b", "derived_from": "Other", "derived_relation": "finetune"},
            "derived_from",
            "hub_and_derived",
        ),
        ({"derived_from": "Other"}, "derived_relation", "required"),
        ({"derived_relation": "finetune"}, "derived_from", "required"),
        ({"derived_from": "Other", "derived_relation": "trained_on"}, "derived_relation", "choice"),
        ({"colour": "blue"}, "colour", "unknown_field"),
    ],
)
def test_each_model_field_is_validated(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(RegistryValidationError) as exc:
        parse_model({**VALID, **changes})
    assert problems(exc)[field] == code
    assert field in str(exc.value)


def test_valid_values_are_normalised() -> None:
    clean = parse_model(
        {
            **VALID,
            "learning_type": "Semi_Supervised",
            "open_weights": "OUI",
            "weights_url": "https://huggingface.co/x/y",
            "updated_on": "14/03/2025",
            "training_datasets": "a/b; c/d, A/B,\n e",
            "personal_data": "non",
        }
    )
    assert clean["learning_type"] == LearningType.SEMI_SUPERVISED
    assert clean["open_weights"] is True and clean["personal_data"] is False
    assert clean["updated_on"] == date(2025, 3, 14)
    assert clean["training_datasets"] == ["a/b", "c/d", "e"]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(RegistryValidationError) as exc:
        parse_model({"name": "", "model_card_url": "nope", "learning_type": "x"})
    assert problems(exc) == {"name": "required", "model_card_url": "url", "learning_type": "choice"}


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": ""}, "name", "required"),
        ({"owner": ""}, "owner", "required"),
        ({"role": "user"}, "role", "choice"),
        ({"role": ""}, "role", "required"),
        ({"status": "paused"}, "status", "choice"),
        ({"purpose": "p" * 5001}, "purpose", "too_long"),
    ],
)
def test_each_system_field_is_validated(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(RegistryValidationError) as exc:
        parse_system({"name": "Helpdesk", "owner": "Support", "role": "deployer", **changes})
    assert problems(exc)[field] == code


def test_checks_against_the_registry_and_the_genealogy(reg: Registry, editor: Any) -> None:
    base = reg.create_model({"name": "Base", "hub_id": LLAMA.lower()}, actor=editor)
    assert base.hub_id == LLAMA  # as published
    with pytest.raises(RegistryValidationError) as exc:
        reg.create_model({"name": "BASE"}, actor=editor)
    assert problems(exc) == {"name": "taken"}
    with pytest.raises(RegistryValidationError) as exc:
        reg.create_model({"name": "Typo", "hub_id": LLAMA[:-1]}, actor=editor)
    assert problems(exc) == {"hub_id": "hub_unknown"}
    assert LLAMA in exc.value.fields["hub_id"].values["suggestions"]
    with pytest.raises(RegistryValidationError) as exc:
        reg.create_model(
            {"name": "Child", "derived_from": "Nobody", "derived_relation": "finetune"},
            actor=editor,
        )
    assert problems(exc) == {"derived_from": "model_unknown"}
    with pytest.raises(RegistryValidationError) as exc:  # format and database problems at once
        reg.create_model({"name": "", "model_card_url": "x", "hub_id": LLAMA[:-1]}, actor=editor)
    assert problems(exc) == {"name": "required", "model_card_url": "url", "hub_id": "hub_unknown"}
    child = reg.create_model(
        {"name": "Child", "derived_from": "base", "derived_relation": "finetune"}, actor=editor
    )
    assert child.derived_from == "Base"
    with pytest.raises(RegistryValidationError) as exc:  # Base would derive from its child
        reg.update_model(
            "Base",
            {"hub_id": None, "derived_from": "Child", "derived_relation": "merge"},
            actor=editor,
        )
    assert problems(exc) == {"derived_from": "cycle"}
    system = reg.create_system(
        {"name": "Helpdesk", "owner": "Support", "role": "deployer"}, actor=editor
    )
    with pytest.raises(RegistryValidationError) as exc:
        reg.attach(system.id, child.id, "  ", actor=editor)
    assert problems(exc) == {"usage": "required"}
    reg.retire_model(child.id, actor=editor)
    with pytest.raises(RegistryValidationError) as exc:
        reg.attach(system.id, child.id, "drafts answers", actor=editor)
    assert problems(exc) == {"model": "retired"}
    assert [m.name for m in reg.models()] == ["Base"]
    assert reg.model("child").retired  # retired, never deleted
    with pytest.raises(RecordNotFoundError):
        reg.model("nothing")
    assert reg.system(f"#{system.id}") == reg.system(system.id) == reg.system("helpdesk")
    # "2" is a name, not a number: the error says how a number is written
    hint = rf"named '{system.id}' \(by number: '#{system.id}'\)"
    with pytest.raises(RecordNotFoundError, match=hint):
        reg.system(str(system.id))
    with pytest.raises(RecordNotFoundError, match=r"no registered system #999;"):
        reg.system(999)


# -- history ------------------------------------------------------------------------------------
def test_history_records_each_change(
    reg: Registry, editor: Any, stores: Stores, reg_db: Any
) -> None:
    m = reg.create_model({"name": "Zephyr", "hub_id": ZEPHYR}, actor=editor)
    reg.update_model(m.id, {"description": "assistant", "version": "beta"}, actor=editor)
    reg.update_model(m.id, {"description": "assistant"}, actor=editor)  # no change: no entry
    s = reg.create_system(
        {"name": "Helpdesk", "owner": "Support", "role": "deployer"}, actor=editor
    )
    reg.attach(s.id, m.id, "drafts answers", actor=editor)
    reg.attach(s.id, m.id, "drafts and ranks answers", actor=editor)
    reg.detach(s.id, m.id, actor=editor)
    reg.update_system(s.id, {"status": "production"}, actor=editor)
    reg.retire_model(m.id, actor=editor)

    model_h = reg.history("model", m.id)
    assert [h.action for h in model_h] == ["create", "update", "retire"]
    assert all(h.user == "edith" for h in model_h)
    assert model_h[0].before is None and model_h[0].after["hub_id"] == ZEPHYR
    assert model_h[1].changes() == [
        ("description", None, "assistant"),
        ("version", None, "beta"),
    ]
    system_h = reg.history("system", "helpdesk")
    assert [h.action for h in system_h] == ["create", "attach", "attach", "detach", "update"]
    assert system_h[2].before == {"model": "Zephyr", "usage": "drafts answers"}
    assert system_h[2].after == {"model": "Zephyr", "usage": "drafts and ranks answers"}
    assert system_h[3].after is None
    assert system_h[4].changes() == [("status", "development", "production")]
    assert reg.system(s.id).uses == []
    # Append-only: the database itself refuses to change or remove an entry.
    for sql in ("UPDATE registry_history SET user_name = 'x'", "DELETE FROM registry_history"):
        with pytest.raises(DBAPIError, match="append-only"):
            stores.rows(reg_db, sql)
    assert len(reg.history()) == len(model_h) + len(system_h) + 2  # + two user creations


# -- access ---------------------------------------------------------------------------------------
def test_roles_and_secrets(
    reg: Registry, admin: Any, editor: Any, viewer: Any, stores: Stores, reg_db: Any
) -> None:
    with pytest.raises(AuthenticationError):
        reg.create_model({"name": "X"}, actor=None)
    with pytest.raises(PermissionDeniedError):
        reg.create_model({"name": "X"}, actor=viewer)
    with pytest.raises(PermissionDeniedError):
        reg.add_user("mallory", "admin", PASSWORD, actor=editor)
    with pytest.raises(PermissionDeniedError):
        reg.create_token("edith", "steal", actor=viewer)
    assert reg.models() == []
    assert reg.authenticate("edith", PASSWORD).role == "editor"
    with pytest.raises(AuthenticationError):
        reg.authenticate("edith", PASSWORD + "!")
    with pytest.raises(AuthenticationError):
        reg.authenticate("nobody", PASSWORD)
    token = reg.create_token("edith", "ci", actor=editor)
    assert reg.user_for_token(token).name == "edith"
    # Only hashes are stored: an Argon2id hash per password, a SHA-256 digest per token.
    hashes = [h for (h,) in stores.rows(reg_db, "SELECT password_hash FROM registry_users")]
    assert all(h.startswith("$argon2id$") for h in hashes) and len(hashes) == 3
    stored = " ".join(str(r) for r in stores.rows(reg_db, "SELECT * FROM registry_tokens"))
    assert token not in stored and token[4:] not in stored
    reg.disable_user("edith", actor=admin)
    with pytest.raises(AuthenticationError):
        reg.user_for_token(token)
    with pytest.raises(AuthenticationError):
        reg.authenticate("edith", PASSWORD)
    assert [u.name for u in reg.users() if u.disabled] == ["edith"]


def test_the_first_user_must_be_an_admin(reg: Registry) -> None:
    with pytest.raises(PermissionDeniedError):
        reg.add_user("first", "editor", PASSWORD, actor=None)
    with pytest.raises(RegistryValidationError):
        reg.add_user("first", "admin", "short", actor=None)
    assert reg.users() == []
    reg.add_user("first", "admin", PASSWORD, actor=None)
    with pytest.raises(AuthenticationError):  # now an admin must add the others
        reg.add_user("second", "viewer", PASSWORD, actor=None)


# -- impact and ancestry ------------------------------------------------------------
def test_impact_through_public_and_registered_ancestors(
    g: filiation.Genealogy, reg: Registry, editor: Any
) -> None:
    zephyr_base = g.ancestors(ZEPHYR).ids()[0]  # Mistral-7B-v0.1 in the sample
    llama_base = g.ancestors(LLAMA).ids()[0]  # Llama-3.1-8B
    assert ULTRACHAT in [n.id for n in g.parents(ZEPHYR, relations=["trained_on"])]
    zephyr = reg.create_model({"name": "Zephyr", "hub_id": ZEPHYR}, actor=editor)
    reg.create_model({"name": "Llama instruct", "hub_id": LLAMA}, actor=editor)
    legal = reg.create_model(
        {
            "name": "Legal assistant",
            "derived_from": "Llama instruct",
            "derived_relation": "finetune",
            "training_datasets": "internal/legal-answers",
        },
        actor=editor,
    )
    chat = reg.create_system(
        {"name": "Chat", "owner": "Web team", "role": "deployer"}, actor=editor
    )
    legal_sys = reg.create_system(
        {"name": "Legal desk", "owner": "Legal", "role": "provider"}, actor=editor
    )
    old = reg.create_system(
        {"name": "Old bot", "owner": "Web team", "role": "deployer"}, actor=editor
    )
    reg.attach(chat.id, zephyr.id, "answers visitors", actor=editor)
    reg.attach(legal_sys.id, legal.id, "drafts replies to users", actor=editor)
    reg.attach(old.id, zephyr.id, "answered visitors", actor=editor)
    reg.retire_system(old.id, actor=editor)

    on_mistral = reg.impact(model=zephyr_base.lower())
    assert on_mistral.target == zephyr_base
    assert on_mistral.system_names() == ["Chat"]  # the retired system is left out
    assert on_mistral.systems[0].through == ["Zephyr", zephyr_base]
    assert on_mistral.systems[0].usage == "answers visitors"

    on_llama = reg.impact(model=llama_base)
    assert on_llama.system_names() == ["Legal desk"]
    assert on_llama.systems[0].through == ["Legal assistant", "Llama instruct", llama_base]
    assert {m.model for m in on_llama.models} == {"Llama instruct", "Legal assistant"}
    assert reg.impact(model="Llama instruct").system_names() == ["Legal desk"]
    assert reg.impact(model="legal assistant").systems[0].through == ["Legal assistant"]

    on_data = reg.impact(dataset=ULTRACHAT.upper())
    assert on_data.system_names() == ["Chat"]
    assert on_data.systems[0].through == ["Zephyr", ULTRACHAT]
    assert reg.impact(dataset="internal/legal-answers").system_names() == ["Legal desk"]
    unrelated = g.search("whisper", limit=1, kinds=["model"])[0].id
    assert reg.impact(model=unrelated).systems == []
    with pytest.raises(filiation.errors.NodeNotFoundError):
        reg.impact(model="nobody/nothing-at-all")


def test_ancestry_highlights_personal_data(
    g: filiation.Genealogy, reg: Registry, editor: Any
) -> None:
    # A public model two links below the data set: its parent was trained on it.
    below = next(n for n in g.impact(ULTRACHAT).nodes if n["depth"] == 2)
    child, trained_parent = below["id"], below["via"]
    reg.create_model({"name": "Our child", "hub_id": child}, actor=editor)
    internal = reg.create_model(
        {"name": "Internal", "derived_from": "Our child", "derived_relation": "quantized"},
        actor=editor,
    )
    before = reg.ancestry(internal.id)
    assert before.flagged == []
    ids = [a.id for a in before.ancestors]
    assert ids[:2] == ["Internal", "Our child"] and trained_parent in ids
    assert set(ids[2:]) == set(g.ancestors(child, limit=2000).ids())
    reg.flag_dataset(ULTRACHAT.lower(), actor=editor)
    after = reg.ancestry(internal.id)
    flagged = {a.id for a in after.ancestors if a.flagged}
    trained = {a.id for a in after.ancestors if ULTRACHAT in a.trained_on}
    assert trained_parent in flagged and flagged == trained
    assert all(a.personal_data == [ULTRACHAT] for a in after.ancestors if a.flagged)
    assert reg.history("dataset", ULTRACHAT)[0].after == {"personal_data": True, "note": None}
    # A record that declares personal data in training is highlighted too.
    reg.update_model("Internal", {"personal_data": True}, actor=editor)
    assert reg.ancestry(internal.id).ancestors[0].flagged


# -- Etalab ------------------------------------------------------------
def test_etalab_round_trip(
    reg: Registry, editor: Any, stores: Stores, sample_db: Any, tmp_path: Path
) -> None:
    text = INVENTORY.read_text(encoding="utf-8")
    report = reg.import_etalab(text, actor=editor)
    assert len(report.created) == 12 and report.updated == report.unchanged == []
    rows = list(csv.DictReader(io.StringIO(text)))
    assert set(COLUMNS) == set(rows[0])
    exported = reg.export_etalab().decode("utf-8")
    back = {r["nom"]: r for r in csv.DictReader(io.StringIO(exported))}
    for row in rows:  # every cell comes back as written (data sets: same list)
        assert back[row["nom"]] == row, row["nom"]
    legal = reg.model("Assistant juridique interne")
    assert legal.derived_from == "Llama 3.1 8B Instruct" and legal.personal_data
    assert '"sans"' in legal.description
    assert sum(1 for m in reg.models() if m.hub_id) == 9

    # Into another registry: the same records, and importing again changes nothing.
    other = filiation.open(stores.copy(sample_db, tmp_path, "other")).registry
    other_admin = other.add_user("admin", "admin", PASSWORD, actor=None)
    assert len(other.import_etalab(exported, actor=other_admin).created) == 12
    strip = lambda ms: sorted((m.fields() for m in ms), key=lambda f: f["name"])  # noqa: E731
    assert strip(other.models()) == strip(reg.models())
    assert other.export_etalab().decode("utf-8") == exported
    again = other.import_etalab(exported, actor=other_admin)
    assert again.created == again.updated == [] and len(again.unchanged) == 12
    edited = exported.replace("Modèle de langage conversationnel", "Modèle conversationnel")
    assert other.import_etalab(edited, actor=other_admin).updated == ["Llama 3.1 8B Instruct"]


def test_etalab_invalid_rows_are_reported_and_nothing_is_imported(
    reg: Registry, editor: Any
) -> None:
    lines = INVENTORY.read_text(encoding="utf-8").splitlines()
    bad = list(lines)
    bad[2] = bad[2].replace(",oui,https://huggingface.co/NousResearch", ",peut-être,https://x")
    bad[4] = bad[4].replace(
        "https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.3,https",
        "huggingface.co/mistralai,https",
    )
    bad[6] = bad[6].replace("2024-10-04", "2024-13-45")
    bad[9] = bad[9].replace("Phi-3 mini 4k instruct,", "Qwen2.5 7B Instruct,")
    bad[11] = bad[11].replace("Llama 3.1 8B Instruct,finetune", "Llama 3.1 8B Instruct,")
    with pytest.raises(EtalabImportError) as exc:
        reg.import_etalab("\n".join(bad) + "\n", actor=editor, strict=True)
    found = {(p.line, p.field) for p in exc.value.problems}
    assert found == {
        (3, "modele_entraine_ouvert"),
        (5, "lien_model_card"),
        (7, "date_derniere_mise_a_jour"),
        (10, "nom"),
        (12, "type_de_derivation"),
        (13, "derive_de"),  # its parent is line 7's model
    }
    assert "line 5" in str(exc.value)
    assert [p.message for p in exc.value.problems if p.line == 13] == [
        "derives from the model of line 7, which was not imported"
    ]
    # A row that only the database can refuse (an unknown Hub id) also aborts everything.
    late = list(lines)
    late[8] = late[8].replace("deepseek-ai/DeepSeek-R1-Distill-Llama-8B,,", "deepseek-ai/nope,,")
    with pytest.raises(EtalabImportError) as exc:
        reg.import_etalab("\n".join(late) + "\n", actor=editor, strict=True)
    assert [(p.line, p.field) for p in exc.value.problems] == [(9, "identifiant_hub")]
    assert reg.models(include_retired=True) == []
    assert [h for h in reg.history() if h.record_kind == "model"] == []
    with pytest.raises(EtalabImportError):
        reg.import_etalab("nom,couleur\nx,bleu\n", actor=editor)
    with pytest.raises(PermissionDeniedError):
        reg.import_etalab(
            "\n".join(lines), actor=reg.add_user("v", "viewer", PASSWORD, actor=reg.user("admin"))
        )
