"""Property tests of the ingest (issue 16): whatever the bytes or the Arrow table, a source
either gives records the store can take, or a clear :class:`SourceError`; never a traceback.

Random bytes as a hub-stats dump, an edge list and model files for the scan; random Arrow
tables (the dump's columns, each of a random type, with random text including bytes that
are not UTF-8, control characters and very long values) written as Parquet.
"""

from __future__ import annotations

import string
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filiation.errors import SourceError
from filiation.limits import MAX_FIELD_LENGTH, MAX_ID_LENGTH
from filiation.sources import edge_csv, hub_stats, local_folder
from filiation.sources.records import TEXT_FIELDS, Records

SETTINGS = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def check_records(records: Records) -> None:
    """What the store relies on: valid UTF-8 everywhere, usable ids, bounded fields."""
    for table in (records.nodes, records.links):
        for col in table.columns:
            col.validate(full=True)
    for value in records.nodes["id"].to_pylist():
        assert value and len(value) <= MAX_ID_LENGTH
        assert not any(ord(c) < 32 or ord(c) == 127 for c in value)
    for name in TEXT_FIELDS:
        for value in records.nodes[name].to_pylist():
            assert value is None or (
                len(value) <= MAX_FIELD_LENGTH and not any(ord(c) < 32 for c in value)
            )


@SETTINGS
@given(data=st.binary(max_size=2000), parquet_head=st.booleans())
def test_random_bytes_as_a_dump(tmp_path_factory, data: bytes, parquet_head: bool) -> None:
    path = tmp_path_factory.mktemp("bytes") / "models.parquet"
    path.write_bytes((b"PAR1" + data + b"PAR1") if parquet_head else data)
    try:
        records = hub_stats.read(path)
    except SourceError:
        return
    check_records(records)


def _texts() -> st.SearchStrategy[bytes | None]:
    text = st.one_of(
        st.sampled_from(["org/model", "org/base", "base_model:finetune:org/base", "", " "]),
        st.text(alphabet=string.printable + "\x00\x1b\u202e", max_size=20),
        st.text(max_size=20),
    ).map(str.encode)
    junk = st.binary(max_size=12)  # often not UTF-8
    long = st.integers(600, 3000).map(lambda n: b"a" * n)
    return st.one_of(st.none(), text, junk, long)


def _string_array(values: list[bytes | None]) -> pa.Array:
    raw = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())  # bytes as they are


@st.composite
def dump_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 12))
    columns: dict[str, pa.Array] = {
        "id": _string_array(draw(st.lists(_texts(), min_size=n, max_size=n)))
    }
    for name in draw(st.lists(st.sampled_from(hub_stats.COLUMNS[1:]), unique=True, min_size=1)):
        shape = draw(st.sampled_from(["string", "int", "list", "struct", "float"]))
        if shape == "string":
            columns[name] = _string_array(draw(st.lists(_texts(), min_size=n, max_size=n)))
        elif shape == "int":
            ints = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
            columns[name] = pa.array(draw(st.lists(ints, min_size=n, max_size=n)), pa.int64())
        elif shape == "float":
            columns[name] = pa.array(draw(st.lists(st.floats(), min_size=n, max_size=n)))
        elif shape == "list":
            items = st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=4)
            rows = draw(st.lists(st.one_of(st.none(), items), min_size=n, max_size=n))
            columns[name] = pa.array(rows, pa.list_(pa.string()))
        else:
            model = st.fixed_dictionaries({"id": st.one_of(st.none(), st.text(max_size=20))})
            row = st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "relation": st.one_of(st.none(), st.sampled_from(["finetune", "x", ""])),
                        "models": st.one_of(st.none(), st.lists(model, max_size=3)),
                    }
                ),
            )
            columns[name] = pa.array(
                draw(st.lists(row, min_size=n, max_size=n)),
                pa.struct(
                    [
                        ("relation", pa.string()),
                        ("models", pa.list_(pa.struct([("id", pa.string())]))),
                    ]
                ),
            )
    return pa.table(columns)


@SETTINGS
@given(table=dump_tables())
def test_random_arrow_tables_as_a_dump(tmp_path_factory, table: pa.Table) -> None:
    path = tmp_path_factory.mktemp("tables") / "models.parquet"
    pq.write_table(table, path)
    try:
        records = hub_stats.read(path)
    except SourceError as exc:
        assert "hub-stats" in str(exc) or "column" in str(exc)
        return
    check_records(records)
    assert records.report.rows_read == table.num_rows


@SETTINGS
@given(data=st.binary(max_size=500), header=st.sampled_from([b"", b"parent,child,relation\n"]))
def test_random_bytes_as_an_edge_list(tmp_path_factory, data: bytes, header: bytes) -> None:
    path = tmp_path_factory.mktemp("edges") / "edges.csv"
    path.write_bytes(header + data)
    try:
        records = edge_csv.read(path)
    except SourceError:
        return
    check_records(records)


@SETTINGS
@given(
    files=st.dictionaries(
        st.sampled_from(
            ["README.md", "config.json", "adapter_config.json", "x.gguf", "mergekit_config.yml"]
        ),
        st.one_of(st.binary(max_size=300), st.binary(max_size=60).map(lambda b: b"GGUF" + b)),
        min_size=1,
    )
)
def test_random_bytes_as_model_files(tmp_path_factory, files: dict[str, bytes]) -> None:
    root: Path = tmp_path_factory.mktemp("scan")
    (root / "m").mkdir()
    for name, data in files.items():
        (root / "m" / name).write_bytes(data)
    result = local_folder.scan(root)  # never raises: each bad file is a reported problem
    check_records(local_folder.records(result))
