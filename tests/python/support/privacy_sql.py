"""The privacy macros' SQL, rendered by dbt for real and run on an engine.

`compile_expressions` asks dbt to compile an inline query calling the macros
(`dbt compile --inline`), so the test runs exactly the SQL the marts run, with
the project's vars; the engines then evaluate it over a table of test values.
"""

from __future__ import annotations

import json
from pathlib import Path

from dbt_helpers import DbtProject
from hypothesis import strategies as st

#: The examples of docs/contract.md section 7, and the edges of its wording.
REDACTION_EXAMPLES = (
    ("/cb?Email=a%40b.c&x=1#access_token=t", "/cb?Email=redacted&x=1#access_token=redacted"),
    ("/#/login?token=t", "/#/login?token=redacted"),
    (
        "https://shop.example.com/p?q=1&PASSWORD=hunter2",
        "https://shop.example.com/p?q=1&PASSWORD=redacted",
    ),
    ("/a?email&x=1", "/a?email&x=1"),  # no `=`: stays
    ("/a&email=x?y=1", "/a&email=x?y=1"),  # before the first `?`: stays
    ("/a?email=x=y&z", "/a?email=redacted&z"),  # everything after the first `=`
    ("/a?email=", "/a?email=redacted"),
    ("/a?emails=x&e-mail=y&mail=z", "/a?emails=x&e-mail=redacted&mail=redacted"),
    ("/a??token=x&&tel=1##ssn=2", "/a??token=redacted&&tel=redacted##ssn=redacted"),
    (
        "/a?\u017fsn=1&\u212aey=2&pa\u017f\u017f=3",
        "/a?\u017fsn=1&\u212aey=2&pa\u017f\u017f=3",
    ),  # ASCII case only
    ("/a#id_token=x?pwd=y", "/a#id_token=redacted?pwd=redacted"),
    ("/plain/path", "/plain/path"),
    ("", ""),
    (None, None),
)

#: Text a URL is made of: delimiters, listed names in several cases, and anything else.
URL_PIECES = st.one_of(
    st.sampled_from(
        [
            "?", "&", "#", "=", "/", "email", "EMAIL", "Token", "e-mail", "pass", "password",
            "ssn", "\u017f", "\u212a", "%40", "x", "https://h.example", " ", "\n",
        ]
    ),
    st.text(max_size=3),
)  # fmt: skip
NAMES = st.sampled_from(
    ["email", "Email", "E-MAIL", "token", "id_token", "pwd", "ssn", "x", "ssn2"]
)
#: `name=value` items (or bare names) behind random delimiters, after a random path.
ITEMS = st.tuples(
    st.sampled_from("?&#"), st.one_of(NAMES, st.text(max_size=3)), st.sampled_from(["=", ""]),
    st.text(alphabet="ab=?&#%", max_size=4),
).map("".join)  # fmt: skip
URLS = st.one_of(
    st.lists(URL_PIECES, max_size=12).map("".join),
    st.tuples(st.text(alphabet="/ab&=", max_size=4), st.lists(ITEMS, max_size=6)).map(
        lambda parts: parts[0] + "".join(parts[1])
    ),
)
BROWSERS = st.one_of(
    st.sampled_from(["chrome", "googlebot/2.1", "headlesschrome", "curl/8.0", "unknown", ""]),
    st.text(max_size=12).map(str.lower),
)


def compile_expressions(project: DbtProject, expressions: dict[str, str], vars_text: str) -> str:
    """The SQL of `select <expr> as <name>, ... from values_table` as dbt compiles it."""
    select = ", ".join(f"{expr} as {name}" for name, expr in expressions.items())
    done = project.run(
        "compile",
        "--inline",
        f"select i, {select} from values_table",
        "--vars",
        vars_text,
        "--output",
        "json",
        "--quiet",
    )
    return str(json.loads(done.stdout[done.stdout.index("{") :])["compiled"])


def duckdb_rows(sql: str, values: list[str | None]) -> list[tuple[object, ...]]:
    """Runs compiled SQL over `values_table(i, u)` in an in-memory DuckDB."""
    import duckdb
    import pyarrow as pa

    with duckdb.connect() as con:
        table = pa.table({"i": list(range(len(values))), "u": pa.array(values, pa.string())})
        con.register("values_table", table)
        return con.execute(sql + " order by i").fetchall()


def values_sql(values: list[str | None]) -> str:
    """`values_table(i, u)` as SQL literals (for engines reached over a connection)."""
    rows = []
    for index, value in enumerate(values):
        text = "cast(null as varchar)" if value is None else "'" + value.replace("'", "''") + "'"
        rows.append(f"({index}, {text})")
    return "(values " + ", ".join(rows) + ") as values_table(i, u)"


def project_for(workdir: Path, lake: Path, env: dict[str, str] | None = None) -> DbtProject:
    lake.mkdir(parents=True, exist_ok=True)
    return DbtProject(workdir, lake, env=env or {})
