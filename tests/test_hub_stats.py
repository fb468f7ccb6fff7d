"""Ingesting the Hub's metadata dump (hub-stats ``models.parquet``).

Every expectation is computed here, from the raw rows of the real sample read with pyarrow,
following the rules of ``filiation.sources.hub_stats``'s docstring; filiation's answers are
read back through the public API (``filiation.open(db, load_bundled=False)``).
Damaged inputs are built from the real sample in ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import filiation
from filiation.sources import hub_stats

#: The relation names the Hub writes in ``baseModels`` and ``base_model:<relation>:<id>``.
HUB_RELATIONS = {"finetune", "merge", "quantized", "adapter"}
LINEAGE = [*sorted(HUB_RELATIONS), "unspecified"]

Row = dict[str, Any]
ParentSet = set[tuple[str, str, bool]]


# -- an independent reading of the raw rows -------------------------------------------------------


def _card(row: Row) -> dict[str, Any]:
    text = row.get("cardData")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    """A card field that is a string or a list of strings, as a list of non-empty names."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def _card_relation(card: dict[str, Any]) -> str | None:
    rel = card.get("base_model_relation")
    if isinstance(rel, str) and rel.strip().lower() in HUB_RELATIONS:
        return rel.strip().lower()
    return None


def expected_parents(rows: list[Row]) -> tuple[dict[str, ParentSet], int]:
    """child (lower case) -> {(parent lower case, relation, declared)}; and the self-loops.

    Parents come from ``baseModels``; else from the ``base_model:`` tags; else from the card's
    ``base_model`` (typed by ``base_model_relation``, else ``merge`` for several parents and
    ``unspecified`` for one). A link is declared when the card's relation is the link's.
    """
    out: dict[str, ParentSet] = {}
    loops = 0
    for r in rows:
        child = r["id"].strip().lower()
        card = _card(r)
        card_rel = _card_relation(card)
        bm = r.get("baseModels")
        tags = [t for t in (r.get("tags") or []) if t.startswith("base_model:")]
        links: list[tuple[str, str, bool]] = []
        if bm and bm["models"]:
            rel = bm["relation"] if bm["relation"] in HUB_RELATIONS else "unspecified"
            links = [(m["id"], rel, rel == card_rel) for m in bm["models"]]
        elif tags:
            typed: dict[str, str | None] = {}
            for tag in tags:
                rest = tag.removeprefix("base_model:")
                head, sep, tail = rest.partition(":")
                if sep and head in HUB_RELATIONS:
                    typed[tail] = head
                else:
                    typed.setdefault(rest, None)
            for pid, tag_rel in typed.items():
                rel = tag_rel or card_rel or "unspecified"
                links.append((pid, rel, rel == card_rel))
        elif "base_model" in card:
            names = _names(card["base_model"])
            rel = card_rel or ("merge" if len(names) > 1 else "unspecified")
            links = [(name, rel, card_rel is not None) for name in names]
        for pid, rel, declared in links:
            if pid.strip().lower() == child:
                loops += 1
                continue
            out.setdefault(child, set()).add((pid.strip().lower(), rel, declared))
    return out, loops


def expected_datasets(rows: list[Row]) -> dict[str, set[str]]:
    """model (lower case) -> data sets (lower case) from ``dataset:`` tags and card datasets."""
    out: dict[str, set[str]] = {}
    for r in rows:
        names = [
            t.removeprefix("dataset:") for t in (r.get("tags") or []) if t.startswith("dataset:")
        ]
        names += _names(_card(r).get("datasets"))
        found = {n.strip().lower() for n in names if n.strip()}
        if found:
            out[r["id"].strip().lower()] = found
    return out


def actual_parents(g: filiation.Genealogy, ids: list[str]) -> dict[str, ParentSet]:
    out: dict[str, ParentSet] = {}
    for node_id in ids:
        found = {
            (p.id.lower(), p.relation.value, p.declared) for p in g.parents(node_id, limit=None)
        }
        if found:
            out[node_id.lower()] = found
    return out


def actual_datasets(g: filiation.Genealogy, ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node_id in ids:
        found = g.parents(node_id, relations=["trained_on"], limit=None)
        assert all(n.kind is filiation.NodeKind.DATASET for n in found)
        if found:
            out[node_id.lower()] = {n.id.lower() for n in found}
    return out


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(hub_sample: Path) -> pa.Table:
    return pq.read_table(hub_sample)


@pytest.fixture(scope="module")
def rows(table: pa.Table) -> list[Row]:
    return table.to_pylist()


def write(tmp_path: Path, rows: list[Row], schema: pa.Schema, name: str = "models") -> Path:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def ingest(db: Any, parquet: Path) -> tuple[filiation.Genealogy, Any]:
    g = filiation.open(db, load_bundled=False)
    report = g.ingest_hub_stats(parquet)
    return g, report


def copy_rows(rows: list[Row]) -> list[Row]:
    return [dict(r) for r in rows]


def referenced(rows: list[Row]) -> set[str]:
    """Every id (lower case) that some row names as a parent, in any field."""
    names: set[str] = set()
    for r in rows:
        if r["baseModels"]:
            names |= {m["id"].lower() for m in r["baseModels"]["models"]}
        names |= {
            t.rsplit(":", 1)[-1].lower() for t in r["tags"] or [] if t.startswith("base_model:")
        }
        names |= {n.lower() for n in _names(_card(r).get("base_model"))}
    return names


def rows_with_parents(rows: list[Row], count: int, *, single: bool = False) -> list[int]:
    """Indices of rows that have a baseModels list without a self-loop (and no lookalikes)."""
    out = []
    for i, r in enumerate(rows):
        bm = r["baseModels"]
        if not bm or not bm["models"]:
            continue
        if any(m["id"].lower() == r["id"].lower() for m in bm["models"]):
            continue
        if single and len(bm["models"]) != 1:
            continue
        out.append(i)
        if len(out) == count:
            break
    assert len(out) == count
    return out


def reason(mapping: dict[str, int], *words: str) -> int:
    """The count under the one report key that mentions all ``words``."""
    keys = [k for k in mapping if all(w in k for w in words)]
    assert len(keys) == 1, f"expected one entry about {words} in {mapping}"
    return mapping[keys[0]]


# -- the real sample ------------------------------------------------------------------------------


def test_parents_and_relations_match_the_raw_dump(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    """Each model's parents, with their relation and declared flag, are those of the dump."""
    expected, _ = expected_parents(rows)
    assert len(expected) > 2500  # the sample's lineage, not a degenerate reading
    assert actual_parents(sample, [r["id"] for r in rows]) == expected


def test_rows_without_basemodels_take_parents_from_the_card(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    """The fallback of the docstring is exercised by real rows: the card's base_model."""
    card_only = [r for r in rows if not r["baseModels"] and _names(_card(r).get("base_model"))]
    assert card_only
    expected, _ = expected_parents(card_only)
    got = actual_parents(sample, [r["id"] for r in card_only])
    assert got == expected
    # provenance: each link says which field it was read from
    for r in card_only[:10]:
        parent = _names(_card(r)["base_model"])[0]
        if parent.lower() == r["id"].lower():
            continue
        (link,) = sample.path(parent, r["id"]).links
        assert "cardData" in (link.evidence or "")
    r = next(r for r in rows if r["baseModels"])
    link = sample.path(r["baseModels"]["models"][0]["id"], r["id"]).links[-1]
    assert link.evidence == "baseModels"


def test_declared_exactly_when_card_states_the_relation(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    stated = [r for r in rows if r["baseModels"] and _card_relation(_card(r))]
    unstated = [r for r in rows if r["baseModels"] and not _card(r).get("base_model_relation")]
    assert stated and unstated
    for r in stated:
        matches = _card_relation(_card(r)) == r["baseModels"]["relation"]
        parents = sample.parents(r["id"], limit=None)
        others = [m for m in r["baseModels"]["models"] if m["id"].lower() != r["id"].lower()]
        assert len(parents) == len(others)
        if parents:
            assert {p.declared for p in parents} == {matches}
    for r in unstated:
        assert not any(p.declared for p in sample.parents(r["id"], limit=None))


def test_card_relation_disagreeing_with_the_hub_is_not_declared(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    stated = [i for i, r in enumerate(rows) if r["baseModels"] and _card_relation(_card(r))]
    changed = copy_rows([rows[i] for i in stated])
    flipped = changed[::2]
    for r in flipped:
        card = _card(r)
        card["base_model_relation"] = (
            "adapter" if r["baseModels"]["relation"] != "adapter" else "merge"
        )
        r["cardData"] = json.dumps(card)
    g, _ = ingest(fresh_db, write(tmp_path, changed, table.schema))
    expected, _ = expected_parents(changed)
    assert actual_parents(g, [r["id"] for r in changed]) == expected
    for r in flipped:
        parents = g.parents(r["id"], limit=None)
        # the Hub's relation is kept, but it is not what the publisher declared
        assert {(p.relation.value, p.declared) for p in parents} == {
            (r["baseModels"]["relation"], False)
        }


def test_links_by_relation_and_self_loops_are_counted(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    expected, loops = expected_parents(rows)
    by_relation = Counter(rel for links in expected.values() for _, rel, _ in links)
    stats = sample.stats()
    assert {k: stats.links_by_relation.get(k, 0) for k in LINEAGE} == {
        k: by_relation.get(k, 0) for k in LINEAGE
    }
    datasets = expected_datasets(rows)
    assert stats.links_by_relation["trained_on"] == sum(len(v) for v in datasets.values())
    assert loops > 0  # the real sample holds models naming themselves
    report = sample.snapshots()[-1]["report"]
    assert report["rows_read"] == len(rows)
    assert report["nodes"] == len(rows)
    assert reason(report["skipped"], "self-loop") == loops
    for r in rows:
        assert r["id"].lower() not in {p.id.lower() for p in sample.parents(r["id"], limit=None)}


def test_parents_absent_from_the_dump_are_stubs(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    expected, _ = expected_parents(rows)
    own = {r["id"].lower() for r in rows}
    parents = {p for links in expected.values() for p, _, _ in links}
    absent = parents - own
    datasets = set().union(*expected_datasets(rows).values())
    assert absent
    stats = sample.stats()
    assert stats.stubs_by_kind.get("model", 0) == len(absent)
    assert stats.stubs_by_kind.get("dataset", 0) == len(datasets)
    assert stats.nodes_by_kind["model"] == len(own | parents)
    some = sorted(absent)[0]
    assert sample.show(some).stub is True
    assert sample.show(rows[0]["id"]).stub is False


def test_training_datasets_come_from_tags_and_cards(
    sample: filiation.Genealogy, rows: list[Row]
) -> None:
    expected = expected_datasets(rows)
    only_card = [
        r["id"].lower()
        for r in rows
        if _names(_card(r).get("datasets"))
        and not any(t.startswith("dataset:") for t in r["tags"] or [])
    ]
    assert len(expected) > 1000
    assert actual_datasets(sample, [r["id"] for r in rows]) == expected
    # data sets named only in a card are there too (not only the Hub's tags)
    assert all(m in expected for m in only_card)
    # and impact() finds, from a data set, every model that names it
    top, _ = Counter(d for v in expected.values() for d in v).most_common(1)[0]
    trained = {m for m, v in expected.items() if top in v}
    impact = sample.impact(top, max_depth=1)
    assert {i.lower() for i in impact.ids()} == trained


def test_indicators_are_carried(sample: filiation.Genealogy, rows: list[Row]) -> None:
    """downloads, likes, licence (license: tag), parameters (safetensors.total, else GGUF)."""
    chosen = [r for i, r in enumerate(rows) if i % 15 == 0 or r["gguf"]]
    assert any(r["gguf"] and not r["safetensors"] for r in chosen)
    for r in chosen:
        d = sample.show(r["id"])
        licence = next(
            (t.removeprefix("license:") for t in r["tags"] if t.startswith("license:")), None
        )
        if r["safetensors"] and r["safetensors"]["total"] is not None:
            params = r["safetensors"]["total"]
        elif r["gguf"]:
            params = json.loads(r["gguf"]).get("total")
        else:
            params = None
        assert (d.id, d.downloads, d.downloads_all_time, d.likes) == (
            r["id"],
            r["downloads"],
            r["downloadsAllTime"],
            r["likes"],
        )
        assert (d.license, d.parameters) == (licence, params), r["id"]
        assert (d.pipeline_tag, d.library_name, d.author) == (
            r["pipeline_tag"],
            r["library_name"],
            r["author"],
        )
        assert d.created_at == r["createdAt"]
        assert d.last_modified == r["lastModified"]


def test_reading_in_small_batches_gives_the_same_records(hub_sample: Path) -> None:
    """The full dump is read batch by batch: batch boundaries must not change anything."""

    def content(t: pa.Table) -> Counter[tuple[Any, ...]]:
        return Counter(zip(*(t[c].to_pylist() for c in t.column_names), strict=True))

    whole = hub_stats.read(hub_sample)
    batched = hub_stats.read(hub_sample, batch_size=300)
    assert content(batched.nodes) == content(whole.nodes)
    assert content(batched.links) == content(whole.links)
    assert batched.report.as_dict() == whole.report.as_dict()


def test_models_without_licence_tag_load(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    """Real rows, unmodified: the models of the sample that carry no license: tag."""
    unlicensed = [r for r in rows if not any(t.startswith("license:") for t in r["tags"])]
    assert unlicensed
    g, report = ingest(fresh_db, write(tmp_path, unlicensed, table.schema))
    assert report.nodes == len(unlicensed)
    expected, _ = expected_parents(unlicensed)
    assert actual_parents(g, [r["id"] for r in unlicensed]) == expected
    assert all(g.show(r["id"]).license is None for r in unlicensed[:50])


# -- unreadable files -----------------------------------------------------------------------------


def _assert_nothing_stored(db: Any) -> None:
    g = filiation.open(db, load_bundled=False)
    assert g.snapshots() == []


def test_truncated_parquet_is_a_clear_source_error(
    tmp_path: Path, fresh_db, hub_sample: Path
) -> None:
    data = hub_sample.read_bytes()
    cut = tmp_path / "models.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(filiation.SourceError) as err:
        ingest(fresh_db, cut)
    assert str(cut) in str(err.value)
    assert "truncated" in str(err.value) or "download" in str(err.value).lower()
    _assert_nothing_stored(fresh_db)


def test_text_file_named_parquet_is_a_source_error(
    tmp_path: Path, fresh_db, rows: list[Row]
) -> None:
    fake = tmp_path / "models.parquet"
    fake.write_text("id,downloads\n" + "".join(f"{r['id']},{r['downloads']}\n" for r in rows[:200]))
    with pytest.raises(filiation.SourceError) as err:
        ingest(fresh_db, fake)
    assert str(fake) in str(err.value)
    assert "Parquet" in str(err.value)
    _assert_nothing_stored(fresh_db)


def test_missing_file_is_a_source_error(tmp_path: Path, fresh_db) -> None:
    with pytest.raises(filiation.SourceError, match="does not exist"):
        ingest(fresh_db, tmp_path / "nowhere.parquet")


def test_parquet_without_id_column_is_rejected(tmp_path: Path, fresh_db, table: pa.Table) -> None:
    path = tmp_path / "models.parquet"
    pq.write_table(table.drop_columns(["id"]), path)
    with pytest.raises(filiation.SourceError) as err:
        ingest(fresh_db, path)
    assert "'id'" in str(err.value)
    _assert_nothing_stored(fresh_db)


# -- dumps with fewer columns ---------------------------------------------------------------------


def test_without_basemodels_parents_come_from_tags_with_same_relations(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    path = tmp_path / "models.parquet"
    pq.write_table(table.drop_columns(["baseModels"]), path)
    g, report = ingest(fresh_db, path)
    full, loops = expected_parents(rows)  # what baseModels says
    stripped = [{k: v for k, v in r.items() if k != "baseModels"} for r in rows]
    from_tags, _ = expected_parents(stripped)
    assert from_tags == full  # the tags of the real sample carry the same typed parents
    assert actual_parents(g, [r["id"] for r in rows]) == full
    assert reason(report.skipped, "self-loop") == loops
    assert reason(report.notes, "baseModels") == 1
    r = rows[rows_with_parents(rows, 1)[0]]
    (link,) = g.path(r["baseModels"]["models"][0]["id"], r["id"]).links
    assert link.evidence == "tags"  # provenance: read from the tags, not baseModels


def test_without_basemodels_and_tags_parents_come_from_card(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    path = tmp_path / "models.parquet"
    pq.write_table(table.drop_columns(["baseModels", "tags"]), path)
    g, report = ingest(fresh_db, path)
    stripped = [{k: v for k, v in r.items() if k not in ("baseModels", "tags")} for r in rows]
    expected, loops = expected_parents(stripped)
    assert len(expected) > 2000  # cards name the base model of most derived models
    assert report.nodes == len(rows)
    assert actual_parents(g, [r["id"] for r in rows]) == expected
    assert actual_datasets(g, [r["id"] for r in rows]) == expected_datasets(stripped)
    assert reason(report.skipped, "self-loop") == loops


# -- damaged or hostile rows ----------------------------------------------------------------------


def test_broken_card_json_keeps_rows_and_is_counted(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    """Cards the reader must parse (data sets listed, or the only source of a parent)."""

    def plain(r: Row) -> bool:  # no stated relation: the outcome does not hinge on it
        return "base_model_relation" not in (r["cardData"] or "")

    with_bm = [
        i
        for i, r in enumerate(rows)
        if r["baseModels"] and _names(_card(r).get("datasets")) and plain(r)
    ]
    card_only = [
        i
        for i, r in enumerate(rows)
        if not r["baseModels"] and _names(_card(r).get("base_model")) and plain(r)
    ]
    targets = with_bm[:15] + card_only[:10]
    assert len(targets) == 25
    broken = copy_rows(rows)
    for i in targets:
        broken[i]["cardData"] = broken[i]["cardData"][:-1]  # drop the closing brace
        assert not _card(broken[i])
    g, report = ingest(fresh_db, write(tmp_path, broken, table.schema))
    assert report.nodes == len(rows)
    assert reason(report.notes, "broken") == len(targets)
    for i in targets:
        assert g.show(rows[i]["id"]).id == rows[i]["id"]  # the row is still there
    ids = [r["id"] for r in rows]
    expected, _ = expected_parents(broken)  # card ignored: baseModels still count
    assert actual_parents(g, ids) == expected
    assert all(rows[i]["id"].lower() in expected for i in with_bm[:15])
    assert not any(rows[i]["id"].lower() in expected for i in card_only[:10])
    assert actual_datasets(g, ids) == expected_datasets(broken)


def test_unknown_relation_is_kept_as_unspecified_and_counted(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    changed = copy_rows(rows)
    targets = rows_with_parents(rows, 6)
    for i in targets:
        changed[i]["baseModels"] = {**rows[i]["baseModels"], "relation": "distillation"}
    g, report = ingest(fresh_db, write(tmp_path, changed, table.schema))
    n_links = sum(len(rows[i]["baseModels"]["models"]) for i in targets)
    assert reason(report.notes, "unknown relation") == n_links
    for i in targets:
        parents = g.parents(rows[i]["id"], limit=None)
        assert {p.id.lower() for p in parents} == {
            m["id"].lower() for m in rows[i]["baseModels"]["models"]
        }
        assert {p.relation.value for p in parents} == {"unspecified"}
        ancestors = {a.lower() for a in g.ancestors(rows[i]["id"], max_depth=1).ids()}
        assert ancestors == {p.id.lower() for p in parents}
    expected, _ = expected_parents(changed)
    assert actual_parents(g, [r["id"] for r in rows]) == expected


def test_self_loops_are_skipped_and_counted(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    _, loops = expected_parents(rows)
    changed = copy_rows(rows)
    targets = rows_with_parents(rows, 5)
    for i in targets:
        bm = rows[i]["baseModels"]
        own = {"_id": "x", "id": rows[i]["id"].upper()}  # the model itself, in another case
        changed[i]["baseModels"] = {**bm, "models": [*bm["models"], own]}
    g, report = ingest(fresh_db, write(tmp_path, changed, table.schema))
    assert reason(report.skipped, "self-loop") == loops + len(targets)
    for i in targets:
        me = rows[i]["id"].lower()
        assert me not in {p.id.lower() for p in g.parents(rows[i]["id"], limit=None)}
        assert me not in {d.lower() for d in g.descendants(rows[i]["id"]).ids()}
        assert len(g.parents(rows[i]["id"], limit=None)) == len(rows[i]["baseModels"]["models"])
    assert g.stats().cycles == 0


def test_duplicate_ids_differing_in_case_keep_the_newest(
    tmp_path: Path, fresh_db, table: pa.Table, rows: list[Row]
) -> None:
    changed = copy_rows(rows)
    newer, older = rows_with_parents(rows, 2)
    later = dict(
        rows[newer], id=rows[newer]["id"].upper(), downloads=rows[newer]["downloads"] + 777
    )
    later["lastModified"] = rows[newer]["lastModified"] + dt.timedelta(days=3)
    earlier = dict(rows[older], id=rows[older]["id"].swapcase(), downloads=1)
    earlier["lastModified"] = rows[older]["lastModified"] - dt.timedelta(days=3)
    changed += [later, earlier]
    g, report = ingest(fresh_db, write(tmp_path, changed, table.schema))
    assert reason(report.skipped, "duplicate") == 2
    assert report.nodes == len(rows)
    assert report.rows_read == len(rows) + 2
    shown = g.show(rows[newer]["id"])
    assert (shown.id, shown.downloads) == (later["id"], later["downloads"])
    shown = g.show(rows[older]["id"].lower())
    assert (shown.id, shown.downloads) == (rows[older]["id"], rows[older]["downloads"])
    models = {r["id"].lower() for r in rows} | {
        p for v in expected_parents(rows)[0].values() for p, _, _ in v
    }
    assert g.stats().nodes_by_kind["model"] == len(models)
    # the kept row brings its parents, once
    assert len(g.parents(later["id"], limit=None)) == len(rows[newer]["baseModels"]["models"])


def test_empty_and_control_character_ids_are_skipped(
    tmp_path: Path, fresh_db, stores, table: pa.Table, rows: list[Row]
) -> None:
    parents = referenced(rows)
    victims = [i for i, r in enumerate(rows) if r["id"].lower() not in parents][:7]
    changed = copy_rows(rows)
    bad_ids = [
        "",
        None,
        "   ",
        "evil/na\x00me",
        "evil/esc\x1b[31mred",
        "evil/del\x7f",
        "evil/" + "x" * 600,
    ]
    for i, bad in zip(victims, bad_ids, strict=True):
        changed[i]["id"] = bad
    g, report = ingest(fresh_db, write(tmp_path, changed, table.schema))
    assert reason(report.skipped, "empty id") == 3
    assert reason(report.skipped, "unusable id") == 4
    assert report.nodes == len(rows) - len(victims)
    for i in victims:
        with pytest.raises(filiation.NodeNotFoundError):
            g.show(rows[i]["id"])
    stored = g.store.read_nodes(report.snapshot_id)["id"].to_pylist()
    assert len(stored) == len(rows) - len(victims)
    assert not any(c < " " or c == "\x7f" for s in stored for c in s)
    assert all(len(s) <= 512 for s in stored)
    # the other rows are untouched
    kept = [r for i, r in enumerate(rows) if i not in victims]
    expected, _ = expected_parents(kept)
    assert actual_parents(g, [r["id"] for r in kept]) == expected


def test_hostile_text_is_stored_as_plain_data(
    tmp_path: Path, fresh_db, stores, table: pa.Table, rows: list[Row]
) -> None:
    changed = copy_rows(rows)
    parents = referenced(rows)
    model_i, card_i = [i for i, r in enumerate(rows) if r["id"].lower() not in parents][:2]
    evil_id = 'mallory/<img src=x onerror="alert(1)">'
    changed[model_i]["id"] = evil_id
    evil_sets = ["<script>alert('filiation')</script>", "x'); DROP TABLE nodes; --"]
    card = _card(rows[card_i])
    card["datasets"] = evil_sets
    changed[card_i]["cardData"] = json.dumps(card)
    g, report = ingest(fresh_db, write(tmp_path, changed, table.schema))
    assert report.nodes == len(rows)
    assert g.show(evil_id).id == evil_id
    assert g.resolve(evil_id.upper()) == evil_id
    got = {d.id for d in g.parents(rows[card_i]["id"], relations=["trained_on"], limit=None)}
    assert set(evil_sets) <= got
    for name in evil_sets:
        assert g.show(name, kind="dataset").id == name
        assert rows[card_i]["id"] in g.impact(name).ids()
    assert [h.id for h in g.search("<script>", kinds=["dataset"])] == [evil_sets[0]]
    # the SQL-looking name did nothing to the store
    assert g.store.read_nodes(report.snapshot_id).num_rows == len(rows)
    assert stores.rows(fresh_db, "SELECT sum(row_count) FROM snapshot_parts") == [
        (len(rows) + report.links,)
    ]
