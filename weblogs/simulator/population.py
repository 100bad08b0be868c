"""The simulated site and its people: pages, devices, users, and the CRM extracts."""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

# A fixed default start so a run without `start` is reproducible byte for byte.
DEFAULT_START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)

SITE = "https://shop.example.com"
CATEGORIES = ("shoes", "outdoor", "kitchen", "books", "toys", "garden", "electronics", "sale")
SEARCH_TERMS = ("running shoes", "tent", "coffee grinder", "lego", "headphones", "gift card")
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "AU", "NL", "ES", "JP", "MX", "SE", "PL")
COUNTRY_WEIGHTS = (30, 10, 9, 6, 8, 6, 5, 4, 3, 4, 4, 3, 2, 2)
# device -> (weight, browsers with weights, operating systems)
DEVICES: dict[str, tuple[int, tuple[tuple[str, int], ...], tuple[str, ...]]] = {
    "desktop": (
        45,
        (("chrome", 55), ("firefox", 15), ("safari", 15), ("edge", 15)),
        ("windows", "macos", "linux"),
    ),
    "mobile": (
        45,
        (("chrome", 45), ("safari", 45), ("samsung internet", 10)),
        ("android", "ios"),
    ),
    "tablet": (10, (("safari", 60), ("chrome", 40)), ("ipados", "android")),
}
TIERS = (("none", 45), ("bronze", 25), ("silver", 18), ("gold", 12))
EXTRA_FIELDS: tuple[tuple[str, Any], ...] = (
    ("campaign_id", "cmp-2025-summer"),
    ("ab_variant", "B"),
    ("utm_source", "newsletter"),
    ("app_version", "4.2.1"),
    ("consent", True),
    ("screen", {"w": 1920, "h": 1080}),
    ("latency_ms", 123.5),
    ("tags", ["promo", "mobile-web"]),
)
TIMESTAMP_ENCODINGS = (
    ("epoch_s", 20),
    ("epoch_s_float", 10),
    ("epoch_ms", 25),
    ("epoch_s_str", 5),
    ("epoch_ms_str", 10),
    ("iso_z", 15),
    ("iso_utc_offset", 5),
    ("iso_other_offset", 5),
    ("iso_naive", 5),
)
MALFORMED_KINDS = (
    "not_an_object",
    "missing_field",
    "empty_field",
    "invalid_type",
    "too_long",
    "invalid_timestamp",
    "timestamp_out_of_range",
    "unknown_event_type",
)


@dataclass(frozen=True)
class Source:
    """Where a visit comes from, as the landing event shows it (docs/contract.md section 4).

    `referrers` and `queries` are picked independently, each by weight; a query is the
    campaign tagging an ad platform or mail tool appends to the landing URL, written as
    they write it (upper-case values, `+` and `%20`, repeated or unknown parameters, click
    ids), and `{id}` in either becomes a random token. `landings` are page kinds
    (`TrafficGenerator._base_page`; `any` is the ordinary page mix). `intent` scales the
    weights of `add_to_cart` and `checkout` and the chance a checkout ends in a purchase;
    `bounce` is the share of one-event visits.
    """

    name: str
    weight: int
    referrers: tuple[tuple[str | None, int], ...]
    queries: tuple[tuple[str, int], ...]
    landings: tuple[tuple[str, int], ...]
    intent: float
    bounce: float


NO_QUERY: tuple[tuple[str, int], ...] = (("", 1),)
# Named after the channel each source should end in; `internal` (the site's own pages as
# referrer, as after a long pause or from a bookmark of a cart) is `referral` unless the
# site's hosts are configured, then `direct`.
SOURCES: tuple[Source, ...] = (
    Source(
        "direct",
        22,
        ((None, 90), ("", 10)),
        NO_QUERY,
        (
            ("home", 45), ("product", 20), ("category", 10), ("account", 10), ("cart", 5),
            ("sale", 5), ("search", 5),
        ),
        intent=1.1,
        bounce=0.12,
    ),
    Source(
        "organic_search",
        27,
        (
            ("https://www.google.com/", 45), ("https://www.google.co.uk/", 5),
            ("https://www.google.de/", 5), ("https://www.google.fr/", 2),
            ("https://www.google.com/search?q=running+shoes", 2), ("https://WWW.Google.com/", 1),
            ("https://www.bing.com/", 12), ("https://duckduckgo.com/", 8),
            ("https://www.ecosia.org/", 4), ("https://search.yahoo.com/", 3),
            ("https://yandex.ru/", 1),
        ),
        NO_QUERY,
        (("home", 25), ("product", 40), ("category", 15), ("blog", 20)),
        intent=0.9,
        bounce=0.15,
    ),
    Source(
        "paid_search",
        12,
        (("https://www.google.com/", 70), ("https://www.bing.com/", 20), (None, 10)),
        (
            ("utm_source=google&utm_medium=cpc&utm_campaign=brand_search&gclid={id}", 35),
            ("utm_source=google&utm_medium=cpc&utm_campaign=shoes+-+generic&gclid={id}", 20),
            ("utm_source=Google&utm_medium=CPC&utm_campaign=Summer%20Sale", 10),
            ("utm_source=bing&utm_medium=ppc&utm_campaign=brand_search&msclkid={id}", 15),
            ("gclid={id}&utm_source=google&utm_medium=cpc&utm_campaign=shopping", 10),
            ("utm_source=google&utm_medium=paidsearch&utm_campaign=dsa", 5),
            ("utm_medium=cpc&utm_source=google&utm_medium=display&utm_campaign=pmax", 5),
        ),
        (("product", 50), ("category", 30), ("sale", 20)),
        intent=1.5,
        bounce=0.14,
    ),
    Source(
        "social",
        9,
        (
            ("https://l.facebook.com/", 20), ("https://m.facebook.com/", 8),
            ("https://www.facebook.com/", 7), ("https://www.instagram.com/", 10),
            ("https://l.instagram.com/", 5), ("https://t.co/{id}", 8),
            ("https://www.reddit.com/r/CampingGear/", 8), ("https://out.reddit.com/", 3),
            ("https://www.linkedin.com/", 6), ("https://lnkd.in/{id}", 3),
            ("https://www.pinterest.com/", 6), ("https://www.youtube.com/", 6),
            ("https://x.com/", 3), ("https://www.tiktok.com/", 4), (None, 5),
        ),
        (
            ("", 70), ("fbclid={id}", 15),
            ("utm_source=instagram&utm_medium=social&utm_campaign=summer_drop", 10),
            ("utm_source=Reddit&utm_medium=Social", 5),
        ),
        (("product", 40), ("blog", 30), ("home", 15), ("sale", 15)),
        intent=0.45,
        bounce=0.3,
    ),
    Source(
        "paid_social",
        5,
        (
            ("https://l.facebook.com/", 35), ("https://lm.facebook.com/", 10),
            ("https://l.instagram.com/", 25), ("https://t.co/{id}", 10),
            ("https://www.tiktok.com/", 10), (None, 10),
        ),
        (
            ("utm_source=facebook&utm_medium=paid_social&utm_campaign=retargeting_q2&fbclid={id}", 40),
            ("utm_source=instagram&utm_medium=paid_social&utm_campaign=summer%20sale", 25),
            ("utm_source=tiktok&utm_medium=paidsocial&utm_campaign=spring+launch", 15),
            ("utm_source=fb&utm_medium=Paid_Social&utm_source=facebook&utm_campaign=lookalike", 10),
            ("utm_source=twitter&utm_medium=paid_social&utm_campaign=launch", 10),
        ),
        (("product", 50), ("sale", 35), ("category", 15)),
        intent=0.65,
        bounce=0.3,
    ),
    Source(
        "display",
        3,
        (
            (None, 40), ("https://tpc.googlesyndication.com/", 40),
            ("https://www.weather-news.example/", 20),
        ),
        (
            ("utm_source=gdn&utm_medium=display&utm_campaign=retargeting", 50),
            ("utm_source=criteo&utm_medium=banner&utm_campaign=summer%20sale", 30),
            ("utm_source=dv360&utm_medium=CPM&utm_campaign=brand+awareness", 20),
        ),
        (("sale", 50), ("category", 30), ("home", 20)),
        intent=0.5,
        bounce=0.4,
    ),
    Source(
        "email",
        8,
        (
            (None, 70), ("https://mail.google.com/", 15), ("https://outlook.live.com/", 10),
            ("android-app://com.google.android.gm/", 5),
        ),
        (
            ("utm_source=newsletter&utm_medium=email&utm_campaign=weekly+deals", 40),
            ("utm_source=newsletter&utm_medium=Email&utm_campaign=summer%20sale", 20),
            ("utm_source=crm&utm_medium=email&utm_campaign=abandoned_cart", 15),
            ("utm_source=Newsletter&utm_medium=newsletter&utm_campaign=Issue%2042", 15),
            ("utm_campaign=loyalty+points&utm_medium=e-mail&utm_source=crm", 10),
        ),
        (("sale", 35), ("product", 35), ("category", 20), ("home", 10)),
        intent=1.7,
        bounce=0.1,
    ),
    Source(
        "affiliate",
        4,
        (
            ("https://www.coupon-hub.example/shop-example", 35),
            ("https://www.deals.example.net/", 25),
            ("https://blog.gearreview.example/best-tents", 25), (None, 15),
        ),
        (
            ("utm_source=couponhub&utm_medium=affiliate&utm_campaign=spring10", 45),
            ("utm_source=awin&utm_medium=affiliate&utm_campaign=Partner%20Program", 35),
            ("utm_source=gearreview&utm_medium=Affiliates&utm_campaign=reviews", 20),
        ),
        (("product", 60), ("sale", 30), ("home", 10)),
        intent=1.3,
        bounce=0.15,
    ),
    Source(
        "other_campaign",
        2,
        (
            (None, 60), ("https://podcast.example.fm/episodes/42", 20),
            ("https://www.partner-events.example/", 20),
        ),
        (
            ("utm_source=qr&utm_medium=print&utm_campaign=store+flyer", 40),
            ("utm_source=podcast&utm_campaign=hiking_hour", 30),
            ("utm_source=partner&utm_medium=sms&utm_campaign=flash%20sale", 20),
            ("UTM_SOURCE=qr&utm_medium=offline", 10),  # names match exactly: no source
        ),
        (("home", 40), ("sale", 30), ("product", 30)),
        intent=0.8,
        bounce=0.2,
    ),
    Source(
        "referral",
        6,
        (
            ("https://news.ycombinator.com/item?id=4012345", 10),
            ("https://www.outdoorblog.example/gear/tents/", 25),
            ("https://partner-store.example.org/brands", 20),
            ("https://en.wikipedia.org/wiki/Tent", 10),
            ("http://forum.hikers.example.net:8080/t/42", 10),
            ("https://www.trustpilot.com/review/shop.example.com", 15),
            ("https://Blog.Example.org/", 10),
        ),
        NO_QUERY,
        (("product", 45), ("blog", 35), ("home", 20)),
        intent=0.85,
        bounce=0.2,
    ),
    Source(
        "internal",
        2,
        (
            (f"{SITE}/", 40), (f"{SITE}/cart", 20), (f"{SITE}/products/42", 20),
            ("http://shop.example.com/blog/3", 10), ("https://www.shop.example.com/", 10),
        ),
        NO_QUERY,
        (("any", 1),),
        intent=1.0,
        bounce=0.15,
    ),
)  # fmt: skip
SOURCE_WEIGHTS = tuple(s.weight for s in SOURCES)


# Session shape: mean seconds between session starts and between a session's events.
SESSION_ARRIVAL_MEAN_S = 12.0
EVENT_GAP_MEAN_S = 20.0
RECENT_FOR_DUPLICATES = 200


def weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def encode_timestamp(ms: int, encoding: str) -> int | float | str:
    """Render epoch milliseconds in one of the encodings the contract accepts."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if encoding == "epoch_s":
        return ms // 1000
    if encoding == "epoch_s_float":
        return round(ms / 1000, 3)
    if encoding == "epoch_ms":
        return ms
    if encoding == "epoch_s_str":
        return str(ms // 1000)
    if encoding == "epoch_ms_str":
        return str(ms)
    if encoding == "iso_z":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if encoding == "iso_utc_offset":
        return moment.isoformat(timespec="milliseconds")
    if encoding == "iso_other_offset":
        hours = 2 if ms % 2 else -5
        local = moment.astimezone(timezone(timedelta(hours=hours)))
        return local.isoformat(timespec="milliseconds")
    if encoding == "iso_naive":
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds")
    raise ValueError(f"unknown timestamp encoding: {encoding}")


@dataclass
class User:
    """A registered user: the profile the CRM knows and the habits the events show."""

    user_id: str
    customer_id: str
    device_type: str
    browser: str
    os: str
    country: str
    tier: str
    signup_date: date
    in_crm: bool
    weight: float


@dataclass
class Session:
    """One visit in progress: who, on what, where they are, and what comes next."""

    session_id: str
    user_id: str | None
    device_type: str
    browser: str
    os: str
    country: str
    length: int
    login_at: int | None  # index of the login/signup event, for anonymous visitors
    login_user: str | None
    login_type: str = "login"
    member: bool = False
    step: int = 0
    page: str = ""
    cart: int = 0
    checked_out: bool = False
    pad_session_id: bool = False
    referrer: str | None = None
    source: str = "direct"
    intent: float = 1.0  # how readily this visit buys: its source's `Source.intent`
    extras: dict[str, Any] = field(default_factory=dict)


def make_users(seed: int, start: datetime, count: int) -> list[User]:
    rng = random.Random(f"weblogs-sim:{seed}:users")
    devices = tuple((name, spec[0]) for name, spec in DEVICES.items())
    users: list[User] = []
    for i in range(count):
        device = weighted(rng, devices)
        _, browsers, systems = DEVICES[device]
        users.append(
            User(
                user_id=str(100_001 + i),
                customer_id=f"CUST-{i + 1:06d}",
                device_type=device,
                browser=weighted(rng, browsers),
                os=rng.choice(systems),
                country=rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0],
                tier=weighted(rng, TIERS),
                signup_date=start.date() - timedelta(days=rng.randint(1, 900)),
                in_crm=rng.random() >= 0.03,
                # A few heavy users and a long tail, as real traffic has.
                weight=1.0 / (i + 1) ** 0.6,
            )
        )
    rng.shuffle(users)  # heavy users are not simply the lowest ids
    return users


def crm_rows(
    seed: int, start: datetime, users: list[User]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(customers, ratings) rows of the CRM extracts (docs/contract.md#2-the-lake), with the
    mess real extracts have."""
    rng = random.Random(f"weblogs-sim:{seed}:crm")
    customers: list[dict[str, str]] = []
    ratings: list[dict[str, str]] = []
    day_start = datetime.combine(start.date(), datetime.min.time(), tzinfo=UTC)
    for user in sorted(users, key=lambda u: u.user_id):
        if not user.in_crm:
            continue
        tier = user.tier
        roll = rng.random()
        if tier == "none" and roll < 0.15:
            tier_text = ""  # an empty tier means none
        elif roll < 0.03:
            tier_text = f" {tier.capitalize()} "
        else:
            tier_text = tier
        member = tier != "none"
        member_text = "true" if member else "false"
        if rng.random() < 0.03:
            member_text = member_text.upper()
        customers.append(
            {
                "user_id": user.user_id,
                "customer_id": user.customer_id,
                "loyalty_tier": tier_text,
                "is_loyalty_member": member_text,
                "signup_date": user.signup_date.isoformat(),
            }
        )
        for _ in range(rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]):
            if rng.random() < 0.7:
                moment = day_start + timedelta(seconds=rng.uniform(0, 36 * 3600))
            else:
                moment = day_start - timedelta(seconds=rng.uniform(0, 60 * 86400))
            text = moment.replace(microsecond=0, tzinfo=None).isoformat()
            if rng.random() < 0.5:
                text += "Z"
            rating = rng.choices((1, 2, 3, 4, 5), weights=(5, 7, 15, 35, 38))[0]
            if rng.random() < 0.005:
                rating = rng.choice((0, 6))  # out of range: ignored by the models
            ratings.append({"user_id": user.user_id, "rated_at": text, "rating": str(rating)})
    ratings.sort(key=lambda r: (r["user_id"], r["rated_at"]))
    return customers, ratings


def write_crm(
    crm_dir: Path, customers: list[dict[str, str]], ratings: list[dict[str, str]]
) -> None:
    """Write customers.csv and ratings.csv (atomically) for the simulated users."""
    crm_dir = Path(crm_dir)
    crm_dir.mkdir(parents=True, exist_ok=True)
    for name, rows, columns in (
        (
            "customers.csv",
            customers,
            ("user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "signup_date"),
        ),
        ("ratings.csv", ratings, ("user_id", "rated_at", "rating")),
    ):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        target = crm_dir / name
        tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
        tmp.replace(target)


# ----------------------------------------------------------------------- events
