"""Find models on disk and what each derives from, with the file that says so.

Most models an organisation runs were downloaded, then adapted on its own machines, where
no Hub metadata records their origin; the files saved beside the weights do. A scan walks a
model folder, a tree of folders or the Hugging Face cache (``models--org--name/snapshots/
<rev>/``) and reads, without loading any weights or importing torch:

========================  =============================================  ==================
file                      field                                          link
========================  =============================================  ==================
``README.md``             front matter ``base_model``,                   declared relation
                          ``base_model_relation``, ``datasets``          (or unspecified),
                                                                         trained_on
``config.json``           ``_name_or_path`` (the model it was loaded     finetune, or
                          from), ``quantization_config``                 quantized
``adapter_config.json``   ``base_model_name_or_path``                    adapter
``*.gguf``                ``general.base_model.*``, ``general.dataset.*``  quantized,
                                                                         trained_on
``mergekit_config.yml``   every model named (``models``, ``slices``,     merge
                          ``base_model``)
========================  =============================================  ==================

A file that cannot be read or parsed is reported (one message per file) and the scan goes on.
Files on disk are not trusted (docs/security.md): only regular files are opened (a FIFO
named ``README.md`` would block the scan), never through a link leading out of the scanned
tree (a cached snapshot's links to its repo's ``blobs`` are followed), text files over
:data:`filiation.limits.MAX_SCAN_TEXT_BYTES` are not read, and a GGUF file's metadata is
checked against its size and the GGUF limits before the ``gguf`` reader builds anything
(an array declaring 2^40 items in a 56-byte file would otherwise take all memory).
Those guards live in :mod:`filiation.sources.file_guards`; this module reads what they let
through.
Every link is recorded as *inferred* (filiation read it from a file), with the file (relative
to the scanned folder) and field as evidence; a relation the README states
(``base_model_relation``) wins over what other files suggest and shows in the evidence.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

from filiation.domain import NodeKind, Relation, normalise_relation
from filiation.errors import SourceError
from filiation.sources.file_guards import (
    _CACHE_DIR,
    _check_file,
    _check_gguf,
    _json_object,
    _os,
    _read_bytes,
    _text,
    _Unreadable,
    _yaml_object,
)
from filiation.sources.hub_columns import clean_id
from filiation.sources.records import (
    LINK_SCHEMA,
    NODE_SCHEMA,
    IngestReport,
    Records,
    clean_text_fields,
)

SOURCE = "scan"
LOCAL_AUTHOR = "local"

MODEL_FILES = ("config.json", "adapter_config.json", "mergekit_config.yml", "model_index.json")
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".onnx")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_URL = re.compile(r"^https?://(?:www\.)?huggingface\.co/(?:datasets/)?([\w.-]+/[\w.-]+)")
#: Which evidence wins when several files name the same parent with different relations.
_PRECEDENCE = ("readme-declared", "adapter", "mergekit", "gguf", "quantization", "readme", "config")


class FoundLink(BaseModel):
    """``parent`` is an origin of the found model (or a data set it was trained on)."""

    parent: str
    relation: Relation
    declared: bool = Field(
        description="the README states the relation (stored as inferred all the same)"
    )
    evidence: list[str] = Field(description="file:field that said so, relative to the scan")
    source: str = Field(default="files", description="files, or weights (scan --weights)")
    confidence: float | None = Field(default=None, description="for links from weights")


class FoundModel(BaseModel):
    id: str
    path: str
    local: bool = Field(description="named after its folder: not a Hub id")
    parents: list[FoundLink]
    datasets: list[FoundLink]
    unresolved: list[str] = Field(
        default_factory=list,
        description="parents named by a local path outside the scan: not recorded",
    )
    license: str | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None


class ScanProblem(BaseModel):
    file: str
    message: str


class ScanResult(BaseModel):
    root: str
    models: list[FoundModel]
    files_read: int
    problems: list[ScanProblem]

    @property
    def skipped(self) -> int:
        return len(self.problems)


class _Candidate:
    """What one folder's files said, before parents are ranked and merged."""

    def __init__(self, folder: Path, model_id: str, local: bool) -> None:
        self.folder = folder
        self.id = model_id
        self.local = local
        self.links: list[tuple[str, Relation, bool, str, str]] = []  # parent, rel, decl, rank, ev
        self.datasets: dict[str, list[str]] = {}
        self.meta: dict[str, str] = {}

    def parent(self, parent: str, rel: Relation, rank: str, evidence: str) -> None:
        self.links.append((parent, rel, rank == "readme-declared", rank, evidence))

    def dataset(self, name: str, evidence: str) -> None:
        self.datasets.setdefault(name, []).append(evidence)


def scan(path: str | os.PathLike[str]) -> ScanResult:
    """Every model under ``path`` and what it derives from (nothing is written anywhere)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise SourceError(f"{root} does not exist; give a model folder, a tree or the HF cache")
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder; give the folder that holds the model files")
    problems: list[ScanProblem] = []
    files_read = 0
    candidates: list[_Candidate] = []
    for folder in _model_folders(root, problems):
        model_id, local = _identify(folder, root)
        cand = _Candidate(folder, model_id, local)
        files_read += _read_folder(cand, root, problems)
        candidates.append(cand)
    # A local parent path that is one of the scanned folders names that folder's model.
    by_folder = {c.folder.resolve(): c.id for c in candidates}
    models = _merge([_finish(c, by_folder) for c in candidates])
    return ScanResult(root=str(root), models=models, files_read=files_read, problems=problems)


def _model_folders(root: Path, problems: list[ScanProblem]) -> Iterator[Path]:
    """Folders that hold a model; in the HF cache, each snapshot of each model repo."""

    def on_error(exc: OSError) -> None:
        problems.append(ScanProblem(file=_rel(Path(exc.filename or root), root), message=_os(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "blobs")
        if _is_model_folder(Path(dirpath), set(filenames), root):
            yield Path(dirpath)


def _is_model_folder(folder: Path, names: set[str], root: Path) -> bool:
    if names & set(MODEL_FILES) or any(n.endswith(WEIGHT_SUFFIXES) for n in names):
        return True
    return "README.md" in names and _has_front_matter_lineage(folder / "README.md", root)


def _has_front_matter_lineage(readme: Path, root: Path) -> bool:
    try:
        # a card's front matter is at its top
        head = _read_bytes(readme, root, 20000, cut=True).decode("utf-8", "replace")
    except _Unreadable:
        return True  # reported when read
    return head.startswith("---") and ("base_model" in head or "datasets" in head)


def _identify(folder: Path, root: Path) -> tuple[str, bool]:
    """The Hub id of a cached snapshot (``models--org--name``), else ``local/<folder>``."""
    parts = folder.resolve().parts
    for i in range(len(parts) - 1, -1, -1):
        m = _CACHE_DIR.match(parts[i])
        if m and i + 1 < len(parts) and parts[i + 1] == "snapshots":
            return m.group(1).replace("--", "/", 1), False
    rel = folder.relative_to(root).as_posix() if folder != root else ""
    name = rel.replace("/", "--") or folder.resolve().name or "model"
    return f"{LOCAL_AUTHOR}/{name}", True


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or path.name
    except ValueError:
        return str(path)


def _read_folder(cand: _Candidate, root: Path, problems: list[ScanProblem]) -> int:
    """Read the files of a candidate folder that filiation understands (the named ones, then
    every ``*.gguf``); an unreadable one is a counted problem, not a stop. Returns how many
    files were read."""
    named = (
        ("README.md", _readme),
        ("config.json", _config),
        ("adapter_config.json", _adapter),
        ("mergekit_config.yml", _mergekit),
    )
    files: list[tuple[Path, Callable[[_Candidate, Path, str], None]]] = [
        (cand.folder / name, reader) for name, reader in named
    ]
    files += [(file, _gguf) for file in sorted(cand.folder.glob("*.gguf"))]
    read = 0
    for file, reader in files:
        if not os.path.lexists(file):
            continue
        read += 1
        where = _rel(file, root)
        try:
            _check_file(file, root)
            reader(cand, file, where)
        except _Unreadable as exc:
            problems.append(ScanProblem(file=where, message=str(exc)))
    return read


def _names(value: Any) -> list[str]:
    """A name or a list of names, as cards write them; anything else is ignored."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def _readme(cand: _Candidate, file: Path, where: str) -> None:
    text = _text(file)
    if not text.startswith("---"):
        return
    head, sep, _ = text[3:].partition("\n---")
    if not sep:
        raise _Unreadable("front matter is not closed by a '---' line")
    meta = _yaml_object(head, "front matter")
    declared = (
        normalise_relation(meta.get("base_model_relation"))
        if isinstance(meta.get("base_model_relation"), str)
        else None
    )
    bases = _names(meta.get("base_model"))
    for parent in bases:
        if declared is not None and declared in _MODEL_RELATIONS:
            cand.parent(parent, declared, "readme-declared", f"{where}:base_model_relation")
        else:
            cand.parent(
                parent, _hub_default(file.parent, len(bases)), "readme", f"{where}:base_model"
            )
    for ds in _names(meta.get("datasets")):
        cand.dataset(ds, f"{where}:datasets")
    for key in ("license", "pipeline_tag", "library_name"):
        if isinstance(meta.get(key), str):
            cand.meta.setdefault(key, meta[key])


def _hub_default(folder: Path, parents: int) -> Relation:
    """The relation the Hub infers when a card names base models without saying how: from
    the files beside it (adapter weights, quantized files, several bases), else a fine-tune."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if "adapter_config.json" in names:
        return Relation.ADAPTER
    if any(n.endswith(".gguf") for n in names):
        return Relation.QUANTIZED
    if "mergekit_config.yml" in names or parents > 1:
        return Relation.MERGE
    return Relation.FINETUNE


_MODEL_RELATIONS = {
    Relation.FINETUNE,
    Relation.QUANTIZED,
    Relation.ADAPTER,
    Relation.MERGE,
}


def _config(cand: _Candidate, file: Path, where: str) -> None:
    config = _json_object(file)
    parent = config.get("_name_or_path")
    if not isinstance(parent, str) or not parent.strip():
        return
    if config.get("quantization_config"):
        cand.parent(parent.strip(), Relation.QUANTIZED, "quantization", f"{where}:_name_or_path")
    else:
        cand.parent(parent.strip(), Relation.FINETUNE, "config", f"{where}:_name_or_path")


def _adapter(cand: _Candidate, file: Path, where: str) -> None:
    config = _json_object(file)
    parent = config.get("base_model_name_or_path")
    if isinstance(parent, str) and parent.strip():
        cand.parent(parent.strip(), Relation.ADAPTER, "adapter", f"{where}:base_model_name_or_path")
    cand.meta.setdefault("library_name", "peft")


def _mergekit(cand: _Candidate, file: Path, where: str) -> None:
    config = _yaml_object(_text(file), "mergekit configuration")
    found: list[str] = []

    def model_name(value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("model")
            if isinstance(value, dict):  # mergekit's long form: {model: {path: ...}}
                value = value.get("path") or value.get("model")
        if isinstance(value, str) and value.strip():
            # "org/base+org/lora" is a LoRA applied on the fly: the base is the parent.
            found.append(value.split("+", 1)[0].strip())

    model_name(config.get("base_model"))
    for entry in config.get("models") or []:
        model_name(entry)
    for piece in config.get("slices") or []:
        if isinstance(piece, dict):
            for source in piece.get("sources") or []:
                model_name(source)
    if not found:
        raise _Unreadable("names no model (expected 'models', 'slices' or 'base_model')")
    for parent in dict.fromkeys(found):
        cand.parent(parent, Relation.MERGE, "mergekit", f"{where}:models")


def _gguf(cand: _Candidate, file: Path, where: str) -> None:
    try:
        with file.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _check_gguf(data)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise _Unreadable(_os(exc) if isinstance(exc, OSError) else "empty file") from None
    try:
        from gguf import GGUFReader

        reader = GGUFReader(file)
        fields = {name: field.contents() for name, field in reader.fields.items()}
    except OSError as exc:
        raise _Unreadable(_os(exc)) from None
    except Exception as exc:  # the reader raises ValueError, struct/numpy errors...
        raise _Unreadable(
            f"not a readable GGUF file, truncated or corrupted ({type(exc).__name__}: {exc})"
        ) from None

    def sources(prefix: str) -> Iterator[tuple[str, str]]:
        count = fields.get(f"general.{prefix}.count")
        for i in range(int(count) if isinstance(count, int) else 0):
            key = f"general.{prefix}.{i}"
            url = fields.get(f"{key}.repo_url") or fields.get(f"{key}.url")
            m = _HUB_URL.match(url) if isinstance(url, str) else None
            if m:
                yield m.group(1), f"{where}:{key}.repo_url"
                continue
            name, org = fields.get(f"{key}.name"), fields.get(f"{key}.organization")
            if isinstance(name, str) and name.strip():
                full = f"{org.strip()}/{name.strip()}" if isinstance(org, str) and org else name
                yield full.strip(), f"{where}:{key}.name"

    for parent, evidence in sources("base_model"):
        cand.parent(parent, Relation.QUANTIZED, "gguf", evidence)
    for ds, evidence in sources("dataset"):
        cand.dataset(ds, evidence)
    license_ = fields.get("general.license")
    if isinstance(license_, str) and license_:
        cand.meta.setdefault("license", license_)


def _parent_id(raw: str, cand: _Candidate, by_folder: dict[Path, str]) -> str | None:
    """The Hub id a file names, or the id of the scanned folder a local path points to
    (tried from the model's folder and from its parent); ``None`` for a path outside."""
    m = _HUB_URL.match(raw)
    if m:
        return m.group(1)
    looks_local = raw.startswith((".", "/", "~", "\\")) or raw.count("/") > 1
    for base in (cand.folder, cand.folder.parent):
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            if path.is_dir() and path.resolve() in by_folder:
                return by_folder[path.resolve()]
        except OSError:
            continue
    if looks_local:
        return None
    return raw if _HUB_ID.match(raw) or re.fullmatch(r"[\w.-]+", raw) else None


def _finish(cand: _Candidate, by_folder: dict[Path, str]) -> FoundModel:
    # parent key -> (precedence, shown id, relation, declared, evidence)
    best: dict[str, tuple[int, str, Relation, bool, list[str]]] = {}
    unresolved: list[str] = []
    for raw, rel, declared, rank, evidence in cand.links:
        parent = _parent_id(raw, cand, by_folder)
        if parent is None:
            unresolved.append(f"{raw} ({evidence})")
            continue
        if parent.lower() == cand.id.lower():
            continue  # a downloaded model's config names the model itself
        key = parent.lower()
        order = _PRECEDENCE.index(rank)
        prev = best.get(key)
        if prev is None:
            best[key] = (order, parent, rel, declared, [evidence])
        elif order < prev[0]:
            best[key] = (order, parent, rel, declared, [evidence, *prev[4]])
        else:
            prev[4].append(evidence)
    parents = [
        FoundLink(parent=shown, relation=rel, declared=decl, evidence=ev)
        for _, (_, shown, rel, decl, ev) in sorted(best.items())
    ]
    # A model that a merge configuration describes is a merge of every parent named.
    if any(p.relation is Relation.MERGE and not p.declared for p in parents):
        parents = [
            p.model_copy(update={"relation": Relation.MERGE})
            if p.relation in (Relation.FINETUNE, Relation.UNSPECIFIED)
            else p
            for p in parents
        ]
    datasets = [
        FoundLink(parent=ds, relation=Relation.TRAINED_ON, declared=False, evidence=ev)
        for ds, ev in sorted(cand.datasets.items(), key=lambda kv: kv[0].lower())
    ]
    return FoundModel(
        id=cand.id,
        path=str(cand.folder),
        local=cand.local,
        parents=parents,
        datasets=datasets,
        unresolved=unresolved,
        license=cand.meta.get("license"),
        pipeline_tag=cand.meta.get("pipeline_tag"),
        library_name=cand.meta.get("library_name"),
    )


def _merge(models: list[FoundModel]) -> list[FoundModel]:
    """Snapshots of the same cached repo are one model: their findings are merged."""
    out: dict[str, FoundModel] = {}
    for m in models:
        key = m.id.lower()
        if key not in out:
            out[key] = m
            continue
        first = out[key]
        known = {p.parent.lower() for p in first.parents}
        first.parents.extend(p for p in m.parents if p.parent.lower() not in known)
        known_ds = {d.parent.lower() for d in first.datasets}
        first.datasets.extend(d for d in m.datasets if d.parent.lower() not in known_ds)
    return list(out.values())


def records(result: ScanResult, *, name: str | None = None) -> Records:
    """The scan as a snapshot's records: found models, their links, the file as evidence."""
    source = f"{SOURCE}:{name}" if name else SOURCE
    report = IngestReport(source=source, label=result.root, rows_read=result.files_read)
    for problem in result.problems:
        report.skip(f"unreadable file {problem.file}: {problem.message}")
    nodes: dict[str, list[Any]] = {f.name: [] for f in NODE_SCHEMA}
    links: dict[str, list[Any]] = {f.name: [] for f in LINK_SCHEMA}
    for m in result.models:
        if clean_id(m.id) is None:  # a folder name with control characters, or too long
            report.skip("models whose folder name is not a usable id")
            continue
        row = {
            "kind": NodeKind.MODEL.value,
            "key": m.id.lower(),
            "id": m.id,
            "author": None if m.local else m.id.partition("/")[0],
            "license": m.license,
            "pipeline_tag": m.pipeline_tag,
            "library_name": m.library_name,
            "extra": json.dumps({"scanned_path": m.path}),
        }
        for f in NODE_SCHEMA:
            nodes[f.name].append(row.get(f.name))
        for link in [*m.parents, *m.datasets]:
            if clean_id(link.parent) is None:
                report.skip("parents named in files that are not usable ids")
                continue
            parent_kind = (
                NodeKind.DATASET if link.relation is Relation.TRAINED_ON else NodeKind.MODEL
            )
            links["child_kind"].append(NodeKind.MODEL.value)
            links["child_key"].append(m.id.lower())
            links["child_id"].append(m.id)
            links["parent_kind"].append(parent_kind.value)
            links["parent_key"].append(link.parent.lower())
            links["parent_id"].append(link.parent)
            links["relation"].append(link.relation.value)
            # filiation read the link from a file: inferred, whatever the file says; a
            # relation the README states stays visible in the evidence (base_model_relation).
            links["declared"].append(False)
            links["evidence"].append("; ".join(link.evidence))
    node_table = clean_text_fields(pa.table(nodes, schema=NODE_SCHEMA), report)
    link_table = pa.table(links, schema=LINK_SCHEMA)
    report.nodes = node_table.num_rows
    report.links = link_table.num_rows
    return Records(
        source=source,
        label=result.root,
        taken_at=None,
        nodes=node_table,
        links=link_table,
        report=report,
    )
