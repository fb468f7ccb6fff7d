"""``scan --weights``: the weights' links added to a scan's result, beside the files' ones."""

from __future__ import annotations

from pathlib import Path

from filiation.domain import Relation
from filiation.inference.weights.forest import Forest, recover
from filiation.inference.weights.tensors import Weights, WeightsError, open_folder
from filiation.sources.local_folder import FoundLink, ScanProblem, ScanResult

SOURCE = "weights"


def add_weight_links(result: ScanResult) -> Forest:
    """Compare the weights of the models ``result`` found and add the links recovered as
    ``parents`` with ``source="weights"``, ``declared=False``, a confidence and the statistic
    as evidence. A model whose weights cannot be read gets one problem and no link; a
    parent the files already name gets the weights' evidence appended instead of a
    second link."""
    root = Path(result.root)
    opened: dict[str, Weights] = {}
    for m in result.models:
        folder = Path(m.path)
        label = _rel(folder, root)
        try:
            weights = open_folder(folder, label)
        except WeightsError as exc:
            _problem(result, label, str(exc))
            continue
        if weights is not None:
            opened[m.id] = weights
    forest = recover(opened)
    by_id = {m.id: m for m in result.models}
    for mid, message in forest.problems:
        _problem(result, _rel(Path(by_id[mid].path), root), message)
    for link in forest.links:
        model = by_id[link.child]
        known = {p.parent.lower(): p for p in model.parents}
        same = known.get(link.parent.lower())
        evidence = f"{_rel(Path(model.path), root)}: {link.evidence}"
        if same is not None:
            same.evidence.append(
                f"{evidence} (weights say {link.relation}, confidence {link.confidence:.2f})"
            )
            continue
        model.parents.append(
            FoundLink(
                parent=link.parent,
                relation=Relation(link.relation),
                declared=False,
                source=SOURCE,
                confidence=link.confidence,
                evidence=[f"{evidence}; confidence {link.confidence:.2f}"],
            )
        )
    return forest


def _problem(result: ScanResult, label: str, message: str) -> None:
    """One problem per file: the weights' message names the file first (``file: why``); a
    file the metadata scan already reported (a broken GGUF) is not reported twice."""
    file, sep, why = message.partition(": ")
    if not sep or not file.startswith(label):
        file, why = label, message
    if any(p.file == file for p in result.problems):
        return
    result.problems.append(ScanProblem(file=file, message=why))


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or path.name
    except ValueError:
        return str(path)
