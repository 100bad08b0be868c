"""`TrafficGenerator`: deterministic, realistic web traffic, as a web-traffic API sends it.

Users with sessions of several events across pages, devices and browsers, anonymous
visitors who log in or sign up mid-session, loyalty events, every timestamp encoding
the contract allows (docs/contract.md#1-the-event), plus a configurable share of
malformed, extra-field and duplicated events. Same seed and start, same sequence,
however it is cut into pages.
"""

from __future__ import annotations

import copy
import heapq
import math
import random
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from weblogs.simulator.population import (
    CATEGORIES,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    DEFAULT_START,
    DEVICES,
    EVENT_GAP_MEAN_S,
    EXTRA_FIELDS,
    MALFORMED_KINDS,
    RECENT_FOR_DUPLICATES,
    SEARCH_TERMS,
    SESSION_ARRIVAL_MEAN_S,
    SITE,
    TIMESTAMP_ENCODINGS,
    Session,
    User,
    crm_rows,
    encode_timestamp,
    make_users,
    weighted,
    write_crm,
)
from weblogs.simulator.sources import SOURCE_WEIGHTS, SOURCES, Source
from weblogs.simulator.visitors import Visitors


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
        self.users = make_users(seed, self.start, users)
        self.visitors = Visitors(seed, self.users)
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

    def crm_rows(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """(customers, ratings) rows of the CRM extracts for the simulated users."""
        return crm_rows(self.seed, self.start, self.users)

    def write_crm(self, crm_dir: Path) -> None:
        """Write customers.csv and ratings.csv (atomically) for the simulated users."""
        write_crm(crm_dir, *self.crm_rows())

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
        source = rng.choices(SOURCES, weights=SOURCE_WEIGHTS)[0]
        length = 1 if rng.random() < source.bounce else min(40, 2 + int(rng.expovariate(1 / 7.0)))
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
            device = weighted(rng, tuple((n, s[0]) for n, s in DEVICES.items()))
            _, browsers, systems = DEVICES[device]
            browser, os_name = weighted(rng, browsers), rng.choice(systems)
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
        session = Session(
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
            referrer=self._referrer(source),
            intent=source.intent,
            page=self._landing(source),
        )
        self.visitors.assign(session, user.user_id if user else None)
        if not self.visitors.bot(session):
            session.page = self.visitors.secret_url(session.page)
        return session

    def _token(self) -> str:
        """A click id or short-link slug: opaque, as ad platforms and shorteners make them."""
        return f"{self._rng.getrandbits(64):016x}"

    def _referrer(self, source: Source) -> str | None:
        referrer = weighted(self._rng, source.referrers)
        return referrer.replace("{id}", self._token()) if referrer else referrer

    def _landing(self, source: Source) -> str:
        """The first page of a visit from `source`: its kind of page, tagged as it tags."""
        rng = self._rng
        kind = weighted(rng, source.landings)
        url = self._page() if kind == "any" else self._base_page(kind)
        query = weighted(rng, source.queries).replace("{id}", self._token())
        if query:
            url += ("&" if "?" in url else "?") + query
        if rng.random() < 0.04:
            url += "#reviews" if "/products/" in url else "#top"
        return url

    def _page(self) -> str:
        """A page of the walk through the site."""
        rng = self._rng
        kind = rng.choices(
            ("home", "category", "product", "search", "account", "loyalty", "blog"),
            weights=(15, 20, 40, 10, 5, 5, 5),
        )[0]
        url = self._base_page(kind)
        if kind == "product" and rng.random() < 0.05:
            url += "?utm_source=newsletter"  # a shared link, tagged, opened mid-visit
        return url

    def _base_page(self, kind: str) -> str:
        rng = self._rng
        if kind == "home":
            return f"{SITE}/"
        if kind == "category":
            return f"{SITE}/category/{rng.choice(CATEGORIES)}"
        if kind == "sale":
            return f"{SITE}/category/sale"
        if kind == "product":
            return f"{SITE}/products/{rng.randint(1, 250)}"
        if kind == "search":
            return f"{SITE}/search?q={rng.choice(SEARCH_TERMS).replace(' ', '+')}"
        if kind == "blog":
            return f"{SITE}/blog/{rng.randint(1, 40)}"
        return f"{SITE}/{kind}"

    def _next_type(self, s: Session) -> str:
        rng = self._rng
        registered = s.user_id is not None
        last = s.step == s.length - 1
        if s.checked_out and rng.random() < min(0.9, 0.45 + 0.15 * s.intent):
            return "purchase"
        if last and registered and rng.random() < 0.25:
            return "logout"
        choices: dict[str, float] = {
            "page_view": 45,
            "click": 15,
            "scroll": 10,
            "search": 6,
            "add_to_cart": 6 * s.intent,
            "video_play": 3,
            "form_submit": 2,
            "remove_from_cart": 2 if s.cart else 0,
            "checkout": 5 * s.intent if s.cart else 0,
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
            event_type, referrer = "page_view", s.referrer  # lands on the source's page
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
        encoding = weighted(rng, TIMESTAMP_ENCODINGS)
        event["timestamp"] = encode_timestamp(at_ms, encoding)
        event["device_type"] = s.device_type.capitalize() if rng.random() < 0.05 else s.device_type
        event["browser"] = s.browser
        if rng.random() < 0.9:
            event["os"] = s.os
        event["country"] = s.country if rng.random() < 0.95 else None
        self.visitors.add_fields(event, s.client_id, event_type)
        return event

    def _malformed(self) -> object:
        """One item that breaks a rule of the contract, based on a plausible event."""
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
