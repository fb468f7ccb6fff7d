"""The one localisation system: complete catalogues, CLDR plurals, locale formats, and French
outputs (dossier exports, letters, the dossier page) with no English left in them."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from filiation import i18n
from filiation.api import create_app

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
LETTERS = Path(i18n.__file__).parent.parent / "rights" / "letters"

#: English words of the dossier that must not survive in a French output (ids and URLs are
#: removed first: a model may well be called "…-merge").
ENGLISH = re.compile(
    r"\b(Rights dossier|Affected|widest reach|Publishers|publisher|declared|inferred|suspected|"
    r"source itself|downloads|to_contact|status|Generated|Letters|models?|GDPR|"
    r"fine-tune|finetune|quantized|adapter|merge|yes|no|rank|path|depth|likes)\b"
)


def _english_left(text: str, ids: set[str]) -> list[str]:
    text = re.sub(r"https?://\S+", " ", text.replace("\\", ""))  # Markdown escapes out
    for node_id in sorted(ids, key=len, reverse=True):
        text = text.replace(node_id, " ")
    # each English word with a little context, to find it in the output
    return [text[max(0, m.start() - 30) : m.end() + 30] for m in ENGLISH.finditer(text)]


def test_every_language_holds_every_key_and_plural_form() -> None:
    tables = {lang: i18n.table(lang) for lang in i18n.LANGUAGES}
    keys = {lang: set(t) for lang, t in tables.items()}
    for lang in i18n.LANGUAGES:
        missing = keys[i18n.DEFAULT_LANGUAGE] ^ keys[lang]
        assert not missing, f"{lang}: {sorted(missing)}"
        for key, entry in tables[lang].items():
            if isinstance(entry, dict):
                assert i18n.plural_categories(lang) <= set(entry), (lang, key)
            text = " ".join(entry.values()) if isinstance(entry, dict) else entry
            assert "(s)" not in text, (lang, key)  # a plural message, not "model(s)"
    for right in ("access", "erasure", "objection"):  # the letters: one per right and language
        for lang in i18n.LANGUAGES:
            assert (LETTERS / lang / f"{right}.txt.j2").is_file(), (lang, right)


def test_plurals_numbers_dates_and_typography_follow_the_locale() -> None:
    t = i18n.translate
    assert t("fr", "dossier.models_n", count=1) == "1 modèle concerné"
    assert t("fr", "dossier.models_n", count=0) == "0 modèle concerné"  # CLDR: 0 is singular
    assert t("fr", "dossier.models_n", count=2) == "2 modèles concernés"
    # the count and its noun never part at the end of a line
    assert t("fr", "node.downloads_short", count=12345) == "12\u202f345\u00a0téléchargements"
    assert t("en", "node.downloads_short", count=1) == "1\u00a0download"
    assert t("en", "reg.impact_systems", count=1, target="x") == "1 system use relying on x"
    assert t("en", "node.downloads_short", count=None) == "—\u00a0downloads"
    assert t("fr", "model.checks", count=3) == "Liens que les indices contredisent (3)"
    assert i18n.decimal("fr", 0.857) == "0,86"
    assert i18n.date("fr", date(2026, 12, 4)) == "4 décembre 2026"
    assert i18n.date("en", date(2026, 12, 4)) == "December 4, 2026"
    evening = datetime(2026, 12, 4, 20, 13)
    assert i18n.time("fr", evening) == "20\u00a0h\u00a013"  # never "20:13" in French
    assert i18n.time("fr", datetime(2026, 12, 4, 9, 5)) == "9\u00a0h\u00a005"
    assert i18n.time("en", evening) == "20:13"
    assert i18n.date_time("fr", evening) == "4 décembre 2026 à 20\u00a0h\u00a013 UTC"
    assert i18n.date_time("en", evening) == "December 4, 2026, 20:13 UTC"
    # French: a narrow no-break space before ":" and "?", never a plain one
    for entry in i18n.table("fr").values():
        for text in entry.values() if isinstance(entry, dict) else [entry]:
            assert not re.search(r"[ \u00a0][:;?!]", text), text
    assert t("fr", "dossier.heading", id="a/b") == "Dossier de droits\u202f: a/b"


def test_french_outputs_hold_no_english(sample) -> None:
    d = sample.rights.dossier(model=MODEL, right="erasure")
    ids = {m.id for m in d.affected + d.possibly_affected} | {p.name for p in d.publishers}
    ids |= {lk.parent for m in d.affected + d.possibly_affected for lk in m.path}
    md = sample.rights.export_dossier(d, "md", "fr").decode()
    csv_fr = sample.rights.export_dossier(d, "csv", "fr").decode()
    assert csv_fr != sample.rights.export_dossier(d, "csv", "en").decode()
    pdf = sample.rights.export_dossier(d, "pdf", "fr")
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    letters = "\n".join(x.subject + "\n" + x.body for x in sample.rights.letters(d, "fr"))
    for name, text in [("md", md), ("csv", csv_fr), ("pdf", pdf_text), ("letters", letters)]:
        assert not _english_left(text, ids), (name, _english_left(text, ids)[:5])
    assert "Éditeurs à contacter" in md and "éditeur" in csv_fr.splitlines()[0]
    # the time of the dossier as French writes it, "à 20 h 13 UTC", in Markdown and PDF
    french_time = re.compile(r"\d{4} à \d{1,2}\u00a0h\u00a0\d\d UTC")
    assert md.startswith("# Dossier de droits\u202f:")  # Markdown keeps French typography
    assert french_time.search(md) and not re.search(r"\d\d:\d\d UTC", md), md[:400]
    assert re.search(r"\d{4} à \d{1,2}\s?h\s?\d\d UTC", pdf_text), pdf_text[:400]


@pytest.mark.parametrize("right", ["erasure", "access"])
def test_french_dossier_page_holds_no_english(sample, right) -> None:
    with TestClient(create_app(sample)) as client:
        r = client.get("/fr/dossier", params={"model": MODEL, "right": right})
    assert r.status_code == 200
    d = sample.rights.dossier(model=MODEL, right=right)
    ids = {m.id for m in d.affected + d.possibly_affected} | {p.name for p in d.publishers}
    main = r.text.split("<main", 1)[1].split("</main>", 1)[0]
    visible = re.sub(r"<[^>]+>", " ", main.replace("<wbr>", ""))  # <wbr> inside ids
    assert not _english_left(visible, ids), _english_left(visible, ids)[:5]
    assert "modèles concernés" in visible or "modèle concerné" in visible
    assert "1 modèles" not in visible
    # the scripts get the same catalogue, typography applied
    with TestClient(create_app(sample)) as client:
        served = client.get("/i18n/fr.json").json()
    assert served == i18n.table("fr")
