"""Rights dossiers on the real sample: the affected set, the letters, the exports, the
follow-up, checked against an independent reading of the dump (tests/reference.py)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

import filiation
from filiation import i18n
from filiation.cli import app
from filiation.errors import InvalidArgumentError
from filiation.i18n import translate
from filiation.rights.dossier import NO_PUBLISHER
from filiation.rights.exports import flag_rows
from filiation.rights.letters import PLACEHOLDER
from filiation.safe_text import md_text
from tests import reference

#: A family with several generations, publishers and inferred links in the sample.
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
DATASET = "HuggingFaceH4/ultrachat_200k"


def _expected_model_family(hub_sample: Path, model: str) -> set[str]:
    g = reference.model_graph(hub_sample)
    return {model.lower(), *nx.descendants(g, model.lower())}


def _expected_dataset_family(hub_sample: Path, dataset: str) -> set[str]:
    g = reference.model_graph(hub_sample)
    trained = reference.trained_on(hub_sample)[dataset.lower()]
    out = set(trained)
    for m in trained:
        if m in g:
            out |= nx.descendants(g, m)
    return out


def test_affected_set_is_every_descendant_with_a_real_path(sample, hub_sample) -> None:
    d = sample.rights.dossier(model=MODEL, right="erasure")
    ids = [m.id.lower() for m in d.affected]
    assert len(ids) == len(set(ids))
    assert set(ids) == _expected_model_family(hub_sample, MODEL)
    assert len(ids) > 100 and d.article == "17"
    g = reference.model_graph(hub_sample)
    for m in d.affected:
        assert len(m.path) == m.depth
        if m.depth == 0:
            assert m.id.lower() == MODEL.lower()
            continue
        assert m.path[0].parent.lower() == MODEL.lower() and m.path[-1].child == m.id
        for link in m.path:
            assert g.has_edge(link.parent.lower(), link.child.lower()), link
        # the path is a shortest one: the depth is the number of generations from the source
        assert m.depth == nx.shortest_path_length(g, MODEL.lower(), m.id.lower())
    # ranked by reach: descendants, then downloads
    keys = [(-m.descendants, -(m.downloads or 0)) for m in d.affected]
    assert keys == sorted(keys) and [m.rank for m in d.affected] == list(range(1, len(ids) + 1))
    assert {True, False} >= {lk.declared for m in d.affected for lk in m.path}


def test_dataset_dossier_reaches_trained_models_and_theirs(sample, hub_sample) -> None:
    d = sample.rights.dossier(dataset=DATASET, right="objection")
    assert {m.id.lower() for m in d.affected} == _expected_dataset_family(hub_sample, DATASET)
    assert d.article == "21" and d.source_kind == "dataset"
    assert all(m.path[0].relation == "trained_on" for m in d.affected)
    assert all(m.path[0].parent == d.source_id for m in d.affected)


def test_publishers_group_every_affected_model_once(sample) -> None:
    d = sample.rights.dossier(model=MODEL)
    by_author: dict[str, set[str]] = {}
    for m in d.affected:
        by_author.setdefault(m.id.split("/")[0] if "/" in m.id else "", set()).add(m.id)
    got = {p.name: set(p.models) for p in d.publishers}
    assert got == {k or "(no namespace)": v for k, v in by_author.items()}
    for p in d.publishers:
        assert p.url == f"https://huggingface.co/{p.name}"
        assert p.status.value == "to_contact" and p.history == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_letters_name_every_model_of_their_publisher(sample, lang: str) -> None:
    d = sample.rights.dossier(model=MODEL, right="access")
    letters = sample.rights.letters(d, lang)
    assert [x.publisher for x in letters] == [p.name for p in d.publishers]
    article = "Article 15" if lang == "en" else "article 15"
    for letter in letters:
        mine = [m for m in d.affected if (m.publisher or "(no namespace)") == letter.publisher]
        assert mine and sorted(letter.models) == sorted(m.id for m in mine)
        derived = [m for m in mine if m.depth > 0]
        for m in derived:
            assert f"- {m.id} (https://huggingface.co/{m.id})" in letter.body
            for link in m.path:  # why it is concerned: its whole chain from the source
                word = i18n.translate(lang, f"rel.{link.relation}")
                assert link.parent in letter.body and f"({word}, " in letter.body
        if len(derived) < len(mine):  # the source's own publisher: named as its publisher
            which = "which you publish" if lang == "en" else "que vous publiez"
            assert f"{MODEL} (https://huggingface.co/{MODEL}), {which}" not in letter.body
            assert f"the model {MODEL}, {which}" in letter.body or (
                f"le modèle {MODEL}, {which}" in letter.body
            )
        assert article in letter.body or article in letter.subject
        assert PLACEHOLDER.search(letter.body)
        # every model listed is one of this publisher's, and the source never among them
        named = set(re.findall(r"^- (\S+) \(https://", letter.body, re.M))
        assert named == {m.id for m in derived}
    placeholders = set(PLACEHOLDER.findall(letters[0].body))
    assert ("[[YOUR FULL NAME]]" if lang == "en" else "[[VOS NOM ET PRÉNOM]]") in placeholders


def test_csv_and_markdown_exports_hold_the_affected_set(sample) -> None:
    d = sample.rights.dossier(dataset=DATASET)
    rows = list(csv.DictReader(io.StringIO(sample.rights.export_dossier(d, "csv").decode())))
    assert [r["id"] for r in rows] == [m.id for m in d.affected]
    assert all(r["url"] == f"https://huggingface.co/{r['id']}" for r in rows)
    md = sample.rights.export_dossier(d, "md", "fr").decode()
    assert md.count("](https://huggingface.co/") >= len(d.affected)
    assert md.count("### ") == len(d.publishers) and "RGPD" in md


def test_pdf_opens_with_one_entry_per_model_and_one_letter_per_publisher(sample) -> None:
    d = sample.rights.dossier(dataset=DATASET)
    data = sample.rights.export_dossier(d, "pdf", "fr")
    reader = PdfReader(io.BytesIO(data))
    pages = [p.extract_text() for p in reader.pages]
    # Each letter starts a page with the requester's name, and names its subject there.
    letter_pages = [t for t in pages if re.search(r"^Objet\s: Demande au titre", t, re.M)]
    assert len(letter_pages) == len(d.publishers)
    assert all(t.lstrip().startswith("[[VOS NOM ET PRÉNOM]]") for t in letter_pages)
    # A letter that runs over a page never leaves its signature alone on the next one.
    assert not any(t.strip() == "[[VOS NOM ET PRÉNOM]]" for t in pages)
    summary = "\n".join(p for p in pages if p not in letter_pages)
    entries = re.findall(r"^(\d+)\. (\S+) — éditeur", summary, re.M)
    assert [(int(n), i) for n, i in entries] == [(m.rank, m.id) for m in d.affected]
    assert "ultrachat_200k" in (reader.metadata.title or "")


@pytest.mark.parametrize("help_text", ["", "Why these models: " * 12])
def test_no_section_heading_is_left_at_the_foot_of_a_page(help_text: str) -> None:
    """Wherever a section starts on a page, its heading (and help) lands on the page of
    its first entries: never alone at the foot of one, the entries overleaf."""
    from fpdf import FPDF

    from filiation.rights.exports import PDF_ENCODING, _para, _section

    moved = 0
    for tenth in range(1500, 2830, 5):  # the heading's start, every half millimetre
        pdf = FPDF(format="A4")
        pdf.core_fonts_encoding = PDF_ENCODING
        pdf.set_auto_page_break(auto=True, margin=15)  # as the dossier's
        pdf.add_page()
        pdf.set_y(tenth / 10)
        _section(pdf, "Publishers", help_text)
        heading_page = pdf.page
        _para(pdf, "1. acme/model — publisher acme", 9, "B")
        _para(pdf, "   acme/model derives from the model concerned", 8, indent=5)
        assert pdf.page == heading_page, tenth / 10
        moved += heading_page == 2
    assert moved, "no heading reached the foot of a page: the test proves nothing"


def test_follow_up_is_stored_with_dates_and_grounds(new_db) -> None:
    db = new_db("rights")
    g = filiation.open(db)
    d = g.rights.dossier(dataset=DATASET)
    pub = d.publishers[1].name
    with pytest.raises(InvalidArgumentError, match="ground"):
        g.rights.follow_up(dataset=DATASET, publisher=pub, status="refused")
    with pytest.raises(InvalidArgumentError, match="publishes none"):
        g.rights.follow_up(dataset=DATASET, publisher="nobody-at-all", status="sent")
    with pytest.raises(InvalidArgumentError, match="unknown status"):
        g.rights.follow_up(dataset=DATASET, publisher=pub, status="lost")
    from datetime import datetime

    g.rights.follow_up(
        dataset=DATASET, publisher=pub.upper(), status="sent", at=datetime(2026, 1, 5)
    )
    g.rights.follow_up(
        dataset=DATASET,
        publisher=pub,
        status="refused",
        ground="Article 12(5)",
        at=datetime(2026, 2, 1),
    )
    # another process (a new service on the same store) sees it
    again = filiation.open(db).rights.dossier(dataset=DATASET)
    p = again.publisher(pub)
    assert p.status.value == "refused" and p.ground == "Article 12(5)"
    assert [(e.status.value, e.at.date().isoformat()) for e in p.history] == [
        ("sent", "2026-01-05"),
        ("refused", "2026-02-01"),
    ]
    assert all(o.status.value == "to_contact" for o in again.publishers if o.name != pub)
    # a dossier for another right is another request
    assert (
        filiation.open(db).rights.dossier(dataset=DATASET, right="access").publisher(pub).history
        == []
    )


def test_cli_dossier_exports_and_follow_up(sample_db: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "d.pdf"
    res = runner.invoke(
        app, ["--db", str(sample_db), "dossier", "--model", MODEL, "-f", "pdf", "-o", str(target)]
    )
    assert res.exit_code == 0, res.output
    assert len(PdfReader(target).pages) > 1
    res = runner.invoke(app, ["--db", str(sample_db), "dossier", "--model", MODEL, "--letters"])
    assert res.exit_code == 0 and "Article 17" in res.output and MODEL in res.output
    res = runner.invoke(app, ["--db", str(sample_db), "dossier", "--model", MODEL, "--right", "x"])
    assert res.exit_code == 2 and "unknown right" in res.output
    res = runner.invoke(app, ["--db", str(sample_db), "dossier"])
    assert res.exit_code == 2 and "either a model or a data set" in res.output


def test_affected_models_whose_declared_link_is_contradicted_are_flagged(sample) -> None:
    """Every flag ``filiation check`` raises on the declared link of an affected model is in
    the dossier, with its rule, and in the Markdown export; nothing else is."""
    d = sample.rights.dossier(model=MODEL)
    affected = {m.id for m in d.affected}
    every = sample.check(limit=None).flags
    want = sorted((f.child, f.parent, f.rule) for f in every if f.child in affected)
    assert want, "the sample has flagged links among Llama-3.1-8B-Instruct's descendants"
    assert sorted((f.model, f.parent, f.rule) for f in d.flags) == want
    for m in d.affected:
        assert sorted(m.flags) == sorted({r for c, _, r in want if c == m.id})
    text = sample.rights.export_dossier(d, "md").decode()
    block = text.split("## Declared links the evidence contradicts")[1].split("## Letters")[0]
    assert all(
        md_text(f.model) in block and md_text(translate("en", f"check.{f.rule}")) in block
        for f in d.flags
    )
    french = sample.rights.export_dossier(d, "md", "fr").decode()
    assert all(md_text(translate("fr", f"check.{f.rule}")) in french for f in d.flags)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_pdf_lists_the_flagged_links_with_what_contradicts_them(sample, lang: str) -> None:
    """The PDF carries the dossier's checks as the Markdown does: each flagged model, its
    declared link and the rule that contradicts it, in the reader's language."""
    d = sample.rights.dossier(model=MODEL)
    assert d.flags
    data = sample.rights.export_dossier(d, "pdf", lang)
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())
    heading = " ".join(translate(lang, "dossier.checks", n=i18n.number(lang, len(d.flags))).split())
    section = text.partition(heading)[2]
    assert section, "no section of flagged links"
    for model, link, rule in flag_rows(d, lang):
        line = f"{model} — {translate(lang, 'dossier.label', label=link, value=rule)}"
        assert " ".join(line.split()) in section, model


def test_a_publisher_without_a_namespace_is_named_in_the_readers_language(
    new_db: Any, tmp_path: Path
) -> None:
    """A model published without a namespace (a legacy id such as ``gpt2``) has no
    publisher: a French letter, Markdown or PDF says so in French, never "(no namespace)";
    the JSON keeps the dossier's one name for it."""
    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent,child,relation\nacme/base-7b,legacy-tuned,finetune\n"
        "acme/base-7b,acme/base-7b-instruct,finetune\n",
        encoding="utf-8",
    )
    g = filiation.open(new_db("legacy"))
    g.ingest_edges(edges)
    d = g.rights.dossier(model="acme/base-7b", right="erasure")
    assert NO_PUBLISHER in {p.name for p in d.publishers}
    french = translate("fr", "dossier.no_namespace")
    letters = [letter.body for letter in g.rights.letters(d, "fr")]
    md = g.rights.export_dossier(d, "md", "fr").decode()
    data = g.rights.export_dossier(d, "pdf", "fr")
    pdf = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())
    for text in [*letters, md, pdf]:
        assert NO_PUBLISHER not in text
    assert any(french in body for body in letters)
    assert md_text(french) in md and " ".join(french.split()) in pdf
    english = [letter.body for letter in g.rights.letters(d, "en")]
    assert any(translate("en", "dossier.no_namespace") in body for body in english)
