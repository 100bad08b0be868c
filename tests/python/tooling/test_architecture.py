"""The layers and the one-home rules hold: import-linter, stray layout literals, the
event types shared with dbt, the settings table in the docs, module and function size.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestion.config import ConsumerConfig
from lambdas.s3toathena import Settings
from lambdas.transformation import TransformationSettings
from weblogs.core import layout, settings
from weblogs.core.contract import EVENT_TYPES

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("weblogs", "ingestion", "lambdas")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def python_files(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the packages under `root` (which comes first on the path)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
            "--no-cache",
        ],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("weblogs/core/layout.py", "import weblogs.adapters.lake  # noqa: F401\n"),
        ("weblogs/adapters/lake/base.py", "import ingestion.config  # noqa: F401\n"),
        ("ingestion/page.py", "import weblogs.simulator  # noqa: F401\n"),
        ("lambdas/transformation.py", "import weblogs.cli  # noqa: F401\n"),
    ],
)
def test_import_linter_refuses_an_import_that_goes_up(
    tmp_path: Path, module: str, line: str
) -> None:
    root = copy_tree(tmp_path)
    assert lint_imports(root).returncode == 0  # the copy itself is clean
    target = root / module
    target.write_text(target.read_text(encoding="utf-8") + line, encoding="utf-8")
    done = lint_imports(root)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout


# ------------------------------------------------------------ folders that show the layers


def layer_ranks(root: Path) -> dict[str, int]:
    """Each layer folder (`weblogs.core`, `ingestion`, ...) -> its height in the layers
    contract of pyproject.toml (0 the bottom); the root `weblogs` package (its
    `__main__` runs the CLI) sits on top."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    ranks = {
        name.strip(): len(layers) - 1 - index
        for index, layer in enumerate(layers)
        for name in layer.split("|")
    }
    ranks["weblogs"] = len(layers)
    return ranks


def folder_of(module: str, ranks: dict[str, int]) -> str | None:
    """The layer folder a module lives in (`weblogs.cli.demo` -> `weblogs.cli`)."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] == "weblogs" and len(parts) > 1 and f"weblogs.{parts[1]}" in ranks:
        return f"weblogs.{parts[1]}"
    return parts[0]


def upward_imports(root: Path) -> list[str]:
    """Every import from one layer folder into another that is not below it, and every
    package folder the layers do not place."""
    ranks = layer_ranks(root)
    found = []
    for package in PACKAGES:
        for sub in sorted(p for p in (root / package).iterdir() if (p / "__init__.py").is_file()):
            if package == "weblogs" and f"weblogs.{sub.name}" not in ranks:
                found.append(f"weblogs/{sub.name}/ is in no layer of pyproject.toml")
    for path in sorted(p for package in PACKAGES for p in (root / package).rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        source = folder_of(module, ranks)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                target = folder_of(name, ranks)
                if source and target and target != source and ranks[target] >= ranks[source]:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {source} -> {target}")
    return sorted(set(found))


def test_no_import_between_folders_runs_back_up() -> None:
    """The folders are the layers: weblogs/cli on top; ingestion/, lambdas/ and the dev
    tools beside each other; weblogs/adapters; weblogs/core at the bottom."""
    assert upward_imports(REPO) == []


@pytest.mark.parametrize(
    ("module", "line", "arrow"),
    [
        ("ingestion/page.py", "from weblogs.cli import main\n", "ingestion -> weblogs.cli"),
        ("weblogs/core/layout.py", "import ingestion\n", "weblogs.core -> ingestion"),
        ("lambdas/s3toathena.py", "import ingestion.page\n", "lambdas -> ingestion"),
    ],
)
def test_an_import_back_up_is_found(tmp_path: Path, module: str, line: str, arrow: str) -> None:
    root = copy_tree(tmp_path)
    assert upward_imports(root) == []
    target = root / module
    target.write_text(target.read_text(encoding="utf-8") + line, encoding="utf-8")
    assert [f.split(": ", 1)[1] for f in upward_imports(root)] == [arrow]
    (root / "weblogs" / "newtool").mkdir()
    (root / "weblogs" / "newtool" / "__init__.py").write_text("", encoding="utf-8")
    assert "weblogs/newtool/ is in no layer of pyproject.toml" in upward_imports(root)


def test_the_map_names_every_layer_folder() -> None:
    """README and docs/contributing.md draw the layers; each folder is on both maps."""
    folders = [name.replace(".", "/") + "/" for name in layer_ranks(REPO) if name != "weblogs"]
    for doc in ("README.md", "docs/contributing.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        assert [f for f in folders if f"`{f}`" not in text] == [], doc


# ---------------------------------------------------------------- one home for the layout

#: A lake prefix as a whole string or the start of a key, or a piece of a key format.
_STRAY = re.compile(
    r"^(?:{})(?:/|$)|(?:^|/)(?:year|month|day|hour|dt)=".format(
        "|".join(map(re.escape, layout.PREFIXES))
    )
)


def string_literals(tree: ast.AST) -> list[tuple[int, int, str]]:
    """Every string constant but docstrings and dict keys (message field names), the
    parts of an f-string included."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    docstrings |= {
        id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys
    }
    return sorted(
        (node.lineno, node.col_offset, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    )


def stray_literals(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for lineno, _, text in string_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if _STRAY.search(text):
                found.append(f"{path.relative_to(REPO)}:{lineno}: {text!r}")
    return found


def test_layout_literals_live_only_in_the_layout_module() -> None:
    paths = [p for p in python_files(*PACKAGES) if p != REPO / "weblogs/core/layout.py"]
    assert stray_literals(paths) == []


def test_the_stray_literal_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A docstring may say events/ and dt=."""\n'
        'KEY = "raw"\n'
        'A = f"failed_records/dt={1}"\n'
        'B = "s3://bucket/x/year=2026/"\n',
        encoding="utf-8",
    )
    found = [line.split(": ", 1)[1] for line in stray_literals_outside(sample)]
    assert found == ["'raw'", "'failed_records/dt='", "'s3://bucket/x/year=2026/'"]


def stray_literals_outside(path: Path) -> list[str]:
    out = []
    for lineno, _, text in string_literals(ast.parse(path.read_text(encoding="utf-8"))):
        if _STRAY.search(text):
            out.append(f"{path.name}:{lineno}: {text!r}")
    return out


def test_event_key_and_parse_event_key_are_inverses() -> None:
    partition = ("2026", "10", "01", "07")
    for name in ("shardId-000000000000-1-9", "local-abc", "replay-ab12-0003", "a.b=c+d"):
        key = layout.event_key(partition, name)
        assert layout.parse_event_key(key) == (partition, name)
    for bad in ("", "../x", "a/b", "-lead", "x" * 256):
        with pytest.raises(ValueError):
            layout.event_key(partition, bad)
    assert layout.parse_event_key("events/year=2026/month=10/day=01/hour=07/a.json") is None
    assert layout.parse_event_key("raw/year=2026/month=10/day=01/hour=07/a.parquet") is None


def test_partition_bounds_are_the_contracts() -> None:
    from weblogs.core.contract import DAY_MS, MIN_TIMESTAMP_MS

    assert layout.MIN_PARTITION_HOUR.timestamp() * 1000 == MIN_TIMESTAMP_MS
    assert layout.MAX_FUTURE.total_seconds() * 1000 == DAY_MS


def test_lake_root_rule_treats_empty_as_unset() -> None:
    assert layout.lake_root({}) == Path("data/lake")
    assert layout.lake_root({"WEBLOGS_LAKE_ROOT": ""}) == Path("data/lake")
    assert layout.lake_root({"WEBLOGS_LAKE_ROOT": "/x/lake"}) == Path("/x/lake")


# ------------------------------------------------------------------- event types and dbt


def accepted_event_types(node: Any) -> list[list[str]]:
    """Every accepted-values list of an event type column (`event_type`, `entry_event_type`,
    ...) in a dbt YAML tree: those of the `model_checks` tests, and of dbt's
    `accepted_values` should a column use it."""
    found: list[list[str]] = []
    if isinstance(node, dict):
        checks = node.get("model_checks")
        if isinstance(checks, dict):
            for column, values in checks.get("arguments", {}).get("accepted_values", {}).items():
                if column == "event_type" or column.endswith("_event_type"):
                    found.append(list(values))
        if str(node.get("name", "")).endswith("event_type"):
            for test in [*node.get("data_tests", []), *node.get("tests", [])]:
                if isinstance(test, dict) and "accepted_values" in test:
                    spec = test["accepted_values"]
                    found.append(list(spec.get("arguments", spec)["values"]))
        for value in node.values():
            found += accepted_event_types(value)
    elif isinstance(node, list):
        for item in node:
            found += accepted_event_types(item)
    return found


def test_dbt_accepted_event_types_are_the_contracts() -> None:
    lists = []
    for path in sorted((REPO / "models").rglob("*.yml")):
        lists += accepted_event_types(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert len(lists) >= 3, "no accepted values of an event type found in models/"
    for values in lists:
        assert sorted(values) == sorted(EVENT_TYPES)


# ------------------------------------------------------------------------------- settings


def test_docs_show_the_consumer_settings_table_generated_from_the_code() -> None:
    docs = (REPO / "docs" / "ingestion.md").read_text(encoding="utf-8")
    assert settings.docs_table(ConsumerConfig) in docs


def test_settings_keep_every_env_name_and_flag() -> None:
    envs = {spec.env for _, spec, _ in settings.fields(ConsumerConfig)}
    flags = {spec.flag for _, spec, _ in settings.fields(ConsumerConfig)} - {None}
    assert {
        "API_URL", "WEBLOGS_BACKEND", "KINESIS_STREAM_NAME", "S3_BUCKET",
        "FAILED_RECORDS_SNS_ARN", "REGION", "WEBLOGS_LAKE_ROOT", "WEBLOGS_STREAM_DIR",
        "POLL_INTERVAL", "S3_BATCH_SIZE", "S3_BATCH_SECONDS", "API_PAGE_LIMIT", "API_TIMEOUT",
        "API_MAX_RETRIES", "API_BACKOFF", "KINESIS_MAX_ATTEMPTS", "PROGRESS_SECONDS",
        "EMF_METRICS", "MAX_EVENTS", "SHUTDOWN_SECONDS", "API_MAX_COMPRESSED_BYTES",
        "API_MAX_RESPONSE_BYTES", "API_RESPONSE_SECONDS", "RESPONSE_SAMPLE_BYTES",
        "API_MAX_REDIRECTS",
    } == envs  # fmt: skip
    assert {
        "--api-url", "--backend", "--lake", "--stream-dir", "--poll-interval", "--batch-size",
        "--batch-seconds", "--page-limit", "--max-events", "--progress-seconds", "--no-metrics",
    } == flags  # fmt: skip


def test_template_lambda_environments_are_declared_settings() -> None:
    from cfnlint.decode import decode

    template, problems = decode(str(REPO / "deploy" / "template.yaml"))
    assert not problems
    functions = template["Resources"]
    for name, cls in (
        ("TransformationFunction", TransformationSettings),
        ("RegistrationFunction", Settings),
    ):
        variables = set(functions[name]["Properties"]["Environment"]["Variables"])
        declared = {spec.env for _, spec, _ in settings.fields(cls)}
        ours = {v for v in variables if not v.startswith("POWERTOOLS_")}
        assert ours <= declared, name


def test_template_paths_use_layout_prefixes() -> None:
    """Every bucket path the template spells (Glue locations, env, ARNs) starts with one."""
    text = (REPO / "deploy" / "template.yaml").read_text(encoding="utf-8")
    known = {*layout.PREFIXES, *layout.DEPLOY_PREFIXES}
    paths = re.findall(r"\$\{AWS::Region\}/([A-Za-z0-9_]+)", text)
    paths += re.findall(r"^\s*(?:Prefix|Value): ([A-Za-z0-9_]+)/\s*$", text, re.MULTILINE)
    assert paths and set(paths) <= known, set(paths) - known


# ------------------------------------------------------------------------------- size


def test_modules_and_functions_stay_small() -> None:
    big_modules, big_functions = [], []
    for path in python_files(*PACKAGES):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(REPO)
        if text.count("\n") > MAX_MODULE_LINES:
            big_modules.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big_functions.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert big_modules == []
    assert big_functions == []
