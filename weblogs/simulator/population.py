"""The simulated site and its people: pages, devices, users, and the CRM extracts."""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

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

# Session shape: mean seconds between session starts and between a session's events.
SESSION_ARRIVAL_MEAN_S = 12.0
EVENT_GAP_MEAN_S = 20.0
RECENT_FOR_DUPLICATES = 200


T = TypeVar("T")


def weighted(rng: random.Random, pairs: tuple[tuple[T, int], ...]) -> T:
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
    intent: float = 1.0  # how readily this visit buys: its source's `Source.intent`
    extras: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None  # the browser's first-party id (cookie), if it keeps one


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
