"""Rights letters and dossiers as a French or English reader expects them, in every output:
the same texts, with their typography (curly apostrophes, guillemets, dashes and the
no-break spaces of French), in the letters, the Markdown and the PDF, whose core font is
encoded as windows-1252; and every letter holds the legal elements a request needs."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from filiation import i18n
from filiation.rights.exports import pdf_text

#: A family of ten models and five publishers in the sample: small PDFs.
MODEL = "google/gemma-2-2b-jpn-it"
RIGHTS = ("access", "erasure", "objection")

#: What each letter must hold, by language: the controller it writes to, the deadline of
#: Article 12(3) and its extension, the complaint to the supervisory authority (the CNIL in
#: France), the requester's identity to fill in, a subject line and a salutation.
ELEMENTS = {
    "en": [
        "controller (Article 4(7) GDPR)",
        "within one month of its receipt",
        "extended by two further months",
        "supervisory authority",
        "CNIL",
        "[[YOUR FULL NAME]]",
        "Subject: Request under Article {article} of the GDPR",
        "Dear Sir or Madam,",
        "Yours faithfully,",
    ],
    "fr": [
        "responsable du traitement (article 4, point 7, du RGPD)",
        "dans un délai d\u2019un mois à compter de sa réception",
        "prolongé de deux mois",
        "autorité de contrôle",
        "Commission nationale de l\u2019informatique et des libertés, CNIL",
        "[[VOS NOM ET PRÉNOM]]",
        "Objet\u202f: Demande au titre de l\u2019article {article} du RGPD",
        "Madame, Monsieur,",
        "l\u2019expression de mes salutations distinguées",
    ],
}


def _pdf_pages(sample, d, lang: str) -> list[str]:
    data = sample.rights.export_dossier(d, "pdf", lang)
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def _words(text: str) -> str:
    """``text`` with every run of spaces (no-break ones included) as one space: a PDF
    wraps lines where the text does not."""
    return " ".join(text.split())


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("right", RIGHTS)
def test_each_letter_holds_its_legal_elements(sample, right: str, lang: str) -> None:
    d = sample.rights.dossier(model=MODEL, right=right)
    letters = sample.rights.letters(d, lang)
    assert len(letters) == len(d.publishers) > 1
    dated = i18n.date(lang, d.generated_at)  # "5 décembre 2026", "December 5, 2026"
    assert re.fullmatch(
        r"(1er|\d{1,2}) \w+ \d{4}" if lang == "fr" else r"\w+ \d{1,2}, \d{4}", dated
    )
    for letter, publisher in zip(letters, d.publishers, strict=True):
        body = letter.body
        for element in ELEMENTS[lang]:
            assert element.format(article=d.article) in body, (right, lang, element)
        assert dated in body
        # the controller by name, and each of its models with the chain that reaches it
        assert publisher.name in body.split("\n\n")[1]
        for model_id in publisher.models:
            assert model_id in body
        assert "->" not in body and not re.search(r"[A-Za-zÀ-ÿ]'[A-Za-zÀ-ÿ]", body)


def test_french_letters_keep_french_typography(sample) -> None:
    d = sample.rights.dossier(model=MODEL, right="erasure")
    for letter in sample.rights.letters(d, "fr"):
        body = letter.body
        # a narrow no-break space before ; : ? ! and never an ordinary one
        assert not re.search(r" [;:?!]", body), re.findall(r".{20} [;:?!]", body)[:3]
        assert "\u202f:" in body and "\u202f;" in body
        assert "\u2019" in body and "'" not in body
        # the path from the source, link by link (the source's own publisher has none)
        assert " → (" in body or letter.models == [MODEL]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_pdf_holds_the_letters_as_written(sample, lang: str) -> None:
    """The PDF's text is the letters' own, its typography kept: curly apostrophes, dashes,
    guillemets (French); only what the core font lacks stands in (the arrow, the narrow
    no-break space)."""
    d = sample.rights.dossier(model=MODEL, right="erasure")
    pages = _pdf_pages(sample, d, lang)
    text = "\n".join(pages)
    assert "->" not in text and "?" not in text
    assert "\u2019" in text and "\u2013" in text and "\u203a" in text and "→" not in text
    if lang == "fr":
        assert "« type déclaré »" in text.replace("\xa0", " ")
        assert "Objet\xa0: " in text  # the narrow no-break space as a no-break space
    else:
        assert "“type declared”" in text
        assert not re.search(r"[A-Za-z]'[A-Za-z]", text)
    whole = _words(text)
    for letter in sample.rights.letters(d, lang):
        assert _words(pdf_text(letter.body)) in whole, letter.publisher


def test_markdown_holds_the_letters_as_written(sample) -> None:
    d = sample.rights.dossier(model=MODEL, right="objection")
    md = sample.rights.export_dossier(d, "md", "fr").decode()
    assert "«\u202ftype déclaré\u202f»" in md
    for letter in sample.rights.letters(d, "fr"):
        assert letter.body in md  # in a fenced block, as typed


def test_pdf_text_stands_in_only_for_what_the_font_lacks() -> None:
    kept = "l\u2019éditeur « ici » \u2013 “quoted” — œuvre… 10 €"
    assert pdf_text(kept) == kept
    assert pdf_text("a → b") == "a \u203a b"
    assert pdf_text("Objet\u202f: x") == "Objet\xa0: x"
    assert pdf_text("Erdős/模型") == "Erdos/??"
    assert pdf_text("≥ 0,5") == ">= 0,5"


def test_french_dates_write_the_first_of_the_month_as_an_ordinal() -> None:
    from datetime import date

    assert i18n.date("fr", date(2026, 12, 1)) == "1er décembre 2026"
    assert i18n.date("fr", date(2026, 12, 5)) == "5 décembre 2026"
    assert i18n.date("en", date(2026, 12, 1)) == "December 1, 2026"
