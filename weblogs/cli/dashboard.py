"""`weblogs dashboard`: build the static dashboard site from the marts, or serve it live."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from weblogs.core.errors import UsageError

DEFAULT_OUT = Path("data/dashboard")
#: dashboard/package.json's npm install, next to the package in a checkout (make venv).
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[2] / "dashboard" / "node_modules"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="build the dashboard site (one page per report) from the marts",
        description=(
            "Build a static site with the Overview, Acquisition, Pages, Audience, Visitors, "
            "Goals, Loyalty and Data health pages from the marts in the DuckDB file, on "
            "Trino (--trino) or built by Athena (--athena) (docs/dashboards.md). "
            "With --serve, serve it on 127.0.0.1 and rebuild it whenever the warehouse "
            "changes."
        ),
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        help="DuckDB file (default: $WEBLOGS_DUCKDB_PATH, else data/weblogs.duckdb)",
    )
    parser.add_argument(
        "--trino",
        metavar="URL",
        help="read the marts from Trino instead, http(s)://host:port/catalog/schema "
        "(production; docs/dashboards.md)",
    )
    parser.add_argument(
        "--athena",
        metavar="DATABASE",
        help="read the marts Athena built instead: the Glue database's tables, as Parquet "
        "on S3 (the AWS credential chain; docs/dashboards.md)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="site folder")
    parser.add_argument(
        "--node-modules",
        type=Path,
        default=DEFAULT_NODE_MODULES,
        help="the npm install of dashboard/package.json (make dashboard-install)",
    )
    parser.add_argument(
        "--days", type=int, default=400, help="days of data the site embeds (default 400)"
    )
    parser.add_argument("--serve", action="store_true", help="serve the site and rebuild it live")
    parser.add_argument("--port", type=int, default=8081, help="port for --serve (default 8081)")
    parser.set_defaults(func=run)


class LiveSite:
    """Rebuilds the site when the warehouse file changed since the last build."""

    def __init__(self, args: argparse.Namespace, duckdb_path: Path) -> None:
        self.args = args
        self.duckdb_path = duckdb_path
        self.built_for: float | None = None

    def stamp(self) -> float | None:
        """The warehouse file's mtime; on Trino or Athena, the current minute (rebuilt once
        a minute)."""
        if self.args.trino or self.args.athena:
            return float(int(time.time() // 60))
        return self.duckdb_path.stat().st_mtime if self.duckdb_path.exists() else None

    def build(self) -> None:
        from weblogs.dashboard import DashboardError, build_site

        stamp = self.stamp()
        if stamp is not None and stamp == self.built_for:
            return
        try:
            build_site(
                self.duckdb_path,
                self.args.out,
                self.args.node_modules,
                self.args.days,
                trino_url=self.args.trino,
                athena_database=self.args.athena,
            )
        except DashboardError as exc:
            raise UsageError(str(exc)) from exc
        self.built_for = stamp


def serve(live: LiveSite, port: int) -> None:
    """Serve the site on loopback, rebuilding before each page request."""

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0].endswith("/") or ".html" in self.path:
                try:
                    live.build()
                except UsageError as exc:
                    self.send_error(503, str(exc))
                    return
            super().do_GET()

    handler = functools.partial(Handler, directory=str(live.args.out))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"dashboard: http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        sys.stdout.flush()
        server.serve_forever()


def run(args: argparse.Namespace) -> int:
    from weblogs.analytics import default_duckdb_path

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    duckdb_path = (args.duckdb or default_duckdb_path(os.environ)).resolve()
    live = LiveSite(args, duckdb_path)
    live.build()
    if args.serve:
        serve(live, args.port)
        return 0
    print(f"dashboard: open file://{(args.out / 'index.html').resolve()}")
    print("  or serve it live: make dashboard-dev")
    return 0
