"""The dbt targets `weblogs models` builds on, and what each one needs before dbt starts.

`local` is DuckDB over the lake folder, `trino` the local Trino serving that
folder, `athena` Athena over the Glue catalog. Each target is checked for what
it needs, only that: a remote target never requires a lake folder or DuckDB
(docs/operations.md, The daily run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from weblogs.core import layout
from weblogs.core.errors import ConfigError, UsageError

TARGETS = ("local", "trino", "athena")
#: A schema name reaching SQL: letters, digits and underscores (Glue and Trino lower-case).
SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: An Athena query-results location.
S3_URI_RE = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^\s]*)?")
#: The profile's defaults (profiles.yml.example) for each target's schema.
DEFAULT_SCHEMAS = {"local": "main", "trino": "weblogs_analytics", "athena": "weblogs_analytics"}
SCHEMA_VARS = {"trino": "WEBLOGS_TRINO_SCHEMA", "athena": "WEBLOGS_ATHENA_SCHEMA"}


@dataclass(frozen=True)
class Target:
    """A checked target: its name and the schema its marts are built in."""

    name: str
    schema: str

    @property
    def local_lake(self) -> bool:
        """Whether dbt reads a lake folder on this machine (DuckDB, or the local Trino)."""
        return self.name in ("local", "trino")


def resolve_target(explicit: str | None, env: Mapping[str, str]) -> Target:
    """`--target`, else `$WEBLOGS_DBT_TARGET`, else `local`; its schema checked."""
    name = explicit or env.get("WEBLOGS_DBT_TARGET") or "local"
    if name not in TARGETS:
        raise UsageError(f"target {name!r} is not one of {', '.join(TARGETS)}")
    schema = env.get(SCHEMA_VARS.get(name, ""), "") or DEFAULT_SCHEMAS[name]
    if not SCHEMA_RE.fullmatch(schema):
        raise ConfigError(
            f"{SCHEMA_VARS[name]}={schema!r} is not a schema name (letters, digits, underscores)"
        )
    return Target(name, schema)


def check_lake(lake: Path) -> None:
    """The local sources dbt will read; a clear line for what is missing."""
    events = lake / layout.EVENTS
    if not events.is_dir() or next(events.glob(layout.EVENT_FILES_GLOB), None) is None:
        raise UsageError(
            f"no events in {events} (write some with `weblogs transform --input FILE --lake {lake}`)"
        )
    for name in layout.CRM_FILES:
        if not (lake / layout.CRM / name).is_file():
            raise UsageError(
                f"missing CRM extract {lake / layout.CRM / name} (docs/contract.md#2-the-lake)"
            )


@dataclass(frozen=True)
class AthenaSettings:
    """What the athena target and the run's reads need (the task definition's environment)."""

    region: str
    workgroup: str
    staging_dir: str
    catalog: str


def athena_settings(env: Mapping[str, str]) -> AthenaSettings:
    """The athena target's settings from the environment, each checked (one line per problem)."""
    region = env.get("WEBLOGS_AWS_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ConfigError(
            f"athena target: no valid AWS region (WEBLOGS_AWS_REGION or AWS_REGION: {region!r})"
        )
    workgroup = env.get("WEBLOGS_ATHENA_WORKGROUP", "")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", workgroup):
        raise ConfigError(
            f"athena target: WEBLOGS_ATHENA_WORKGROUP={workgroup!r} is not an Athena workgroup name"
        )
    staging = env.get("WEBLOGS_ATHENA_S3_STAGING_DIR", "")
    if not S3_URI_RE.fullmatch(staging):
        raise ConfigError(
            f"athena target: WEBLOGS_ATHENA_S3_STAGING_DIR={staging!r} is not an s3://bucket/prefix/"
        )
    catalog = env.get("WEBLOGS_ATHENA_CATALOG") or "awsdatacatalog"
    if not SCHEMA_RE.fullmatch(catalog):
        raise ConfigError(
            f"athena target: WEBLOGS_ATHENA_CATALOG={catalog!r} is not a catalog name"
        )
    return AthenaSettings(region, workgroup, staging, catalog)


def check_target(target: Target, env: Mapping[str, str], lake: Path) -> None:
    """What this target needs before dbt starts, only that."""
    if target.local_lake:
        check_lake(lake)
    else:
        athena_settings(env)
