"""The layering rule of docs/design.md, checked on the source: the interfaces (the JSON API,
the web pages, the shared HTTP module and the CLI) import only the service's public surface
and their own package, never the store, the index, the sources or each other's modules.

The imports are read with ``ast`` (every ``import`` in a module, in functions too), so a
module that breaks the rule fails here without being run. :data:`EXCEPTIONS` lists the
imports known to break it today, each with why and where it is going; the second test fails
when one of them is gone, so the list only shrinks.

The same reading checks that no filiation modules import each other in a circle (issue 12):
a circle is what made ``cli.py``, ``service.py`` and the web modules impossible to read or
change one at a time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: The interfaces: a package or a module under ``src/``, whichever exists (``cli.py`` is
#: becoming a ``cli/`` package).
INTERFACES = ("filiation.web", "filiation.api", "filiation.http", "filiation.cli")

#: What any interface may import, besides its own package: the service's public surface.
ALLOWED = (
    "filiation.service",
    "filiation.results",
    "filiation.errors",
    "filiation.domain",
    "filiation.lineage.query",
    "filiation.limits",  # the bounds every layer checks (issue 16's hardening adds it)
    "filiation.safe_text",  # text made safe to show: CSV cells, Markdown, the terminal
    "filiation.i18n",  # the one localisation system: catalogues, plurals, locale formats
    "filiation.http",  # the neutral HTTP module both the API and the pages import
)
#: The package itself (``from filiation import __version__``).
ALLOWED_EXACT = ("filiation",)

#: Imports across interfaces that are the design, not debt: the app assembly mounts the web
#: pages and the CLI's ``serve`` starts the app.
ASSEMBLY = {
    ("filiation.api.app", "filiation.web"),
    ("filiation.cli.serve", "filiation.api.app"),
}

#: Known breaks of the rule: (importing module or package, imported module) -> why, and what
#: replaces it. An importing package covers its modules. Empty: every interface reaches the
#: index, the exports, the rights and the registry through the service's public surface
#: (``filiation.service``, ``filiation.service.registry``, ``filiation.service.rights``) and
#: their errors through ``filiation.errors``; a new break is fixed, not listed here.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _files(interface: str) -> list[Path]:
    base = SRC.joinpath(*interface.split("."))
    if base.with_suffix(".py").is_file():
        return [base.with_suffix(".py")]
    return sorted(base.rglob("*.py")) if base.is_dir() else []


def _type_checking(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block (its imports name types, and never run)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST, typing_too: bool) -> Iterator[ast.AST]:
    """Every node of ``tree``, those under ``if TYPE_CHECKING:`` only with ``typing_too``
    (an ``else:`` of such a block runs, so it is always read)."""
    for node in ast.iter_child_nodes(tree):
        if not typing_too and _type_checking(node):
            assert isinstance(node, ast.If)
            for other in node.orelse:
                yield other
                yield from _nodes(other, typing_too)
            continue
        yield node
        yield from _nodes(node, typing_too)


def _imports(path: Path, typing_too: bool = True) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of filiation code in ``path``; a relative
    import is made absolute, and ``from package import module`` names the module. Without
    ``typing_too``, the imports that only name types (``if TYPE_CHECKING:``) are left out."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text("utf-8"), str(path)), typing_too):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if _is_module(sub) else base


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _own_package(importer: str) -> str:
    return next(i for i in INTERFACES if _under(importer, i))


def _breaks() -> list[tuple[str, str, str]]:
    """(importer, imported, where) for every import breaking the rule."""
    out = []
    for interface in INTERFACES:
        for path in _files(interface):
            importer = _module_name(path)
            for line, imported in _imports(path):
                if not _under(imported, "filiation"):
                    continue
                if imported in ALLOWED_EXACT or any(_under(imported, a) for a in ALLOWED):
                    continue
                if _under(imported, _own_package(importer)):
                    continue
                if (importer, imported) in ASSEMBLY:
                    continue
                where = f"{path.relative_to(SRC.parent)}:{line}"
                out.append((importer, imported, where))
    return out


def _excused(importer: str, imported: str) -> tuple[str, str] | None:
    return next(
        (key for key in EXCEPTIONS if _under(importer, key[0]) and imported == key[1]), None
    )


def test_every_interface_module_is_checked() -> None:
    """The rule reads real files: every interface exists and has modules to check."""
    for interface in INTERFACES:
        assert _files(interface), f"no module found for {interface} under {SRC}"


def test_interfaces_import_only_the_service_and_their_own_package() -> None:
    bad = [b for b in _breaks() if _excused(b[0], b[1]) is None]
    assert not bad, "interfaces importing what they should reach through the service:\n" + (
        "\n".join(f"  {where}: {importer} imports {imported}" for importer, imported, where in bad)
    )


def test_no_stale_exception() -> None:
    """An exception that matches no import any more is removed from the list."""
    used = {_excused(importer, imported) for importer, imported, _ in _breaks()}
    stale = [key for key in EXCEPTIONS if key not in used]
    assert not stale, f"remove these from EXCEPTIONS, nothing imports them any more: {stale}"


def _runtime_graph() -> dict[str, dict[str, int]]:
    """Every filiation module -> the filiation modules it imports when it runs (at its top or
    in a function, not the type-only imports), each with the line of the first such import."""
    graph: dict[str, dict[str, int]] = {}
    for path in sorted((SRC / "filiation").rglob("*.py")):
        module = _module_name(path)
        edges = graph.setdefault(module, {})
        for line, imported in _imports(path, typing_too=False):
            if _under(imported, "filiation") and imported != module and _is_module(imported):
                edges.setdefault(imported, line)
    return graph


def _circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((module, imported) for module, edges in graph.items() for imported in edges)
    return sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)


def test_the_import_graph_reads_function_imports_and_skips_type_only_ones() -> None:
    """The graph the circle check walks is the one that runs: ``Store.read_columns`` imports
    ``snapshot_rows`` in a function (an edge), while ``snapshot_rows`` names ``Store`` only
    for its annotations (no edge back)."""
    graph = _runtime_graph()
    assert "filiation.store.snapshot_rows" in graph["filiation.store.store"]
    assert "filiation.store.store" not in graph["filiation.store.snapshot_rows"]


def test_no_import_circle() -> None:
    """No filiation modules import each other in a circle, in functions included: a module
    that needs another's name at run time takes it from a module below both."""
    graph = _runtime_graph()
    circles = _circles(graph)
    lines = []
    for members in circles:
        for module in members:
            for imported, line in graph[module].items():
                if imported in members:
                    lines.append(f"  {module} imports {imported} (line {line})")
    assert not circles, "import circles:\n" + "\n".join(lines)
