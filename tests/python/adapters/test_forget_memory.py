"""`weblogs forget` is bounded in memory (docs/operations.md, Erasure requests): a big
CRM extract and a big events object holding the user cost far less than their size.

The peak is the max RSS of a `weblogs forget` run to the end against the same lake
without the big object, measured by a small parent process (`forget_peak_kib`).
"""

from __future__ import annotations

import functools
import io
import random
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dbt_helpers import WEBLOGS
from forget_helpers import USER, build_lake, forget_peak_kib, hour_key

from weblogs.adapters.erasure import CSV_PIECE_CHARS, ROW_GROUP_BYTES, rewrite
from weblogs.adapters.lake import LocalLake
from weblogs.core import layout
from weblogs.core.erasure import (
    MAX_CSV_RECORD_CHARS,
    Targets,
    csv_records,
    sha256_hex,
    text_pieces,
)

#: The big object of each test: this many MiB of other people's records.
BIG_MIB = 64
#: What the big object may add to the peak at most.
BOUND_KIB = BIG_MIB * 1024 // 2
#: The row groups of the big events object (about 2 MiB each).
ROW_GROUPS = 32


@pytest.fixture(scope="module")
def template_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forget-memory")
    build_lake(LocalLake(root / "lake"), str(root / "lake"), root / "work")
    return root / "lake"


@pytest.fixture(scope="module")
def small_peak(template_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> int:
    copy = tmp_path_factory.mktemp("forget-memory-small") / "lake"
    shutil.copytree(template_lake, copy)
    return forget_peak_kib(copy, USER)


@pytest.fixture
def lake(template_lake: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(template_lake, copy)
    return copy


@pytest.mark.slow  # a whole `weblogs forget` over a 64 MiB object
def test_a_big_crm_extract_is_streamed_record_by_record(lake: Path, small_peak: int) -> None:
    """The current customers extract, 64 MiB with the user's row in the middle."""
    key = layout.crm_current_key("customers", s3=False)
    header, mine = (lake / key).read_text(encoding="utf-8").splitlines(keepends=True)[:2]
    assert USER in mine
    row = "u-big-{:07d},c-big,{},false,2024-02-01\n"
    count = BIG_MIB * 2**20 // len(row.format(0, "x" * 2000)) // 2
    with (lake / key).open("w", encoding="utf-8", newline="") as out:
        out.write(header)
        for index in range(2 * count):
            out.write(mine if index == count else row.format(index, "x" * 2000))
    size = (lake / key).stat().st_size
    big_peak = forget_peak_kib(lake, USER)
    assert (lake / key).stat().st_size == size - len(mine.encode())
    assert USER not in (lake / key).read_text(encoding="utf-8")
    assert big_peak - small_peak < BOUND_KIB, (small_peak, big_peak)


def _big_events(lake: Path) -> tuple[str, pa.Table]:
    """Other people's rows (incompressible page URLs) in 8 row groups, the user's row in
    the middle one: about 64 MiB of Snappy Parquet."""
    table = pq.read_table(lake / hour_key(LocalLake(lake), "12"))
    mine = table.filter(pc.equal(table.column("user_id"), USER)).slice(0, 1)
    other = table.filter(pc.invert(pc.fill_null(pc.equal(table.column("user_id"), USER), False)))
    assert mine.num_rows == 1 and other.num_rows >= 1
    rows = BIG_MIB * 2**20 // 1024
    rng = random.Random(7)
    urls = pa.array([f"/{rng.getrandbits(4096):01024x}"[:1024] for _ in range(rows)])
    others = other.slice(0, 1).take(pa.array([0] * rows))
    others = others.set_column(
        others.schema.get_field_index("page_url"), others.schema.field("page_url"), urls
    )
    half = rows // 2
    big = pa.concat_tables([others.slice(0, half), mine, others.slice(half)])
    key = layout.event_key(("2026", "10", "03", "05"), "big")
    (lake / key).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        big, lake / key, compression="snappy", row_group_size=(rows + 1) // ROW_GROUPS + 1
    )
    return key, big


@pytest.mark.slow  # a whole `weblogs forget` over a 64 MiB object
def test_a_big_events_object_is_rewritten_row_group_by_row_group(
    lake: Path, small_peak: int
) -> None:
    key, big = _big_events(lake)
    assert pq.ParquetFile(lake / key).num_row_groups == ROW_GROUPS
    assert (lake / key).stat().st_size > BIG_MIB * 2**20
    big_peak = forget_peak_kib(lake, USER)
    after = pq.ParquetFile(lake / key)
    assert after.schema_arrow == big.schema
    assert after.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert after.metadata.num_rows == big.num_rows - 1
    assert USER not in after.read(columns=["user_id"]).column("user_id").to_pylist()
    assert big_peak - small_peak < BOUND_KIB, (small_peak, big_peak)


def _old_records(text: str) -> list[str]:
    """The records as the whole-text reading split them (splitlines, quote parity)."""
    records, record, quotes = [], [], 0
    for line in text.splitlines(keepends=True):
        record.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            records.append("".join(record))
            record, quotes = [], 0
    return records + (["".join(record)] if record else [])


def test_streamed_csv_records_are_the_whole_text_records_whatever_the_pieces() -> None:
    """Line ends of every kind (\\r\\n cut between two pieces included), quoted line
    breaks and lines longer than a piece: the same records, byte for byte."""
    rng = random.Random(30)
    alphabet = ["a", "b", ",", '"', "\n", "\r", "\r\n", "\v", "\u2028", "\x85", "é"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        for limit in (1, 2, 3, 7, 100):
            stream = io.StringIO(text, newline="")
            pieces = text_pieces(functools.partial(stream.readline, limit))
            assert list(csv_records(pieces)) == _old_records(text), (text, limit)


@pytest.mark.slow  # a whole `weblogs forget` over a 64 MiB object
def test_an_unbalanced_quote_in_a_big_extract_stops_with_one_line(lake: Path) -> None:
    key = layout.crm_current_key("ratings", s3=False)
    with (lake / key).open("a", encoding="utf-8") as out:
        out.write('2026-10-02T12:00:00Z,u-x,"5\n')
        out.write(("y" * 999 + "\n") * (MAX_CSV_RECORD_CHARS // 1000 + 2))
    assert CSV_PIECE_CHARS < MAX_CSV_RECORD_CHARS
    done = subprocess.run(
        [WEBLOGS, "forget", "--user-id", USER, "--lake", str(lake)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "ratings.csv" in done.stderr and "unbalanced quote" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (lake / key).stat().st_size > MAX_CSV_RECORD_CHARS


def test_a_rewrite_keeps_rows_schema_metadata_and_splits_only_a_row_group_over_budget(
    tmp_path: Path,
) -> None:
    """Every other row, in order, with the schema's metadata (compaction's inputs) and
    Snappy; a row group of more kept bytes than `ROW_GROUP_BYTES` is split, a small
    one stays whole."""
    rows = ROW_GROUP_BYTES // 1000 * 3
    urls = pa.array([f"/{index:07d}" + "x" * 1000 for index in range(rows)])
    users = pa.array([USER if index % 1000 == 7 else f"u-{index}" for index in range(rows)])
    schema = pa.schema(
        [pa.field("user_id", pa.string()), pa.field("page_url", pa.string(), nullable=False)],
        metadata={b"inputs": b'["a", "b"]'},
    )
    table = pa.table([users, urls], schema=schema)
    lake = LocalLake(tmp_path / "lake")
    key = layout.event_key(("2026", "10", "03", "05"), "rg")
    (lake.path(key)).parent.mkdir(parents=True)
    with pq.ParquetWriter(lake.path(key), schema, compression="snappy") as writer:
        writer.write_table(table.slice(0, 100))
        writer.write_table(table.slice(100))
    targets = Targets(sha256_hex(USER), user_id=USER)
    targets.settle()
    assert rewrite(lake, key, "parquet", targets) is False
    after = pq.ParquetFile(lake.path(key))
    expected = table.filter(pc.invert(pc.equal(table.column("user_id"), USER)))
    assert after.schema_arrow == schema and after.schema_arrow.metadata == schema.metadata
    assert after.read().equals(expected)
    assert after.metadata.row_group(0).num_rows == 99  # row 7 was the user's
    assert after.metadata.num_row_groups > 2
    assert after.metadata.row_group(1).column(1).compression == "SNAPPY"
