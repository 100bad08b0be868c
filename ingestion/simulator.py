"""A deterministic web-traffic simulator: the API the consumer polls, for demos and tests.

`TrafficGenerator` produces what a real web-traffic API sends: users with sessions of
several events across pages, devices and browsers, anonymous visitors who log in or sign
up mid-session, loyalty events, every timestamp encoding SPEC section 1 allows, plus a
configurable share of malformed, extra-field and duplicated events. Same seed and start,
same sequence, however it is cut into pages. `SimulatorServer` serves it over HTTP
(`GET /events?limit=N` returns a JSON array, the seed's contract) with fault injection,
so the consumer's retry and garbage handling can be tested over a real socket.
"""

from __future__ import annotations

import argparse
import copy
import csv
import heapq
import io
import json
import math
import os
import random
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

# A fixed default start so a run without `start` is reproducible byte for byte.
DEFAULT_START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)

SITE = "https://shop.example.com"
CATEGORIES = ("shoes", "outdoor", "kitchen", "books", "toys", "garden", "electronics", "sale")
SEARCH_TERMS = ("running shoes", "tent", "coffee grinder", "lego", "headphones", "gift card")
EXTERNAL_REFERRERS = (
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://t.co/x9kQ2",
    "https://www.facebook.com/",
    "https://newsletter.example.com/2025/06",
    "https://duckduckgo.com/",
)
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


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def encode_timestamp(ms: int, encoding: str) -> int | float | str:
    """Render epoch milliseconds in one of the encodings SPEC section 1 accepts."""
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
    extras: dict[str, Any] = field(default_factory=dict)


class TrafficGenerator:
    """Deterministic, realistic web traffic; `events(n)` continues where the last call ended."""

    def __init__(
        self,
        seed: int = 0,
        *,
        start: datetime | None = None,
        malformed_rate: float = 0.02,
        extra_field_rate: float = 0.05,
        duplicate_rate: float = 0.01,
        users: int = 500,
    ) -> None:
        for name, rate in (
            ("malformed_rate", malformed_rate),
            ("extra_field_rate", extra_field_rate),
            ("duplicate_rate", duplicate_rate),
        ):
            if not (0.0 <= rate <= 1.0) or math.isnan(rate):
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if malformed_rate + duplicate_rate > 1.0:
            raise ValueError("malformed_rate + duplicate_rate must not exceed 1")
        if users < 1:
            raise ValueError(f"users must be at least 1, got {users}")
        start = start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.seed = seed
        self.start = start.astimezone(UTC)
        self.malformed_rate = malformed_rate
        self.extra_field_rate = extra_field_rate
        self.duplicate_rate = duplicate_rate
        self._rng = random.Random(f"weblogs-sim:{seed}:events")
        self.users = self._make_users(users)
        self._user_cum_weights: list[float] = []
        total = 0.0
        for user in self.users:
            total += user.weight
            self._user_cum_weights.append(total)
        self._start_ms = int(self.start.timestamp() * 1000)
        self._clock_ms = self._start_ms
        self._heap: list[tuple[int, int, Session | None]] = [(self._start_ms, 0, None)]
        self._seq = 1
        # Recent events as JSON, so a duplicate is an exact, independent copy.
        self._recent: deque[bytes] = deque(maxlen=RECENT_FOR_DUPLICATES)
        self._next_signup = 0
        self.emitted = 0

    # ----------------------------------------------------------------- users / CRM

    def _make_users(self, count: int) -> list[User]:
        rng = random.Random(f"weblogs-sim:{self.seed}:users")
        devices = tuple((name, spec[0]) for name, spec in DEVICES.items())
        users: list[User] = []
        for i in range(count):
            device = _weighted(rng, devices)
            _, browsers, systems = DEVICES[device]
            users.append(
                User(
                    user_id=str(100_001 + i),
                    customer_id=f"CUST-{i + 1:06d}",
                    device_type=device,
                    browser=_weighted(rng, browsers),
                    os=rng.choice(systems),
                    country=rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0],
                    tier=_weighted(rng, TIERS),
                    signup_date=self.start.date() - timedelta(days=rng.randint(1, 900)),
                    in_crm=rng.random() >= 0.03,
                    # A few heavy users and a long tail, as real traffic has.
                    weight=1.0 / (i + 1) ** 0.6,
                )
            )
        rng.shuffle(users)  # heavy users are not simply the lowest ids
        return users

    def crm_rows(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """(customers, ratings) rows for SPEC section 2, with the mess real extracts have."""
        rng = random.Random(f"weblogs-sim:{self.seed}:crm")
        customers: list[dict[str, str]] = []
        ratings: list[dict[str, str]] = []
        day_start = datetime.combine(self.start.date(), datetime.min.time(), tzinfo=UTC)
        for user in sorted(self.users, key=lambda u: u.user_id):
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

    def write_crm(self, crm_dir: Path) -> None:
        """Write customers.csv and ratings.csv (atomically) for the simulated users."""
        customers, ratings = self.crm_rows()
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

    def events(self, n: int) -> list[object]:
        """The next `n` API items (JSON-able; malformed ones may not even be objects)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return [self._next_item() for _ in range(n)]

    def __iter__(self) -> Iterator[object]:
        while True:
            yield self._next_item()

    def _next_item(self) -> object:
        rng = self._rng
        self.emitted += 1
        roll = rng.random()
        if roll < self.duplicate_rate and self._recent:
            return orjson.loads(rng.choice(self._recent))
        if roll < self.duplicate_rate + self.malformed_rate:
            return self._malformed()
        event = self._next_valid()
        if rng.random() < self.extra_field_rate:
            for key, value in rng.sample(EXTRA_FIELDS, rng.randint(1, 3)):
                event[key] = copy.deepcopy(value)
        self._recent.append(orjson.dumps(event))
        return event

    def _next_valid(self) -> dict[str, Any]:
        rng = self._rng
        while True:
            at_ms, _, session = heapq.heappop(self._heap)
            if session is None:  # a new visitor arrives; schedule the next arrival
                gap = rng.expovariate(1.0 / SESSION_ARRIVAL_MEAN_S)
                self._push(at_ms + max(1, int(gap * 1000)), None)
                session = self._new_session()
            event = self._session_event(session, at_ms)
            self._clock_ms = max(self._clock_ms, at_ms)
            if session.step < session.length:
                gap = 0.3 + rng.expovariate(1.0 / EVENT_GAP_MEAN_S)
                self._push(at_ms + int(gap * 1000), session)
            return event

    def _push(self, at_ms: int, session: Session | None) -> None:
        heapq.heappush(self._heap, (at_ms, self._seq, session))
        self._seq += 1

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_session(self) -> Session:
        rng = self._rng
        kind = rng.choices(("registered", "anonymous", "login", "signup"), weights=(60, 25, 10, 5))[
            0
        ]
        length = 1 if rng.random() < 0.15 else min(40, 2 + int(rng.expovariate(1 / 7.0)))
        user: User | None = None
        if kind in ("registered", "login"):
            user = rng.choices(self.users, cum_weights=self._user_cum_weights)[0]
        if user is not None and rng.random() < 0.85:
            device, browser, os_name, country = (
                user.device_type,
                user.browser,
                user.os,
                user.country,
            )
        else:
            device = _weighted(rng, tuple((n, s[0]) for n, s in DEVICES.items()))
            _, browsers, systems = DEVICES[device]
            browser, os_name = _weighted(rng, browsers), rng.choice(systems)
            country = user.country if user else rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
        login_at = None
        login_user = None
        if kind in ("login", "signup"):
            length = max(length, 3)
            login_at = rng.randint(1, length - 2)
            if kind == "signup":
                self._next_signup += 1
                login_user = str(900_000 + self._next_signup)  # new: not in the CRM yet
            else:
                assert user is not None
                login_user = user.user_id
        return Session(
            session_id=self._uuid(),
            user_id=user.user_id if kind == "registered" and user else None,
            device_type=device,
            browser=browser,
            os=os_name,
            country=country,
            length=length,
            login_at=login_at,
            login_user=login_user,
            login_type="signup" if kind == "signup" else "login",
            member=bool(user and user.tier != "none"),
            pad_session_id=rng.random() < 0.02,
            referrer=rng.choice((*EXTERNAL_REFERRERS, None, None)),
        )

    def _page(self) -> str:
        rng = self._rng
        kind = rng.choices(
            ("home", "category", "product", "search", "account", "loyalty", "blog"),
            weights=(15, 20, 40, 10, 5, 5, 5),
        )[0]
        if kind == "home":
            return f"{SITE}/"
        if kind == "category":
            return f"{SITE}/category/{rng.choice(CATEGORIES)}"
        if kind == "product":
            url = f"{SITE}/products/{rng.randint(1, 250)}"
            return url + ("?utm_source=newsletter" if rng.random() < 0.05 else "")
        if kind == "search":
            return f"{SITE}/search?q={rng.choice(SEARCH_TERMS).replace(' ', '+')}"
        if kind == "blog":
            return f"{SITE}/blog/{rng.randint(1, 40)}"
        return f"{SITE}/{kind}"

    def _next_type(self, s: Session) -> str:
        rng = self._rng
        registered = s.user_id is not None
        last = s.step == s.length - 1
        if s.checked_out and rng.random() < 0.6:
            return "purchase"
        if last and registered and rng.random() < 0.25:
            return "logout"
        choices = {
            "page_view": 45,
            "click": 15,
            "scroll": 10,
            "search": 6,
            "add_to_cart": 6,
            "video_play": 3,
            "form_submit": 2,
            "remove_from_cart": 2 if s.cart else 0,
            "checkout": 5 if s.cart else 0,
            "loyalty_redeem": 3 if registered and s.member else 0,
            "review": 2 if registered else 0,
            "loyalty_signup": 2 if registered and not s.member else 0,
        }
        names = [k for k, w in choices.items() if w]
        return rng.choices(names, weights=[choices[k] for k in names])[0]

    def _session_event(self, s: Session, at_ms: int) -> dict[str, Any]:
        rng = self._rng
        referrer: str | None
        if s.step == 0:
            event_type, s.page, referrer = "page_view", self._page(), s.referrer
        elif s.login_at is not None and s.step == s.login_at:
            event_type, referrer = s.login_type, s.page
            s.page = f"{SITE}/{'signup' if s.login_type == 'signup' else 'login'}"
            s.user_id = s.login_user
        else:
            event_type = self._next_type(s)
            referrer = s.page
            if event_type == "page_view":
                s.page = self._page()
            elif event_type == "search":
                s.page = f"{SITE}/search?q={rng.choice(SEARCH_TERMS).replace(' ', '+')}"
            elif event_type == "add_to_cart":
                if "/products/" not in s.page:
                    s.page = f"{SITE}/products/{rng.randint(1, 250)}"
                s.cart += 1
            elif event_type == "remove_from_cart":
                s.cart -= 1
                s.page = f"{SITE}/cart"
            elif event_type == "checkout":
                s.page, s.checked_out = f"{SITE}/checkout", True
            elif event_type == "purchase":
                s.page, s.checked_out, s.cart = f"{SITE}/checkout/confirmation", False, 0
            elif event_type in ("loyalty_redeem", "loyalty_signup"):
                s.page = f"{SITE}/loyalty"
                s.member = True
            elif event_type == "review":
                s.page = f"{SITE}/products/{rng.randint(1, 250)}/reviews"
        s.step += 1

        event: dict[str, Any] = {}
        if rng.random() < 0.93:
            event["event_id"] = self._uuid()
        event["session_id"] = s.session_id + (" " if s.pad_session_id else "")
        if s.user_id is not None:
            event["user_id"] = int(s.user_id) if rng.random() < 0.15 else s.user_id
        else:
            style = rng.random()
            if style < 0.25:
                event["user_id"] = None
            elif style < 0.4:
                event["user_id"] = ""
        event["event_type"] = event_type.upper() if rng.random() < 0.02 else event_type
        event["page_url"] = s.page
        event["referrer"] = referrer
        encoding = _weighted(rng, TIMESTAMP_ENCODINGS)
        event["timestamp"] = encode_timestamp(at_ms, encoding)
        event["device_type"] = s.device_type.capitalize() if rng.random() < 0.05 else s.device_type
        event["browser"] = s.browser
        if rng.random() < 0.9:
            event["os"] = s.os
        event["country"] = s.country if rng.random() < 0.95 else None
        return event

    def _malformed(self) -> object:
        """One item that breaks a rule of SPEC section 1, based on a plausible event."""
        rng = self._rng
        at_ms = self._clock_ms
        base: dict[str, Any] = {
            "event_id": self._uuid(),
            "session_id": self._uuid(),
            "user_id": rng.choice(self.users).user_id,
            "event_type": "page_view",
            "page_url": self._page(),
            "timestamp": at_ms,
            "device_type": "desktop",
            "browser": "chrome",
        }
        kind = rng.choice(MALFORMED_KINDS)
        if kind == "not_an_object":
            return rng.choice(
                ("page_view", 42, None, True, [base["session_id"], "click"], "{broken")
            )
        if kind == "missing_field":
            del base[rng.choice(("session_id", "event_type", "page_url", "timestamp"))]
        elif kind == "empty_field":
            base[rng.choice(("session_id", "page_url", "event_type"))] = "   "
        elif kind == "invalid_type":
            name, value = rng.choice(
                (
                    ("session_id", 12345),
                    ("page_url", {"path": "/"}),
                    ("user_id", ["u1"]),
                    ("timestamp", True),
                    ("browser", 7),
                    ("event_type", ["click"]),
                )
            )
            base[name] = value
        elif kind == "too_long":
            if rng.random() < 0.5:
                base["session_id"] = "s" * 200
            else:
                base["page_url"] = f"{SITE}/search?q=" + "x" * 2100
        elif kind == "invalid_timestamp":
            base["timestamp"] = rng.choice(("yesterday", "2025-13-45T00:00:00Z", "", 1e15, "12ab"))
        elif kind == "timestamp_out_of_range":
            base["timestamp"] = rng.choice((946684799, "1999-12-31T23:59:59Z", 4102444800000))
        else:
            base["event_type"] = rng.choice(("teleport", "page-view", "hover"))
        return base


# --------------------------------------------------------------------- HTTP server

FAULTS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "garbage",
    "not_a_list",
    "truncated",
    "empty",
    "binary",
    "reset",
    "slow",
)
#: What --fault-rate draws from: everything but `slow`, which would only stall a run.
RANDOM_FAULTS = tuple(f for f in FAULTS if f != "slow")
MAX_LIMIT = 10_000


class SimulatorServer:
    """`GET /events?limit=N` over loopback, with a rate limit and injectable faults.

    Faults never consume events: the next good response continues the sequence, so a
    consumer that retries loses nothing. `served` counts events in good responses.
    """

    def __init__(
        self,
        generator: TrafficGenerator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 0.0,
        max_events: int | None = None,
        fault_rate: float = 0.0,
        retry_after: float = 1.0,
        slow_seconds: float = 5.0,
    ) -> None:
        self.generator = generator
        self.rate = rate
        self.max_events = max_events
        self.fault_rate = fault_rate
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.served = 0
        self.requests = 0
        self.faults_served: list[str] = []
        self.request_times: list[float] = []  # monotonic time of each /events request
        self._faults: deque[str] = deque()
        self._fault_rng = random.Random(f"weblogs-sim:{generator.seed}:faults")
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}/events"

    def inject(self, *faults: str) -> None:
        """Queue faults for the next requests to /events, in order."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def start(self) -> SimulatorServer:
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="simulate-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_fault(self, requested: str | None) -> str | None:
        with self._lock:
            self.requests += 1
            self.request_times.append(time.monotonic())
            fault = requested
            if fault is None and self._faults:
                fault = self._faults.popleft()
            if fault is None and self.fault_rate and self._fault_rng.random() < self.fault_rate:
                fault = self._fault_rng.choice(RANDOM_FAULTS)
            if fault is not None:
                self.faults_served.append(fault)
            return fault

    def take(self, limit: int) -> list[object]:
        """The next page: at most `limit`, within the rate budget and `max_events`."""
        with self._lock:
            allowed = limit
            if self.rate > 0:
                budget = int(self.rate * (time.monotonic() - self._started + 1.0))
                allowed = min(allowed, max(0, budget - self.served))
            if self.max_events is not None:
                allowed = min(allowed, max(0, self.max_events - self.served))
            items = self.generator.events(allowed)
            self.served += len(items)
            return items


def _make_handler(server: SimulatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "weblogs-simulate-api/1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a consumer polling every second would flood the terminal."""

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps({"error": message}).encode(), headers)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/health":
                self._send(200, json.dumps({"status": "ok", "served": server.served}).encode())
                return
            if parts.path != "/events":
                self._error(404, "not found; try GET /events?limit=N")
                return
            raw_limit = query.get("limit", ["100"])[0]
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
                self._error(400, f"limit must be an integer between 1 and {MAX_LIMIT}")
                return
            requested = query.get("fault", [None])[0]
            if requested is not None and requested not in FAULTS:
                self._error(400, f"unknown fault; known: {', '.join(FAULTS)}")
                return
            fault = server.next_fault(requested)
            if fault is not None and self._fault(fault):
                return
            items = server.take(int(raw_limit))
            self._send(200, json.dumps(items, ensure_ascii=False).encode("utf-8"))

        def _fault(self, fault: str) -> bool:
            """Answer with the fault; False means 'then answer normally' (slow)."""
            retry_after = {"Retry-After": f"{server.retry_after:g}"}
            if fault in ("500", "502", "504"):
                self._error(int(fault), "upstream trouble")
            elif fault in ("503", "429"):
                self._error(int(fault), "slow down", retry_after)
            elif fault == "garbage":
                self._send(200, b"<html><body>Service temporarily unavailable</body></html>")
            elif fault == "not_a_list":
                self._send(200, b'{"events": "maintenance", "ok": false}')
            elif fault == "truncated":
                self._send(200, b'[{"session_id": "s-1", "event_type": "page_v')
            elif fault == "empty":
                self._send(200, b"")
            elif fault == "binary":
                self._send(200, b"\xff\xfe\x00\x81garbage\x00")
            elif fault == "reset":
                self.close_connection = True
                self.connection.shutdown(2)
            elif fault == "slow":
                time.sleep(server.slow_seconds)
                return False
            return True

    return Handler


# ------------------------------------------------------------------------------ CLI


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _start(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date-time or 'now': {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_parser(subparsers: Any) -> None:
    """Register `weblogs simulate-api`."""
    parser = subparsers.add_parser(
        "simulate-api",
        help="serve simulated web traffic on GET /events?limit=N (loopback by default)",
        description="Serve deterministic, realistic web traffic as the seed's API does: "
        "GET /events?limit=N returns a JSON array. Faults can be injected with "
        "?fault=NAME or --fault-rate.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--rate", type=_non_negative, default=0.0, help="events per second served (0: unlimited)"
    )
    parser.add_argument("--malformed-rate", type=_rate, default=0.02)
    parser.add_argument("--extra-field-rate", type=_rate, default=0.05)
    parser.add_argument("--duplicate-rate", type=_rate, default=0.01)
    parser.add_argument("--users", type=int, default=500, help="registered users (default 500)")
    parser.add_argument(
        "--start",
        type=_start,
        default=None,
        help=f"timestamp of the first event, ISO-8601 or 'now' (default {DEFAULT_START:%Y-%m-%d})",
    )
    parser.add_argument("--max-events", type=int, default=None, help="then serve [] forever")
    parser.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="share of requests answered with a fault"
    )
    parser.add_argument(
        "--crm-dir", type=Path, default=None, help="write customers.csv and ratings.csv here"
    )
    parser.set_defaults(func=run_simulator)


def run_simulator(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    from weblogs.errors import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.users < 1:
        raise UsageError(f"--users must be at least 1, got {args.users}")
    if args.max_events is not None and args.max_events < 0:
        raise UsageError(f"--max-events must be >= 0, got {args.max_events}")
    try:
        generator = TrafficGenerator(
            args.seed,
            start=args.start,
            malformed_rate=args.malformed_rate,
            extra_field_rate=args.extra_field_rate,
            duplicate_rate=args.duplicate_rate,
            users=args.users,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.crm_dir is not None:
        try:
            generator.write_crm(args.crm_dir)
        except OSError as exc:
            raise UsageError(f"cannot write CRM files to {args.crm_dir}: {exc}") from None
        print(f"simulate-api: wrote customers.csv and ratings.csv to {args.crm_dir}", flush=True)
    try:
        server = SimulatorServer(
            generator,
            host=args.host,
            port=args.port,
            rate=args.rate,
            max_events=args.max_events,
            fault_rate=args.fault_rate,
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(
        f"simulate-api: serving {server.url}?limit=N (seed={args.seed}, "
        f"start={generator.start:%Y-%m-%dT%H:%M:%SZ}); Ctrl-C stops",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    print(f"simulate-api: stopped after serving {server.served} events", flush=True)
    return 0
