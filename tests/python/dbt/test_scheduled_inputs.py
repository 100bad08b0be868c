"""The scheduled run's inputs as the runner reads them (weblogs.analytics.scheduled): hostile
manifests are counted, never crash the run or vanish; the plan reaches dbt as checked vars."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

from weblogs.analytics.readers import duckdb_reader
from weblogs.analytics.scheduled import (
    MAX_WINDOW_DAYS,
    arrival_line,
    lake_arrivals,
    lake_event_objects,
    lake_manifests,
    plan_vars,
    read_watermark,
)
from weblogs.core.layout import arrivals_key
from weblogs.core.run_plan import (
    ArrivalLine,
    NewRows,
    RunPlan,
    Unrecorded,
    plan_run,
    unrecorded,
)

REPO = Path(__file__).resolve().parents[3]


def test_manifest_fields_are_parsed_typed_and_bad_ones_become_none() -> None:
    good = arrival_line(
        {"event_date": "2026-10-02", "event_hour": "10", "arrived_at": "2026-10-05T01:02:03.5Z",
         "first_ingested_at": "2026-10-05T01:00:00.000000+02:00"}
    )  # fmt: skip
    assert good == ArrivalLine(
        date(2026, 10, 2), "10", datetime(2026, 10, 5, 1, 2, 3, 500000), datetime(2026, 10, 4, 23)
    )
    for hostile in (
        [], "x", None,
        {"event_date": "2026-02-30", "event_hour": 10, "arrived_at": "yesterday"},
        {"event_date": "2026-10-02" * 1000, "arrived_at": "2026-10-05T01:02:03Z" * 1000},
    ):  # fmt: skip
        parsed = arrival_line(hostile)
        assert parsed.event_date is None and parsed.arrived_at is None
        assert parsed.event_hour is None


def test_lake_manifests_are_read_plain_or_gzipped_and_garbage_is_counted(tmp_path: Path) -> None:
    day = date(2026, 10, 5)
    moment = datetime(2026, 10, 5, 1, tzinfo=UTC)
    line = {"event_date": "2026-10-02", "event_hour": "10", "arrived_at": "2026-10-05T01:00:00Z"}
    plain = tmp_path / arrivals_key(moment, "a")
    plain.parent.mkdir(parents=True)
    plain.write_text(json.dumps(line) + "\n\n{not json\n", encoding="utf-8")
    with gzip.open(plain.with_name("b.json.gz"), "wt") as handle:
        handle.write(json.dumps(line) + "\n")
    plain.with_name("c.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    lines = lake_arrivals(tmp_path, [day, date(2026, 10, 6)])
    readable = [x for x in lines if x.event_date is not None]
    assert len(readable) == 2 and len(lines) == 4  # the bad JSON line and the binary file


def test_the_watermark_is_a_typed_column_and_absent_before_the_first_run(tmp_path: Path) -> None:
    import duckdb

    database = tmp_path / "w.duckdb"
    assert read_watermark(duckdb_reader(database), "main") is None
    with duckdb.connect(str(database)) as con:
        con.execute("create table weblogs_run_log (arrivals_to timestamp)")
    assert read_watermark(duckdb_reader(database), "main") is None
    with duckdb.connect(str(database)) as con:
        con.execute("insert into weblogs_run_log values ('2026-10-08 00:00:00')")
    assert read_watermark(duckdb_reader(database), "main") == datetime(2026, 10, 8)


def test_the_plan_vars_carry_every_field_as_plain_json() -> None:
    plan = RunPlan(
        date(2026, 10, 11), datetime(2026, 10, 10), datetime(2026, 10, 11),
        full_dates=(date(2026, 10, 9),), patch_dates=(date(2026, 10, 1),),
        new_rows=(NewRows(date(2026, 10, 1), "07", datetime(2026, 10, 10, 5, 0, 0, 1)),),
        new_watermark=datetime(2026, 10, 11),
    )  # fmt: skip
    given = json.loads(json.dumps(plan_vars(plan)))
    assert given["run_date"] == "2026-10-11"
    assert given["run_plan"]["arrivals_to_us"] == 1_791_676_800_000_000
    assert given["run_plan"]["new_rows"] == [
        {
            "event_date": "2026-10-01",
            "event_hour": "07",
            "first_ingested_at_us": 1_791_608_400_000_001,
        }
    ]


def test_a_run_date_before_the_watermark_still_rebuilds_unrecorded_hours_with_valid_vars() -> None:
    """Nothing counted (the watermark is after the run date), but a vanished manifest's hour
    is rebuilt: the vars keep arrivals_to at the run date's 00:00, as dbt checks."""
    lost = Unrecorded(((date(2026, 10, 3), "10"),), 1, 0)
    plan = plan_run(date(2026, 10, 9), datetime(2026, 10, 11), [], default_window_days=7,
                    max_days=MAX_WINDOW_DAYS, lost=lost)  # fmt: skip
    assert plan.dates == (date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4))
    given = plan_vars(plan)["run_plan"]
    assert given["arrivals_from_us"] == given["arrivals_to_us"] == 1_791_504_000_000_000


def test_the_longest_run_is_the_dbt_projects() -> None:
    macro = (REPO / "macros/window/run_window.sql").read_text(encoding="utf-8")
    assert "{% macro max_window_days() %}\n    {{ return(" + str(MAX_WINDOW_DAYS) + ") }}" in macro


def test_no_jinja_reads_rows_by_position_and_no_regex_reads_times_or_the_run_log() -> None:
    """The plan is Python's: the macros only check vars, the runner reads typed columns."""
    scheduled = (REPO / "macros/window/scheduled.sql").read_text(encoding="utf-8")
    for needle in ("row[0]", "row[1]", "row[2]", "row[3]", "modules.re", "strptime"):
        assert needle not in scheduled, needle
    for module in ("dbt_build.py", "scheduled.py", "dbt_process.py"):
        text = (REPO / "weblogs/analytics" / module).read_text(encoding="utf-8")
        assert "re.findall" not in text and "re.search" not in text, module


def test_the_lake_listing_finds_event_hours_whose_manifest_vanished(tmp_path: Path) -> None:
    """Listed by name: a compacted object is compaction's (its inputs were named), a bad
    calendar folder is nobody's; a manifest of a day not read counts by its size."""
    for key in ("day=03/hour=10/b1", "day=04/hour=11/b1", "day=03/hour=12/b2",
                "day=05/hour=01/b3", "day=05/hour=02/compacted-abc", "day=31/hour=01/b9"):  # fmt: skip
        path = tmp_path / f"events/year=2026/month=09/{key}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1")
    read_day = datetime(2026, 10, 5, 1, tzinfo=UTC)
    b1 = tmp_path / arrivals_key(read_day, "b1")
    b1.parent.mkdir(parents=True)
    line = {"event_date": "2026-09-03", "event_hour": "10", "arrived_at": "2026-10-05T01:00:00Z"}
    b1.write_text(json.dumps(line) + "\n", encoding="utf-8")  # the 09-04 line was cut
    b3 = tmp_path / arrivals_key(datetime(2026, 10, 1, tzinfo=UTC), "b3")
    b3.parent.mkdir(parents=True)
    b3.write_bytes(b"")  # emptied, on a day this run does not read
    lines, manifests = lake_manifests(tmp_path, [date(2026, 10, 5)])
    assert len(lines) == 1 and len(manifests) == 2
    objects = lake_event_objects(tmp_path)
    assert sorted(o.name for o in objects) == ["b1", "b1", "b2", "b3"]
    lost = unrecorded(objects, manifests)
    assert lost.hours == (
        (date(2026, 9, 3), "12"),
        (date(2026, 9, 4), "11"),
        (date(2026, 9, 5), "01"),
    )
    assert lost.objects == 3 and lost.empty_manifests == 1
