"""Acquisition, pages and conversions (docs/contract.md section 4) in plain Python.

Written from the contract's words, independently of the SQL: the tests compare the
marts dbt builds with what these functions compute from the same Parquet lake.
Also a seeded generator of raw API events whose sessions exercise every rule
(referrers, campaign landings, funnels, page paths) for those comparisons.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from dbt_helpers import hundredths, is_bot_session, mean2, r2, read_events, split_sessions

SEARCH_DOMAINS = [
    "google.com", "google.co.uk", "google.de", "google.fr", "bing.com", "duckduckgo.com",
    "yahoo.com", "baidu.com", "yandex.ru", "ecosia.org",
]  # fmt: skip
SOCIAL_DOMAINS = [
    "facebook.com", "instagram.com", "t.co", "twitter.com", "x.com", "linkedin.com", "lnkd.in",
    "reddit.com", "pinterest.com", "tiktok.com", "youtube.com",
]  # fmt: skip
ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
REFERRER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#@]*@)?([^/?#:]*)")
MEDIUM_RULES = (
    ("paid_search", {"cpc", "ppc", "paidsearch", "paid_search"}),
    ("paid_social", {"paid_social", "paidsocial"}),
    ("display", {"display", "banner", "cpm"}),
    ("email", {"email", "e-mail", "newsletter"}),
    ("affiliate", {"affiliate", "affiliates"}),
)
SOCIAL_MEDIUMS = {"social", "social-network", "social_media", "sm"}


@dataclass(frozen=True)
class AcquisitionVars:
    """The section 4 vars, with the contract's defaults."""

    page_query_params: list[str] = field(default_factory=list)
    site_hosts: list[str] = field(default_factory=list)
    search_domains: list[str] = field(default_factory=lambda: list(SEARCH_DOMAINS))
    social_domains: list[str] = field(default_factory=lambda: list(SOCIAL_DOMAINS))


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def page_path(url: str, params: list[str]) -> str:
    """The `page_path` of a `page_url`, rule by rule."""
    rest = _without_fragment(url)
    if ABSOLUTE.match(rest):
        after_scheme = rest[ABSOLUTE.match(rest).end() :]  # type: ignore[union-attr]
        cut = min(
            [i for i in (after_scheme.find("/"), after_scheme.find("?")) if i >= 0]
            or [len(after_scheme)]
        )
        rest = after_scheme[cut:]
    path, has_query, query = rest.partition("?")
    if path == "":
        path = "/"
    elif path != "/" and path.endswith("/"):
        path = path[:-1]
    if has_query:
        kept = [item for item in query.split("&") if item.split("=", 1)[0] in params]
        if kept:
            path += "?" + "&".join(kept)
    return path


def simple_lower(text: str) -> str:
    """Lower-case character by character (simple case mapping, like SQL `lower`)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def campaign_value(url: str, name: str) -> str | None:
    """A utm_* value of the landing URL: first occurrence, decoded, trimmed, lower-cased."""
    rest = _without_fragment(url)
    if "?" not in rest:
        return None
    for item in rest.split("?", 1)[1].split("&"):
        if item.split("=", 1)[0] != name:
            continue
        raw = item.split("=", 1)[1] if "=" in item else ""
        try:
            decoded = unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            return None
        return simple_lower(decoded.strip(" \t\r\n")) or None
    return None


def host_matches(host: str | None, domains: list[str]) -> bool:
    return host is not None and any(host == d or host.endswith("." + d) for d in domains)


def referrer_host(referrer: str | None, site_hosts: list[str]) -> str | None:
    if not referrer:
        return None
    match = REFERRER.match(referrer)
    if match is None:
        return None
    host = simple_lower(match.group(2))
    if host.startswith("www."):
        host = host[4:]
    if not host or host_matches(host, site_hosts):
        return None
    return host


def channel(source: str | None, medium: str | None, host: str | None, v: AcquisitionVars) -> str:
    for name, mediums in MEDIUM_RULES:
        if medium in mediums:
            return name
    if medium in SOCIAL_MEDIUMS or host_matches(host, v.social_domains):
        return "social"
    if host_matches(host, v.search_domains):
        return "organic_search"
    if source is not None or medium is not None:
        return "other_campaign"
    if host is not None:
        return "referral"
    return "direct"


def funnel(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Conversion flags of one session's events in session order."""
    types = [r["event_type"] for r in rows]
    cart = types.index("add_to_cart") if "add_to_cart" in types else None
    checkout = None
    if cart is not None:
        checkout = next((i for i in range(cart + 1, len(types)) if types[i] == "checkout"), None)
    converted = checkout is not None and "purchase" in types[checkout + 1 :]
    return {
        "reached_add_to_cart": cart is not None,
        "reached_checkout": checkout is not None,
        "converted": converted,
        "purchases": types.count("purchase"),
    }


@dataclass
class Session:
    session_id: str
    session_date: date
    user_id: str
    is_bounce: bool
    score_hundredths: int
    rows: list[dict[str, Any]]
    columns: dict[str, Any]


def sessions_in_window(lake: Path, d0: date, d1: date, v: AcquisitionVars) -> list[Session]:
    """Deduplicated (earliest ingested copy), split by the session rule, in the window."""
    winners: dict[str, dict[str, Any]] = {}
    for row in read_events(lake):
        key = (
            row["ingested_at"], row["event_timestamp"], row["session_id"],
            row["user_id"], row["event_type"], row["page_url"],
        )  # fmt: skip
        best = winners.get(row["event_id"])
        if best is None or key < best["_key"]:
            winners[row["event_id"]] = {**row, "_key": key}
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in winners.values():
        by_id[row["session_id"]].append(row)
    sessions = []
    for session_id, rows in by_id.items():
        rows.sort(key=lambda r: (r["event_timestamp"], r["event_id"].encode()))
        for part in split_sessions(rows)[0]:
            first, last = part[0], part[-1]
            day = first["event_timestamp"].date()
            if not d0 <= day <= d1 or is_bot_session(part):
                continue  # out of the window, or a bot session: in no mart (section 7)
            known = [r for r in part if not r["is_anonymous_user"]]
            duration = (last["event_timestamp"] - first["event_timestamp"]) / timedelta(seconds=1)
            pages = len({r["page_url"] for r in part})
            score = (
                0.4 * min(duration / 1800, 1)
                + 0.3 * min(len(part) / 20, 1)
                + 0.3 * min(pages / 10, 1)
            )
            source = campaign_value(first["page_url"], "utm_source")
            medium = campaign_value(first["page_url"], "utm_medium")
            host = referrer_host(first["referrer"], v.site_hosts)
            columns = {
                "session_id": session_id,
                "session_date": day,
                "landing_page_path": page_path(first["page_url"], v.page_query_params),
                "referrer_host": host,
                "utm_source": source,
                "utm_medium": medium,
                "utm_campaign": campaign_value(first["page_url"], "utm_campaign"),
                "channel": channel(source, medium, host, v),
                **funnel(part),
            }
            sessions.append(
                Session(
                    session_id=session_id,
                    session_date=day,
                    user_id=(known[-1] if known else last)["user_id"],
                    is_bounce=len(part) == 1,
                    score_hundredths=hundredths(r2(100 * score)),
                    rows=part,
                    columns=columns,
                )
            )
    return sessions


def reference_acquisition(
    lake: Path, start: str, end: str, v: AcquisitionVars | None = None
) -> dict[str, list[dict[str, Any]]]:
    """engagement_metrics' section 4 columns, acquisition_metrics and page_metrics."""
    v = v or AcquisitionVars()
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    sessions = sessions_in_window(lake, d0, d1, v)

    groups: dict[tuple[date, str], list[Session]] = defaultdict(list)
    for s in sessions:
        groups[(s.session_date, s.columns["channel"])].append(s)
    acquisition = []
    for (day, name), group in groups.items():
        n = len(group)
        converted = sum(s.columns["converted"] for s in group)
        acquisition.append(
            {
                "session_date": day,
                "channel": name,
                "sessions": n,
                "users": len({s.user_id for s in group}),
                "bounce_rate_pct": mean2(100 * sum(s.is_bounce for s in group), n),
                "avg_engagement_score": mean2(sum(s.score_hundredths for s in group), n, 100),
                "add_to_cart_sessions": sum(s.columns["reached_add_to_cart"] for s in group),
                "checkout_sessions": sum(s.columns["reached_checkout"] for s in group),
                "converted_sessions": converted,
                "conversion_rate_pct": mean2(100 * converted, n),
                "purchases": sum(s.columns["purchases"] for s in group),
            }
        )

    views: dict[tuple[date, str], list[tuple[str, bool, bool, int | None]]] = defaultdict(list)
    for s in sessions:
        positions = [i for i, r in enumerate(s.rows) if r["event_type"] == "page_view"]
        for i in positions:
            row = s.rows[i]
            following = None
            if i + 1 < len(s.rows):
                gap = s.rows[i + 1]["event_timestamp"] - row["event_timestamp"]
                following = round(gap / timedelta(milliseconds=1))
            path = page_path(row["page_url"], v.page_query_params)
            views[(s.session_date, path)].append(
                (s.session_id, i == positions[0], i == positions[-1], following)
            )
    pages = []
    for (day, path), group in views.items():
        timed = [t for _, _, _, t in group if t is not None]
        exits = sum(e for _, _, e, _ in group)
        pages.append(
            {
                "session_date": day,
                "page_path": path,
                "page_views": len(group),
                "sessions": len({sid for sid, _, _, _ in group}),
                "entrances": sum(e for _, e, _, _ in group),
                "exits": exits,
                "exit_rate_pct": mean2(100 * exits, len(group)),
                "avg_time_on_page_seconds": mean2(sum(timed), len(timed), 1000) if timed else None,
                "timed_page_views": len(timed),
                "time_on_page_milliseconds": sum(timed),
            }
        )
    return {
        "engagement_metrics": [s.columns for s in sessions],
        "acquisition_metrics": acquisition,
        "page_metrics": pages,
    }


# --- Events that exercise section 4 ----------------------------------------------------

REFERRERS = (
    None, None, None, "", "https://www.google.com/search?q=shoes", "https://Google.CO.UK/",
    "https://www.bing.com/", "https://duckduckgo.com/?q=x", "android-app://m.facebook.com/",
    "https://user:pw@www.instagram.com.evil.net:443/p", "https://t.co/abc", "https://www.reddit.com/r/x",
    "https://news.example.org/a", "https://shop.example.com/cart", "https://www.example.com/",
    "not a url", "https://", "https://notgoogle.com/", "http://blog.partner.net:8080/x",
    "HTTPS://WWW.Search.Example.NET/q",
)  # fmt: skip
LANDINGS = (
    "/", "/", "/products/shoes/", "https://shop.example.com:8443/Products/?id=7&lang=en#top",
    "/sale?utm_source=Google&utm_medium=CPC&utm_campaign=Spring+Sale",
    "/p?utm_source=&utm_source=news&utm_medium=email", "/p?utm_medium=social&utm_campaign=%E9",
    "/q?utm_source=Caf%C3%A9&utm_medium=%zz", "/r?utm_medium=paid_social&utm_source=fb",
    "/s?utm_medium=display", "/t?utm_medium=affiliate&utm_source=partner",
    "/u/?utm_medium=%09Newsletter%0A", "/v?lang=de&id=1&id=2&ID=3", "HTTP://EXAMPLE.COM",
    "/w/#frag", "/x?utm_source=%20+%20", "https://example.com//?lang=fr",
)  # fmt: skip
PAGES = ("/products/1", "/products/2/", "/cart", "/checkout?step=1", "/search?q=a&lang=en", "/")
TYPES = (
    ("page_view", 5), ("click", 3), ("scroll", 1), ("add_to_cart", 2), ("checkout", 2),
    ("purchase", 2), ("search", 1),
)  # fmt: skip


def acquisition_events(
    first_day: date, days: int, sessions: int, seed: int
) -> list[dict[str, Any]]:
    """Raw API events (`timestamp` in ms): sessions from every kind of source with funnels.

    Sessions start from the day before `first_day` to the day after the last day,
    some cross midnight, some events share a millisecond, some are sent twice, one
    session_id is reused after two days and one is kept alive for more than 24 hours.
    """
    rng = random.Random(seed)
    names = [t for t, _ in TYPES]
    weights = [w for _, w in TYPES]
    events: list[dict[str, Any]] = []
    base = datetime(first_day.year, first_day.month, first_day.day) - timedelta(days=1)

    def emit(
        session: str, kind: str, at: datetime, page: str, referrer: str | None, user: str | None
    ) -> None:
        raw: dict[str, Any] = {
            "event_id": f"{session}-{len(events)}",
            "session_id": session,
            "event_type": kind,
            "page_url": page,
            "timestamp": int((at - datetime(1970, 1, 1)) / timedelta(milliseconds=1)),
            "device_type": rng.choice(("desktop", "mobile")),
            "browser": "chrome",
        }
        if referrer is not None:
            raw["referrer"] = referrer
        if user is not None:
            raw["user_id"] = user
        events.append(raw)
        if rng.random() < 0.03:
            events.append(dict(raw))  # delivered twice

    for n in range(sessions):
        session = f"a{n}"
        at = base + timedelta(days=rng.randrange(days + 2), seconds=rng.randrange(86400))
        if rng.random() < 0.1:
            at = at.replace(hour=23, minute=50)
        user = rng.choice((None, f"u{rng.randrange(40)}"))
        emit(session, "page_view", at, rng.choice(LANDINGS), rng.choice(REFERRERS), user)
        for _ in range(rng.choice((0, 0, 1, 2, 3, 5, 8))):
            if rng.random() > 0.15:  # else: the same millisecond as the previous event
                at += timedelta(milliseconds=rng.randrange(1, 400_000))
            kind = rng.choices(names, weights)[0]
            emit(session, kind, at, rng.choice(PAGES), "https://shop.example.com/", user)
        if rng.random() < 0.2:  # a funnel to the end
            for kind in ("add_to_cart", "checkout", "purchase"):
                at += timedelta(milliseconds=rng.randrange(0, 90_000))
                emit(session, kind, at, "/cart", "https://shop.example.com/", user)
    start = base + timedelta(days=1, hours=10)
    emit("reused", "page_view", start, "/?utm_medium=cpc", "https://www.google.de/", "u1")
    emit("reused", "purchase", start + timedelta(days=2), "/products/1", None, "u1")
    emit("reused", "page_view", start + timedelta(days=2, seconds=5), "/cart", None, "u1")
    for hours in (0, 10, 20, 30):
        emit(
            "endless",
            "page_view",
            start + timedelta(hours=hours),
            f"/e{hours}",
            "https://x.com/",
            "u2",
        )
    return events
