"""`filiation refresh`: one family from the Hub API through the real huggingface_hub client,
against a local fake Hub (tests/fake_hub_api.py) serving the real sample in the API's shapes.

In-process tests point ``HfApi(endpoint=...)`` at the fake; the CLI test sets ``HF_ENDPOINT``
in a subprocess, as a user would. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation.errors import SourceError
from filiation.sources import hub_api
from tests import fake_hub_api

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def family_root(hub_sample: Path) -> tuple[str, dict[str, int]]:
    """A real family of the sample with grandchildren, small enough to list quickly: its root
    and every descendant within two generations, with its generation (computed here, by BFS
    over the sample's ``baseModels``)."""
    hub = fake_hub_api.build(hub_sample)
    by_parent: dict[str, set[str]] = {}
    for (_, parent), kids in hub.children.items():
        by_parent.setdefault(parent, set()).update(kids)
    best = None
    for root in sorted(by_parent):
        if root not in hub.rows:
            continue
        depth = {root: 0}
        frontier = [root]
        for level in (1, 2):
            frontier = [c for p in frontier for c in by_parent.get(p, ()) if c not in depth]
            for c in frontier:
                depth.setdefault(c, level)
        grand = sum(1 for v in depth.values() if v == 2)
        if grand >= 3 and 8 <= len(depth) <= 40 and (best is None or len(depth) > len(best[1])):
            best = (hub.rows[root]["id"], depth)
    assert best is not None, "the sample has no family to refresh"
    return best


@pytest.fixture()
def fake(hub_sample: Path) -> Iterator[fake_hub_api.FakeHubAPI]:
    with fake_hub_api.serve(fake_hub_api.build(hub_sample)) as hub:
        yield hub


def _fetch(fake: fake_hub_api.FakeHubAPI, root: str, **kw: Any) -> Any:
    kw.setdefault("backoff", 0.01)
    return hub_api.fetch_family(root, endpoint=fake.url, **kw)


def test_refresh_brings_the_family_down_to_depth(fake, family_root, new_db) -> None:
    root, depth = family_root
    g = filiation.open(new_db("refresh"), load_bundled=False)
    report = g.refresh_family(root, depth=2, endpoint=fake.url, backoff=0.01)
    expected = {k for k, v in depth.items() if v <= 2}
    got = {n.lower() for n in [root, *g.descendants(root).ids()]}
    assert got == expected
    assert report.nodes == len(expected) and report.snapshot_id is not None
    snap = [s for s in g.snapshots() if s["current"]]
    assert [s["source"] for s in snap] == [f"hub-api:{root.lower()}"]
    # the links are the Hub's: typed by baseModels, one per parent
    lin = g.descendants(root)
    for node in lin.nodes[1:]:
        row = fake.rows[node["id"].lower()]
        assert node["relation"] == row["baseModels"]["relation"]
        assert node["via"].lower() in {m["id"].lower() for m in row["baseModels"]["models"]}
    # depth 1 stops at the children, and says so
    one = _fetch(fake, root, depth=1)
    assert {k.lower() for k in one.nodes["id"].to_pylist()} == {
        k for k, v in depth.items() if v <= 1
    }
    assert one.report.notes.get(hub_api.NOTE_DEPTH, 0) >= 1


def test_pagination_follows_link_headers(fake, family_root) -> None:
    root, depth = family_root
    fake.page_size = 1
    rec = _fetch(fake, root, depth=2)
    assert rec.nodes.num_rows == len(depth)
    assert any("cursor" in q for path, q, _ in fake.requests if path == "/api/models")


def test_rate_limiting_is_waited_out(fake, family_root) -> None:
    root, depth = family_root
    fake.rate_limited = 3  # the model call (our back-off) and a listing (the client's)
    rec = _fetch(fake, root, depth=2)
    assert fake.served_429 == 3 and rec.nodes.num_rows == len(depth)


def test_token_is_sent(fake, family_root) -> None:
    root, _ = family_root
    _fetch(fake, root, depth=1, token="hf_test_token")
    assert fake.requests and all(auth == "Bearer hf_test_token" for *_, auth in fake.requests)


def test_a_model_that_disappeared(fake, family_root) -> None:
    root, depth = family_root
    with pytest.raises(SourceError, match="not on the Hub"):
        _fetch(fake, "nobody/deleted-model", depth=1)
    # a child gone between two refreshes is simply no longer in the family
    child = next(k for k, v in depth.items() if v == 1)
    fake.gone.add(child)
    rec = _fetch(fake, root, depth=1)
    assert child not in {k.lower() for k in rec.nodes["id"].to_pylist()}


def test_malformed_answers(fake, family_root, new_db) -> None:
    root, depth = family_root
    child = next(k for k, v in depth.items() if v == 1)
    fake.bad_base.add(child)
    rec = _fetch(fake, root, depth=1)
    assert rec.report.skipped == {hub_api.SKIP_BAD_BASE: 1}
    # its link still comes from the listing that found it, marked as such
    links = rec.links.to_pylist()
    assert any(lk["child_key"] == child and lk["evidence"] == "list_models filter" for lk in links)
    fake.bad_base.clear()
    fake.broken.add(root.lower())
    g = filiation.open(new_db("broken"), load_bundled=False)
    with pytest.raises(SourceError, match="not the JSON"):
        g.refresh_family(root, depth=1, endpoint=fake.url, backoff=0.01)
    assert g.store.snapshots() == []  # nothing half-written


def test_server_down_and_offline(fake, family_root) -> None:
    root, _ = family_root
    fake.down = True
    with pytest.raises(SourceError, match="answered 503"):
        _fetch(fake, root, depth=1, retries=2)
    assert len(fake.requests) == 3  # tried, then retried twice
    # listings failing after the model answered: the client's own retries, then one line
    fake.down, fake.requests = False, []
    fake.down_lists = True
    with pytest.raises(SourceError, match="answered 503 for the finetune children"):
        _fetch(fake, root, depth=1)
    assert sum(1 for path, *_ in fake.requests if path == "/api/models") > 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SourceError, match=r"cannot reach the Hub.*offline"):
        hub_api.fetch_family(root, endpoint=closed, backoff=0.01)


def test_cli_refresh_through_hf_endpoint(fake, family_root, tmp_path: Path) -> None:
    root, depth = family_root
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("HF_", "HUGGINGFACE_", "FILIATION_")) and "PROXY" not in k
    }
    env.update(
        HF_ENDPOINT=fake.url,
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")])),
    )
    db = tmp_path / "cli.sqlite"
    cmd = [sys.executable, "-m", "filiation.cli", "--db", str(db), "refresh", root, "--depth", "2"]
    proc = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["nodes"] == len(depth) and report["source"] == f"hub-api:{root.lower()}"
    proc = subprocess.run(
        [sys.executable, "-m", "filiation.cli", "--db", str(db), "refresh", "nobody/gone"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4 and "not on the Hub" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_two_refreshes_diff_and_watch(fake, family_root, new_db) -> None:
    """A child deleted on the Hub between two refreshes shows in `diff --source hub-api:ID`,
    and a new child is reported by `watch check`."""
    import time

    root, depth = family_root
    children = sorted(k for k, v in depth.items() if v == 1)
    gone, late = children[0], children[-1]
    g = filiation.open(new_db("twice"), load_bundled=False)
    fake.gone.add(late)  # not published yet at the first refresh
    first = g.refresh_family(root, depth=2, endpoint=fake.url, backoff=0.01)
    g.rights.watch.add(root)
    time.sleep(1.1)  # snapshots are dated to the second
    fake.gone = {gone}
    g.refresh_family(root, depth=2, endpoint=fake.url, backoff=0.01)
    taken = next(s["taken_at"] for s in g.snapshots() if s["id"] == first.snapshot_id)
    d = g.rights.diff(taken, root, source=f"hub-api:{root.lower()}")
    lost = {k for k, v in depth.items() if k == gone or _below(fake, gone, k)}
    arrived = {k for k in depth if k == late or _below(fake, late, k)}
    assert lost - arrived and arrived - lost  # the test sees real changes
    assert {m.lower() for m in d.disappeared} == lost - arrived
    assert {m.lower() for m in d.appeared} == arrived - lost
    new = {n.id.lower() for r in g.rights.watch.check() for n in r.new}
    assert new == arrived - lost
    with pytest.raises(filiation.errors.InvalidArgumentError, match="no snapshot of source"):
        g.rights.diff(taken, root, source="hub-api:nobody/else")


def _below(fake: fake_hub_api.FakeHubAPI, parent: str, key: str) -> bool:
    """Whether ``key`` descends from ``parent`` in the fake Hub (by its baseModels)."""
    todo, seen = [parent], set()
    while todo:
        p = todo.pop()
        for (_, par), kids in fake.children.items():
            if par == p:
                for k in kids:
                    if k == key:
                        return True
                    if k not in seen:
                        seen.add(k)
                        todo.append(k)
    return False


def test_refreshed_fields_win_over_the_dump(fake, family_root, new_db) -> None:
    """After a refresh, the family's indicators are the Hub API's, not the older dump's."""
    root, depth = family_root
    child = next(k for k, v in depth.items() if v == 1)
    g = filiation.open(new_db("fresh-fields"))  # the bundled dump first
    before = g.show(child).downloads
    fake.rows[child] = {**fake.rows[child], "downloads": (before or 0) + 12345}
    g.refresh_family(root, depth=1, endpoint=fake.url, backoff=0.01)
    assert g.show(child).downloads == (before or 0) + 12345
    assert filiation.open(g.store.url).show(child).downloads == (before or 0) + 12345


def test_authors_are_typed_person_or_organisation_as_the_hub_says(
    fake, family_root, new_db
) -> None:
    """The user and organisation overview calls type an author; one neither call knows
    stays untyped (never guessed as an organisation)."""
    root, depth = family_root
    authors = sorted({fake.rows[k]["author"] for k in depth if fake.rows[k]["author"]})
    assert len(authors) >= 3, "the family has several publishers"
    org, person, *unknown = authors
    fake.organisations = {org.lower()}
    fake.users = {person.lower()}
    g = filiation.open(new_db("typed"), load_bundled=False)
    g.refresh_family(root, depth=2, endpoint=fake.url, backoff=0.01)
    assert g.show(org, kind="author").extra.get("author_type") == "organisation"
    assert g.show(person, kind="author").extra.get("author_type") == "person"
    for name in unknown:
        assert "author_type" not in g.show(name, kind="author").extra
    overview = [p for p, _, _ in fake.requests if p.endswith("/overview")]
    assert len(overview) <= 2 * len(authors)  # at most a user and an organisation call each
    # the typed author rows do not change the family: the same models, the same links
    assert {n.lower() for n in [root, *g.descendants(root).ids()]} == set(depth)


def test_exports_declare_persons_and_organisations(fake, family_root, new_db) -> None:
    """SPDX: Person, Organization, or a plain Agent when no source typed the author;
    CycloneDX: an organisation supplies, a person authors."""
    import io

    import spdx_python_model

    root, depth = family_root
    g = filiation.open(new_db("typed-export"), load_bundled=False)
    child = next(k for k, v in depth.items() if v == 1 and fake.rows[k]["author"])
    child_author, root_author = fake.rows[child]["author"], fake.rows[root.lower()]["author"]
    if child_author.lower() == root_author.lower():
        fake.organisations = {root_author.lower()}
    else:
        fake.organisations, fake.users = {root_author.lower()}, {child_author.lower()}
    g.refresh_family(root, depth=1, endpoint=fake.url, backoff=0.01)
    child_id = fake.rows[child]["id"]
    doc = json.loads(g.export(child_id, "spdx").content)
    spdx, objects = spdx_python_model.load_data(doc)
    spdx.JSONLDSerializer().write(objects, io.BytesIO())  # every property the model requires
    kinds = {
        a.name: type(a).__name__
        for t in (spdx.Person, spdx.Organization, spdx.Agent)
        for a in objects.foreach_type(t)
        if type(a).__name__ in ("Person", "Organization", "Agent")
    }
    assert kinds[root_author] == "Organization"
    if child_author.lower() != root_author.lower():
        assert kinds[child_author] == "Person"
    bom = json.loads(g.export(child_id, "cyclonedx").content)
    ancestors = bom["metadata"]["component"]["pedigree"]["ancestors"]
    root_component = next(c for c in ancestors if c["name"] == fake.rows[root.lower()]["id"])
    assert root_component["supplier"]["name"] == root_author
    # nothing typed: no author is declared an organisation by default
    fake.organisations, fake.users = set(), set()
    g2 = filiation.open(new_db("untyped-export"), load_bundled=False)
    g2.refresh_family(root, depth=1, endpoint=fake.url, backoff=0.01)
    spdx2, objects2 = spdx_python_model.load_data(json.loads(g2.export(child_id, "spdx").content))
    assert not list(objects2.foreach_type(spdx2.Organization))
    assert not list(objects2.foreach_type(spdx2.Person))
    assert {a.name for a in objects2.foreach_type(spdx2.Agent)} >= {root_author}
