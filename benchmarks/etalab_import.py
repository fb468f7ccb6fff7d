#!/usr/bin/env python3
"""A large Etalab inventory (100 MB by default): time and peak memory of reading it, and
optionally of importing it into a throw-away registry.

The file is generated (Windows-1252, ``;``, CRLF, French headers, an extra column, one bad
row in 10,000 and a repeated header), since no public inventory is that large. Reading is
what must stay in bounded memory; importing writes every row in one transaction, so it takes
as long as the store takes to write the rows.

    python benchmarks/etalab_import.py [--mb 100] [--import-rows 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from filiation.registry.etalab_format import InventoryReader

HEADER = "Nom du modèle;Description;Type d'apprentissage;Modèle entraîné ouvert;Tâche\r\n"
ROW = (
    "Modèle interne {i};Un modèle interne numéro {i}, décrit en quelques mots.;supervisé;{o};t\r\n"
)


def generate(path: Path, megabytes: int) -> int:
    rows = 0
    with path.open("wb") as f:
        f.write(HEADER.encode("cp1252"))
        size = 0
        while size < megabytes * 2**20:
            chunk = []
            for _ in range(10_000):
                open_cell = "peut-être" if rows % 10_000 == 9_999 else "oui"
                chunk.append(ROW.format(i=rows, o=open_cell))
                rows += 1
            data = "".join(chunk).encode("cp1252")
            f.write(data)
            size += len(data)
        f.write(HEADER.encode("cp1252"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--import-rows", type=int, default=0, help="also import the first N rows")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inventaire.csv"
        rows = generate(path, args.mb)
        size = path.stat().st_size
        InventoryReader(path.open("rb"))  # imports (charset-normalizer) outside the measure
        tracemalloc.start()
        start = time.perf_counter()
        with path.open("rb") as stream:
            reader = InventoryReader(stream)
            read = sum(1 for _ in reader.rows())
        took = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"read {size / 2**20:.0f} MB, {read:,} rows of {rows:,} ({reader.layout.encoding}, "
            f"{reader.warning_count} warnings) in {took:.1f} s; peak memory {peak / 2**20:.1f} MB"
        )
        if args.import_rows:
            import filiation

            small = Path(tmp) / "small.csv"
            with path.open("rb") as src, small.open("wb") as dst:
                for n, line in enumerate(src):
                    if n > args.import_rows:
                        break
                    dst.write(line)
            g = filiation.open(Path(tmp) / "store.db")
            admin = g.registry.add_user("admin", "admin", "a long enough password", actor=None)
            start = time.perf_counter()
            with small.open("rb") as stream:
                report = g.registry.import_etalab(stream, actor=admin, name=small.name)
            took = time.perf_counter() - start
            print(
                f"imported {len(report.created):,} rows ({report.skipped} skipped) "
                f"in {took:.1f} s: {len(report.created) / took:,.0f} rows/s"
            )


if __name__ == "__main__":
    main()
