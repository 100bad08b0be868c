"""`make fuzz`: run every fuzz target for a while, print inputs tried and findings.

    python -m fuzz.run [--seconds N] [--target NAME] [--engine atheris|hypothesis]

Atheris (coverage-guided, libFuzzer) is used when it is installed; hypothesis
otherwise. The time is shared between the targets. A finding is printed with
the input that caused it (base64) and saved under `fuzz/findings/`; each one
becomes a test in tests/python/tooling/test_fuzz.py. The exit code is 1 when anything
was found.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from fuzz.targets import TARGETS

FINDINGS = Path(__file__).resolve().parent / "findings"
SEEDS = [
    b'{"session_id":"s","event_type":"click","page_url":"/","timestamp":1791000000}',
    b'[{"session_id":"s","event_type":"click","page_url":"/","timestamp":"1791000000.5"}]',
    b'{"session_id":"s","event_type":"click","page_url":"/","timestamp":"2026-10-05T12:00:00Z"}',
    b'{"kinesis":{"data":"e30=","sequenceNumber":"1","approximateArrivalTimestamp":1.0}}',
    b"s\x00page_view\x00/\x00i1791000000\x00n\x00j[1]",
]


def save(target: str, data: bytes, error: BaseException) -> str:
    FINDINGS.mkdir(exist_ok=True)
    name = f"{target}-{hashlib.sha256(data).hexdigest()[:16]}"
    (FINDINGS / name).write_bytes(data)
    (FINDINGS / f"{name}.txt").write_text(
        "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )
    return name


def run_hypothesis(target: str, seconds: float) -> tuple[int, list[str]]:
    """Random and structured inputs until the time is up; (inputs, findings)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    function = TARGETS[target]
    count = 0
    findings: list[str] = []
    deadline = time.monotonic() + seconds
    json_text = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ).map(lambda v: repr(v).encode("utf-8", "surrogatepass"))
    inputs = st.one_of(st.binary(max_size=2048), json_text, st.sampled_from(SEEDS))

    @settings(
        max_examples=500,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(inputs)
    def explore(data: bytes) -> None:
        nonlocal count
        if time.monotonic() > deadline:
            return
        count += 1
        try:
            function(data)
        except Exception as error:
            findings.append(save(target, data, error))

    while time.monotonic() < deadline:
        explore()
    return count, findings


def run_atheris(target: str, seconds: float) -> tuple[int, list[str]]:
    """One libFuzzer run per target in a child process (atheris takes over the process)."""
    corpus = FINDINGS.parent / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS:
        (corpus / hashlib.sha256(seed).hexdigest()[:16]).write_bytes(seed)
    FINDINGS.mkdir(exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz.atheris_target",
            target,
            f"-max_total_time={max(1, int(seconds))}",
            "-max_len=4096",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={FINDINGS}/{target}-",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        cwd=FINDINGS.parent.parent,
    )
    count = 0
    for line in proc.stderr.splitlines():
        if line.startswith("#") and " exec/s" in line:
            count = int(line[1:].split()[0])
        if line.startswith("Done ") and "runs" in line:
            count = int(line.split()[1])
    findings = sorted(p.name for p in FINDINGS.glob(f"{target}-*") if not p.name.endswith(".txt"))
    if proc.returncode and not findings:
        sys.stderr.write(proc.stderr[-3000:])
        findings = [f"{target}: exit {proc.returncode}"]
    return count, findings


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 3600))
    )
    parser.add_argument("--target", choices=sorted(TARGETS), action="append")
    parser.add_argument("--engine", choices=("atheris", "hypothesis"))
    args = parser.parse_args(argv)
    engine = args.engine or ("atheris" if have_atheris() else "hypothesis")
    targets = args.target or sorted(TARGETS)
    share = args.seconds / len(targets)
    total_inputs = 0
    all_findings: list[str] = []
    for target in targets:
        started = time.monotonic()
        run = run_atheris if engine == "atheris" else run_hypothesis
        count, findings = run(target, share)
        total_inputs += count
        all_findings += findings
        print(
            f"fuzz: {target}: {count} inputs in {time.monotonic() - started:.0f}s with {engine}, "
            f"{len(findings)} findings",
            flush=True,
        )
    print(f"fuzz: total {total_inputs} inputs, {len(all_findings)} findings", flush=True)
    for name in all_findings:
        print(f"fuzz: finding {name}")
    return 1 if all_findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
