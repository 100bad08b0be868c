"""The lake of the privacy tests (docs/contract.md section 7): the fixture lake plus
sessions of bots (a browser containing a listed pattern) and sessions whose URLs carry
secrets in every form of the contract's examples. DuckDB (test_dbt_privacy.py) and
Trino (test_trino_privacy_lake.py) build their marts over it and search them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt_helpers import START, build_fixture_lake, event, transform, write_jsonl
from privacy_reference import redact_url

#: Values that are secrets by the contract: none may appear in any mart.
SECRETS = (
    "alice%40example.com", "TOKEN-SECRET", "hunter2-SECRET", "555-0100", "x-SECRET", "IDTOK-SECRET",
)  # fmt: skip
#: The bot sessions and their events (reported in session_anomalies, in no mart).
BOT_SESSIONS = {"bot-google": 3, "bot-headless": 2, "bot-curl": 1}
BOT_USER = "u-bot"
#: The query parameters page_path keeps here (so a secret would survive into it).
PAGE_QUERY_PARAMS = "[Email, email, x, password, PHONE, lang]"
#: The raw URLs of the secret-carrying sessions, in time order.
SECRET_URLS = {
    "secret": (
        "https://shop.example.com/cb?Email=alice%40example.com&x=1#access_token=TOKEN-SECRET-1",
        "/account?password=hunter2-SECRET&lang=en",
        "/account?PHONE=555-0100&lang=en",
        "/#/login?token=TOKEN-SECRET-2",
    ),
    "secret-2": (
        "/a?email=x-SECRET=y&z",  # everything after the item's first `=`
        "/a?email&x=1",  # no `=`: unchanged
        "/a&email=plain?y=1",  # before the first `?`: unchanged
        "/cb?lang=en#id_token=IDTOK-SECRET&E-Mail=x-SECRET-2",
    ),
}


def privacy_events() -> list[dict[str, Any]]:
    secret, secret_2 = SECRET_URLS["secret"], SECRET_URLS["secret-2"]
    return [
        event("bot-google", "page_view", "2026-10-02T10:00:00", "/", user_id=BOT_USER,
              browser=" Mozilla/5.0 (compatible; Googlebot/2.1) "),
        event("bot-google", "page_view", "2026-10-02T10:00:01", "/a", user_id=BOT_USER,
              browser="chrome"),
        event("bot-google", "click", "2026-10-02T10:00:02", "/a", user_id=BOT_USER),
        event("bot-headless", "page_view", "2026-10-03T10:00:00", "/", browser="HeadlessChrome"),
        event("bot-headless", "page_view", "2026-10-03T10:00:05", "/b", browser="HeadlessChrome"),
        event("bot-curl", "page_view", "2026-10-04T10:00:00", "/", browser="curl/8.4.0"),
        # The first event's browser decides: a later bot-like browser is not a bot session.
        event("human-later", "page_view", "2026-10-02T11:00:00", "/", browser="chrome"),
        event("human-later", "click", "2026-10-02T11:00:01", "/", browser="python-requests"),
        event("secret", "page_view", "2026-10-02T12:00:00", secret[0], user_id="u-secret",
              browser="safari"),
        event("secret", "page_view", "2026-10-02T12:01:00", secret[1], user_id="u-secret",
              browser="safari"),
        event("secret", "page_view", "2026-10-02T12:02:00", secret[2], user_id="u-secret"),
        event("secret", "click", "2026-10-02T12:03:00", secret[3], user_id="u-secret"),
        *(
            event("secret-2", "page_view", f"2026-10-03T12:0{i}:00", url, browser="firefox")
            for i, url in enumerate(secret_2)
        ),
    ]  # fmt: skip


def build_privacy_lake(root: Path) -> Path:
    """The fixture lake under `root/lake` plus the privacy sessions."""
    lake = build_fixture_lake(root)
    transform(write_jsonl(root / "privacy.jsonl", privacy_events()), lake)
    return lake


def privacy_vars(end: str) -> str:
    return f"{{startdate: {START}, enddate: {end}, page_query_params: {PAGE_QUERY_PARAMS}}}"


#: The mart columns holding a URL or a path (docs/contract.md section 7).
URL_COLUMNS = (
    "entry_page", "exit_page", "page_path", "landing_page_path", "first_landing_page_path",
)  # fmt: skip


def expected_entry_and_exit() -> dict[str, tuple[str | None, str | None]]:
    """Each secret session's entry_page and exit_page by the plain-Python redaction."""
    return {
        session: (redact_url(urls[0]), redact_url(urls[-1]))
        for session, urls in SECRET_URLS.items()
    }


def leaks(values: list[str]) -> list[str]:
    """The values that name a bot session, the bot's user or a secret."""
    needles = (*SECRETS, *BOT_SESSIONS, BOT_USER)
    return [v for v in values if any(n in v for n in needles)]
