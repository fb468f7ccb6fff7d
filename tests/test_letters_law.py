"""The letters as a data-protection lawyer reads them: each right cites the articles that make
it enforceable and leaves a visible placeholder for what only the requester can say."""

from __future__ import annotations

import io
from functools import partial

import pytest
from pypdf import PdfReader

import filiation
from filiation import i18n
from filiation.errors import InvalidArgumentError
from filiation.limits import PDF_MAX_MODELS
from filiation.rights.exports import suspect_rows
from filiation.rights.letters import PLACEHOLDER, parse_grounds

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
DATASET = "HuggingFaceH4/ultrachat_200k"

#: What every letter must cite, by language: time limits (12(3), extension by two months),
#: identity (12(6), 11(2)), complaint (77).
COMMON = {
    "en": ["Article 12(3)", "two further months", "Article 12(6)", "Article 11(2)", "Article 77"],
    "fr": [
        "article 12, paragraphe 3",
        "prolongé de deux mois",
        "article 12, paragraphe 6",
        "article 11, paragraphe 2",
        "article 77",
    ],
}
SPECIFIC = {
    ("erasure", "en"): ["Article 17(1)", "Article 17(2)", "Article 19"],
    ("erasure", "fr"): ["article 17, paragraphe 1", "article 17, paragraphe 2", "article 19"],
    ("objection", "en"): ["Article 21(1)", "particular situation"],
    ("objection", "fr"): ["article 21, paragraphe 1", "situation particulière"],
    ("access", "en"): ["Article 15(1)", "Article 15(2)", "Article 15(3)", "Article 46"],
    ("access", "fr"): [
        "article 15, paragraphe 1",
        "article 15, paragraphe 2",
        "article 15, paragraphe 3",
        "article 46",
    ],
}
GROUNDS_PLACEHOLDER = {"en": "[[CHOOSE ONE OR MORE GROUNDS", "fr": "[[CHOISISSEZ UN OU PLUSIEURS"}
SITUATION_PLACEHOLDER = {"en": "[[DESCRIBE THE GROUNDS RELATING", "fr": "[[EXPOSEZ LES RAISONS"}


def _letters(sample, right: str, lang: str, **options):
    d = sample.rights.dossier(model=MODEL, right=right)
    return d, sample.rights.letters(d, lang, **options)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("right", ["erasure", "objection", "access"])
def test_each_letter_cites_its_articles_and_leaves_placeholders(sample, right, lang) -> None:
    _, letters = _letters(sample, right, lang)
    assert letters
    for letter in letters:
        for words in COMMON[lang] + SPECIFIC[(right, lang)]:
            assert words in letter.body, (right, lang, words)
        assert PLACEHOLDER.search(letter.body)
        assert "{{" not in letter.body and "{%" not in letter.body
    body = letters[0].body
    if right == "erasure":  # no ground chosen: the letter says one must be
        assert GROUNDS_PLACEHOLDER[lang] in body
    if right == "objection":  # 21(1) needs the requester's own grounds
        assert SITUATION_PLACEHOLDER[lang] in body
    if right == "access":  # every point of 15(1), (a) to (h)
        marks = (
            [f"({c}) " for c in "abcdefgh"] if lang == "en" else [f"\n{c}) " for c in "abcdefgh"]
        )
        for mark in marks:
            assert mark in body, mark


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_erasure_grounds_chosen_replace_the_placeholder(sample, lang) -> None:
    _, letters = _letters(sample, "erasure", lang, grounds=["d", "a"])
    body = letters[0].body
    assert GROUNDS_PLACEHOLDER[lang] not in body
    unlawful = "unlawfully processed" if lang == "en" else "traitement illicite"
    no_longer = "no longer necessary" if lang == "en" else "ne sont plus nécessaires"
    assert unlawful in body and no_longer in body
    assert body.index(no_longer) < body.index(unlawful)  # in the article's order
    consent = "withdraw the consent" if lang == "en" else "retire le consentement"
    assert consent not in body  # a ground not chosen is not claimed


def test_grounds_are_parsed_or_refused() -> None:
    assert parse_grounds("17(1)(d), a") == ["a", "d"]
    assert parse_grounds(["(F)", "b"]) == ["b", "f"]
    assert parse_grounds(None) == []
    with pytest.raises(InvalidArgumentError, match="17\\(1\\)"):
        parse_grounds("g")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_objection_to_direct_marketing_needs_no_grounds(sample, lang) -> None:
    _, letters = _letters(sample, "objection", lang, direct_marketing=True)
    body = letters[0].body
    assert SITUATION_PLACEHOLDER[lang] not in body
    for words in (
        ["Article 21(2)", "Article 21(3)", "direct marketing"]
        if lang == "en"
        else ["article 21, paragraphe 2", "article 21, paragraphe 3", "prospection"]
    ):
        assert words in body


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_data_set_letters_say_trained_on(sample, lang) -> None:
    d = sample.rights.dossier(dataset=DATASET, right="erasure")
    letters = sample.rights.letters(d, lang)
    assert letters
    trained = "trained on this data set" if lang == "en" else "entraîné"
    wrong = ("derive from it", "derives from it") if lang == "en" else (", en dérive",)
    for letter in letters:
        assert trained in letter.body and not any(w in letter.body for w in wrong)
        one = len(letter.models) == 1  # the verb agrees with the number of models
        if lang == "en":
            assert (
                "model, which you publish, was" if one else "models, which you publish, were"
            ) in letter.body
        else:
            assert ("a été entraîné sur" if one else "ont été entraînés sur") in letter.body


@pytest.fixture(scope="module")
def suspected(tmp_path_factory: pytest.TempPathFactory) -> filiation.Genealogy:
    """The sample with the parents ``filiation infer`` suspects, at every confidence."""
    g = filiation.open(tmp_path_factory.mktemp("suspected") / "letters.sqlite")
    g.infer(min_confidence=0.0)
    return g


def test_suspects_stay_in_their_own_paragraph(suspected: filiation.Genealogy) -> None:
    """A publisher with models both affected and possibly affected reads the second ones
    apart, under "To verify:", never among the models the request is about."""
    checked = 0
    for source in (MODEL, "meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.1"):
        d = suspected.rights.dossier(model=source, right="erasure", suspects=0.0)
        both = {m.publisher for m in d.possibly_affected} & {p.name for p in d.publishers}
        for letter in suspected.rights.letters(d, "en", sorted(both)):
            head, _, tail = letter.body.partition("To verify:")
            assert tail, letter.publisher
            for m in d.possibly_affected:
                if m.publisher == letter.publisher:
                    assert f"- {m.id} (" in tail and f"- {m.id} (" not in head
                    checked += 1
    assert checked, "no publisher of the sample has both affected and suspected models"


def test_only_publishers_of_affected_models_get_a_letter(suspected: filiation.Genealogy) -> None:
    """What the dossier's note on the possibly affected says: a publisher of suspected
    models alone gets no letter (a suspicion is checked before anyone is written to)."""
    d = suspected.rights.dossier(model=MODEL, right="erasure", suspects=0.0)
    written = {letter.publisher for letter in suspected.rights.letters(d, "en")}
    assert written == {p.name for p in d.publishers}
    alone = {m.publisher_name for m in d.possibly_affected} - written
    assert alone, "no suspect's publisher lacks affected models: the case is not exercised"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_pdf_lists_the_possibly_affected_apart_with_their_confidence(
    suspected: filiation.Genealogy, lang: str
) -> None:
    """The PDF, what a requester attaches, holds the suspects as the page and the Markdown do:
    under their own heading, after the affected models, each with the confidence of its
    weakest suspected link."""
    d = suspected.rights.dossier(model=MODEL, right="erasure", suspects=0.0)
    assert d.possibly_affected, "the sample's suspects reach none of the dossier's models"
    data = suspected.rights.export_dossier(d, "pdf", lang)
    text = _words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))
    t = partial(i18n.translate, lang)
    heading = _words(t("dossier.possibly", count=len(d.possibly_affected)))
    before, _, section = text.partition(heading)
    assert section, "no section of possibly affected models"
    for m, confidence, _ in suspect_rows(d, lang)[:PDF_MAX_MODELS]:
        said = t("dossier.label", label=t("dossier.col_confidence").lower(), value=confidence)
        assert f"{m.rank}. {m.id} — " in section and _words(said) in section, m.id
        assert f" {m.id} — " not in before  # never among the affected models


def _words(text: str) -> str:
    """``text`` with every run of spaces (no-break ones included) as one space: a PDF wraps
    lines where the text does not."""
    return " ".join(text.split())
