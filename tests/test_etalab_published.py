"""Etalab inventories as people publish them: French Excel files (Windows-1252, ``;``, CRLF,
headers in their own words, extra columns, blank yes/no cells, Hub links), bad input
(mixed encodings, a repeated header, too many cells), the per-line report, ``--strict``,
the history of an import, and ``export --like`` giving the file back byte for byte.

The rows are real public models of ``tests/data/registry-etalab.csv`` (their Hub ids
resolve against the sample store of both back ends).
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation.errors import EtalabImportError
from filiation.registry.etalab_format import InventoryReader, hub_model_id
from filiation.registry.service import Registry

INVENTORY = Path(__file__).resolve().parent / "data" / "registry-etalab.csv"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
PASSWORD = "a long enough password"

#: The columns as a French administration's spreadsheet names them, in its own order, with a
#: column filiation does not know (``Tâche``).
HEADER = [
    "Nom du modèle",
    "Tâche",
    "Description",
    "Type d'apprentissage",
    "Modèle entraîné ouvert",
    "Lien modèle entraîné (si pertinent)",
    "Date de dernière mise à jour",
    "Données personnelles",
]


@pytest.fixture()
def reg(reg_db: Any) -> Registry:
    return filiation.open(reg_db).registry


@pytest.fixture()
def editor(reg: Registry) -> Any:
    admin = reg.add_user("admin", "admin", PASSWORD, actor=None)
    return reg.add_user("edith", "editor", PASSWORD, actor=admin)


def real_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(INVENTORY.read_text(encoding="utf-8"))))


def excel_file(rows: list[dict[str, str]]) -> bytes:
    """The real rows as French Excel saves them: cp1252, ``;``, CRLF, DD/MM/YYYY, ``Oui``,
    learning types capitalised, personal data left blank where the real file says ``non``."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(HEADER)
    for r in rows:
        y, m, d = r["date_derniere_mise_a_jour"].split("-")
        w.writerow(
            [
                r["nom"],
                "génération de texte",
                r["description"],
                r["type_apprentissage"].capitalize(),
                r["modele_entraine_ouvert"].capitalize(),
                r["lien_modele_entraine_si_pertinent"],
                f"{d}/{m}/{y}",
                "Oui" if r["donnees_personnelles_entrainement"] == "oui" else "",
            ]
        )
    return buf.getvalue().encode("cp1252")


def test_an_excel_inventory_imports_and_exports_back_byte_for_byte(
    reg: Registry, editor: Any, tmp_path: Path
) -> None:
    rows = [r for r in real_rows() if not r["derive_de"]][:6]
    data = excel_file(rows)
    assert b"\xe9" in data  # é in Windows-1252: not UTF-8
    report = reg.import_etalab(data, actor=editor, name="inventaire.csv")
    assert report.encoding == "cp1252" and report.delimiter == ";"
    assert len(report.created) == 6 and report.problem_count == 0 and report.skipped == 0
    assert [(w.line, w.field) for w in report.warnings] == [(1, "Tâche")]  # kept, said so
    llama = reg.model("Llama 3.1 8B Instruct")
    assert llama.description == rows[0]["description"]  # accents read right
    assert llama.learning_type == "supervised" and llama.open_weights is True
    assert llama.personal_data is None  # blank: not stated, not "no"
    assert llama.extra == {"Tâche": "génération de texte"}
    # The Hub address in the link column made it that Hub model (no identifiant_hub column).
    assert llama.hub_id == LLAMA and "Llama 3.1 8B Instruct" in report.linked

    original = tmp_path / "inventaire.csv"
    original.write_bytes(data)
    assert reg.export_etalab(like=original) == data
    # The default export is UTF-8 with the inventory's names, French codes, blank unknowns.
    plain = list(csv.DictReader(io.StringIO(reg.export_etalab().decode("utf-8"))))
    first = next(r for r in plain if r["nom"] == "Llama 3.1 8B Instruct")
    assert first["type_apprentissage"] == "supervisé"
    assert first["donnees_personnelles_entrainement"] == ""
    assert first["identifiant_hub"] == LLAMA and first["Tâche"] == "génération de texte"


def test_bad_rows_are_reported_by_line_and_good_rows_import(reg: Registry, editor: Any) -> None:
    rows = [r for r in real_rows() if not r["derive_de"]][:5]
    lines = excel_file(rows).decode("cp1252").split("\r\n")
    utf8 = [line.encode("utf-8") for line in lines]
    # Line 3 saved in Windows-1252 inside a UTF-8 file; the header again at line 5 (two files
    # pasted together); line 6 has one cell too many.
    utf8[2] = lines[2].encode("cp1252")
    utf8.insert(4, lines[0].encode("utf-8"))
    utf8[5] = utf8[5] + b";surplus"
    data = b"\r\n".join(utf8)

    with pytest.raises(EtalabImportError) as exc:
        reg.import_etalab(data, actor=editor, name="mixed.csv", strict=True)
    assert [(p.line, p.message) for p in exc.value.problems] == [
        (6, "9 cells where the header has 8")
    ]
    assert reg.models(include_retired=True) == []  # strict: nothing half-imported
    assert reg.history("inventory") == []

    report = reg.import_etalab(data, actor=editor, name="mixed.csv")
    assert report.encoding == "utf-8" and report.skipped == 1 and len(report.created) == 4
    warned = {(w.line, w.message.split(";")[0].split(" (")[0]) for w in report.warnings}
    assert (3, "not UTF-8 like the rest of the file") in warned
    assert (5, "the header again") in warned
    assert reg.model(rows[1]["nom"]).description == rows[1]["description"]
    [entry] = reg.history("inventory")
    assert entry.record_key == "mixed.csv" and entry.action == "import"
    assert entry.after is not None
    assert (entry.after["rows"], entry.after["imported"], entry.after["skipped"]) == (5, 4, 1)


def test_unknown_answers_stay_unknown_and_hub_links_are_read() -> None:
    assert hub_model_id("https://huggingface.co/org/name/tree/main") == "org/name"
    assert hub_model_id("https://hf.co/gpt2") == "gpt2"
    assert hub_model_id("https://huggingface.co/datasets/org/name") is None
    assert hub_model_id("https://github.com/org/name") is None
    text = "Nom,DESCRIPTION,Données personnelles\nA,x,\nB,y,non\nC,z,Oui\n"
    reader = InventoryReader(io.BytesIO(("\ufeff" + text).encode("utf-8")))
    assert reader.layout.bom and reader.layout.delimiter == ","
    got = {d["name"]: d["personal_data"] for _, d, _ in reader.rows() if d}
    assert got == {"A": "", "B": "non", "C": "Oui"}


def test_a_large_inventory_is_streamed() -> None:
    row = "Modèle {i};Une description assez longue pour peser son poids {i};supervisé;oui\r\n"
    body = "".join(row.format(i=i) for i in range(60_000)).encode("cp1252")
    data = b"nom;description;type_apprentissage;modele_entraine_ouvert\r\n" + body
    assert len(data) > 5_000_000
    stream = io.BytesIO(data)
    InventoryReader(io.BytesIO(data[:1000]))  # imports done: their memory is not the file's
    tracemalloc.start()
    try:
        reader = InventoryReader(stream)
        count = sum(1 for _ in reader.rows())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 60_000
    # A chunk and a row at a time (about 2 MB whatever the size: measured the same at 15 MB).
    assert peak < len(data) // 2, peak
