"""The simulator's traffic read by the acquisition rules (docs/contract.md section 4).

Thousands of generated sessions go through `weblogs transform` into a lake and are read
with the plain-Python reference of the rules (acquisition_reference.py), no dbt: every
channel must appear with a realistic share, sources must convert differently, campaign
tagging must carry the mess real ad platforms and mail tools write, and pages must have
entrances and exits.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from acquisition_reference import AcquisitionVars, reference_acquisition, sessions_in_window
from dbt_helpers import transform, write_jsonl

from weblogs.simulator import DEFAULT_START, TrafficGenerator

START = DEFAULT_START.date().isoformat()
END = "2025-06-04"
EVENTS = 30_000  # about 4000 sessions over 14 simulated hours
# Share of sessions per channel, in percent: (low, high). Wide enough for any seed,
# narrow enough that a source missing, doubled or mislabelled falls out.
SHARES = {
    "direct": (15, 30),
    "organic_search": (20, 36),
    "paid_search": (7, 17),
    "social": (5, 13),
    "paid_social": (2, 8),
    "email": (5, 12),
    "referral": (5, 14),
    "display": (1.5, 6),
    "affiliate": (2, 7),
    "other_campaign": (0.5, 4),
}
CAMPAIGN_CHANNELS = ("paid_search", "paid_social", "display", "email", "affiliate")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim-acq")
    events = TrafficGenerator(18).events(EVENTS)
    transform(write_jsonl(root / "events.jsonl", events), root / "lake")
    return root / "lake"


@pytest.fixture(scope="module")
def marts(lake: Path) -> dict[str, list[dict[str, Any]]]:
    return reference_acquisition(lake, START, END)


def by_channel(marts: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """acquisition_metrics summed over the days."""
    totals: dict[str, dict[str, int]] = defaultdict(Counter)
    for row in marts["acquisition_metrics"]:
        for column in (
            "sessions",
            "add_to_cart_sessions",
            "checkout_sessions",
            "converted_sessions",
            "purchases",
        ):
            totals[row["channel"]][column] += row[column]
    return totals


def pooled_rate(totals: dict[str, dict[str, int]], names: tuple[str, ...]) -> float:
    converted = sum(totals[n]["converted_sessions"] for n in names)
    return 100 * converted / sum(totals[n]["sessions"] for n in names)


def test_every_channel_appears_with_a_realistic_share(
    marts: dict[str, list[dict[str, Any]]],
) -> None:
    totals = by_channel(marts)
    sessions = sum(t["sessions"] for t in totals.values())
    assert sessions > 3000
    shares = {name: 100 * t["sessions"] / sessions for name, t in totals.items()}
    assert set(shares) == set(SHARES), shares
    for name, (low, high) in SHARES.items():
        assert low <= shares[name] <= high, (name, shares[name])
    # The usual order of a web shop's traffic.
    assert shares["organic_search"] > shares["direct"] > shares["paid_search"]
    assert shares["paid_search"] > shares["display"] and shares["email"] > shares["affiliate"]


def test_sources_convert_differently(marts: dict[str, list[dict[str, Any]]]) -> None:
    totals = by_channel(marts)
    rate = {name: 100 * t["converted_sessions"] / t["sessions"] for name, t in totals.items()}
    converted = sum(t["converted_sessions"] for t in totals.values())
    sessions = sum(t["sessions"] for t in totals.values())
    assert 0.02 < converted / sessions < 0.12
    for name, t in totals.items():  # a funnel narrows
        assert t["sessions"] >= t["add_to_cart_sessions"] >= t["checkout_sessions"], name
        assert t["checkout_sessions"] >= t["converted_sessions"], name
        assert t["purchases"] >= t["converted_sessions"], name
    # Mail and paid search bring buyers, social media and banners browsers (the small
    # channels pooled: a few hundred sessions each are too few to rank one by one).
    for good in ("email", "paid_search"):
        assert rate[good] > rate["organic_search"] > rate["social"], (good, rate)
        assert rate[good] > 2 * rate["social"], (good, rate)
    buyers = pooled_rate(totals, ("email", "paid_search", "affiliate"))
    browsers = pooled_rate(totals, ("social", "paid_social", "display"))
    assert buyers > 2.5 * browsers, (buyers, browsers)
    assert max(rate.values()) - min(rate.values()) > 4, rate
    # The marts' own rate column agrees: it differs between channels on a day.
    day = [r for r in marts["acquisition_metrics"] if r["session_date"] == DEFAULT_START.date()]
    assert len({r["conversion_rate_pct"] for r in day}) >= 6


def test_pages_have_entrances_and_exits(marts: dict[str, list[dict[str, Any]]]) -> None:
    pages = marts["page_metrics"]
    entrances: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    views: Counter[str] = Counter()
    for row in pages:
        assert row["entrances"] <= row["sessions"] <= row["page_views"], row
        assert row["exits"] <= row["sessions"], row
        kind = re.sub(r"/\d+$", "/<id>", row["page_path"])
        entrances[kind] += row["entrances"]
        exits[kind] += row["exits"]
        views[kind] += row["page_views"]
    viewed = sum(1 for s in marts["engagement_metrics"] if s["landing_page_path"])
    # One entrance and one exit per session with a page view.
    assert sum(entrances.values()) == sum(exits.values()) <= viewed
    for kind in ("/", "/category/sale", "/products/<id>", "/blog/<id>", "/search"):
        assert entrances[kind] > 20 and exits[kind] > 20, kind
    # Visits land on campaign pages more than they leave from them.
    assert entrances["/category/sale"] > exits["/category/sale"]
    for kind in ("/", "/products/<id>"):  # some views are exits, most are not
        assert 0.05 < exits[kind] / views[kind] < 0.5, (kind, exits[kind], views[kind])
    assert any(r["avg_time_on_page_seconds"] for r in pages)


def test_landings_and_tags_look_like_real_campaigns(lake: Path) -> None:
    sessions = sessions_in_window(
        lake, date.fromisoformat(START), date.fromisoformat(END), AcquisitionVars()
    )
    landing: dict[str, Counter[str]] = defaultdict(Counter)
    first_urls, referrers, campaigns, hosts = [], [], set(), set()
    for s in sessions:
        c = s.columns
        landing[c["channel"]][c["landing_page_path"].split("/")[1] or "home"] += 1
        first_urls.append(s.rows[0]["page_url"])
        referrers.append(s.rows[0]["referrer"] or "")
        campaigns.add(c["utm_campaign"])
        hosts.add(c["referrer_host"])
        query = s.rows[0]["page_url"].partition("?")[2].partition("#")[0]
        mediums = [
            v for k, _, v in (i.partition("=") for i in query.split("&")) if k == "utm_medium"
        ]
        if len(mediums) > 1:  # the first occurrence wins
            assert c["utm_medium"] == mediums[0].lower(), (mediums, c)
    for name in CAMPAIGN_CHANNELS:  # campaigns land on products, categories and sales
        kinds = landing[name]
        assert (kinds["products"] + kinds["category"]) / kinds.total() > 0.7, (name, kinds)
        assert kinds["blog"] == 0, (name, kinds)
    assert landing["organic_search"]["blog"] > 0.1 * landing["organic_search"].total()
    assert landing["direct"]["home"] > 0.3 * landing["direct"].total()
    # Decoded `+` and `%20`, upper case lowered, click ids and fragments along.
    assert {"summer sale", "weekly deals", "brand_search", "issue 42"} <= campaigns
    for mess in ("utm_medium=CPC", "gclid=", "fbclid=", "#", "%20", "+", "utm_source=Google"):
        assert any(mess in url for url in first_urls), mess
    assert sum("&utm_medium=" in u and u.count("utm_medium=") > 1 for u in first_urls) > 5
    assert {"google.com", "bing.com", "duckduckgo.com", "ecosia.org", "t.co"} <= hosts
    assert {"l.facebook.com", "lm.facebook.com", "reddit.com", "linkedin.com"} <= hosts
    assert any(r.startswith("https://www.") for r in referrers)
    assert "shop.example.com" in hosts  # internal referrers: the site's own host


def test_internal_referrers_become_direct_with_the_site_hosts(lake: Path) -> None:
    plain = by_channel(reference_acquisition(lake, START, END))
    own = by_channel(
        reference_acquisition(lake, START, END, AcquisitionVars(site_hosts=["shop.example.com"]))
    )
    moved = own["direct"]["sessions"] - plain["direct"]["sessions"]
    assert moved == plain["referral"]["sessions"] - own["referral"]["sessions"]
    total = sum(t["sessions"] for t in plain.values())
    assert 0.005 * total < moved < 0.05 * total
