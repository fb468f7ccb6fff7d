"""docs/design.md kept true to the tree (issue 12): a newcomer finds any module of
``src/filiation`` named there, and every file it names exists.

The check reads names, not prose: a module counts as named when its file name (``hub_api.py``)
or its path (``registry/service.py``, ``filiation/domain.py``) stands in backticks in the
document, a package when its folder does (``letters/``), and a module of a named folder also
by its bare name (the pages' ``views/``: ``home``, ``model``…); the Alembic revisions are
named together (``versions/``). It cannot tell whether a description is right, only that
nothing is left out or gone.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "filiation"
DESIGN = ROOT / "docs" / "design.md"

#: A name in backticks that ends like a file of the tree: ``x.py``, ``a/b.js``, ``folder/``.
_NAMED = re.compile(r"`([\w./-]+\.(?:py|js|html)|[\w/-]+/)`")


def _named() -> set[str]:
    return set(_NAMED.findall(DESIGN.read_text("utf-8")))


def _words() -> set[str]:
    return set(re.findall(r"`(\w+)`", DESIGN.read_text("utf-8")))


def _is_named(rel: Path, named: set[str], words: set[str]) -> bool:
    """Whether the module at ``rel`` (below the package) is named: see the module's doc."""
    if rel.parts[:2] == ("store", "migrations") and "versions" in rel.parts:
        return "versions/" in named
    if rel.name == "__init__.py":
        if rel.parent == Path("."):
            return True  # the package itself
        target, folder = rel.parent.as_posix() + "/", rel.parent.as_posix()
    else:
        target, folder = rel.as_posix(), rel.parent.as_posix()
    full = "filiation/" + target
    if any(full == name or full.endswith("/" + name) for name in named):
        return True
    parent_named = any(("filiation/" + folder + "/").endswith("/" + n) for n in named)
    return rel.stem in words and parent_named


def _unnamed() -> list[str]:
    named, words = _named(), _words()
    return [
        str(path.relative_to(ROOT))
        for path in sorted(PACKAGE.rglob("*.py"))
        if not _is_named(path.relative_to(PACKAGE), named, words)
    ]


def _exists(name: str) -> bool:
    """Whether a named file or folder exists: under the package (by its path there, or by its
    last component anywhere in it), or from the repository's root (``tests/…``)."""
    name = name.removeprefix("filiation/")
    if (PACKAGE / name).exists() or (ROOT / name).exists():
        return True
    last = Path(name.rstrip("/")).name
    wanted_dir = name.endswith("/")
    return any(p.is_dir() == wanted_dir for p in PACKAGE.rglob(last))


def test_every_module_is_named_in_the_design() -> None:
    missing = _unnamed()
    assert not missing, "docs/design.md does not name these modules:\n  " + "\n  ".join(missing)


def test_every_file_the_design_names_exists() -> None:
    gone = sorted(name for name in _named() if not _exists(name))
    # Words that look like folders but name other things (an id's ``author/`` prefix).
    gone = [name for name in gone if name not in {"author/"}]
    assert not gone, "docs/design.md names files that do not exist:\n  " + "\n  ".join(gone)
