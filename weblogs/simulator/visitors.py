"""Who visits: devices with a stable `client_id`, bots, and URLs carrying secrets.

A stream of its own (`weblogs-sim:<seed>:visitors`), so adding these leaves the
rest of the traffic as it was, and the same seed gives the same visitors.
Devices return over days and weeks with a heavy tail, as cookies do: a
registered user browses from one or two devices of their own (sometimes logged
out, so the visits are stitched to them once they log in), one device is
shared by two users, anonymous devices come back, and some browsers keep no
cookie at all. A little bot traffic (`Googlebot`, `HeadlessChrome`) and a few
URLs with secrets in them (`?email=`, `#access_token=`) are for the privacy
rules (docs/contract.md, section 7).
"""

from __future__ import annotations

import hashlib
import random
from itertools import accumulate

from weblogs.simulator.population import SITE, Session, User

#: Share of sessions by browsers that keep no first-party id.
NO_COOKIE_RATE = 0.08
#: Share of a registered user's sessions made logged out (on one of their devices).
LOGGED_OUT_RATE = 0.2
#: Share of sessions that are bots, and their browsers.
BOT_RATE = 0.01
BOT_BROWSERS = ("Googlebot", "HeadlessChrome", "bingbot")
#: Share of page URLs that carry a secret.
SECRET_URL_RATE = 0.004


def _client(seed: int, owner: str, index: int) -> str:
    return hashlib.sha256(f"weblogs-sim:{seed}:{owner}:{index}".encode()).hexdigest()[:24]


class Visitors:
    """The devices of the simulated people, and the odd visits (bots, secrets)."""

    def __init__(self, seed: int, users: list[User]) -> None:
        self.rng = random.Random(f"weblogs-sim:{seed}:visitors")
        self.devices = {
            u.user_id: [_client(seed, u.user_id, k) for k in range(1 + (i % 4 == 0))]
            for i, u in enumerate(users)
        }
        if len(users) >= 2:  # one device shared by two people (a family computer)
            shared = _client(seed, "shared", 0)
            self.devices[users[0].user_id][0] = shared
            self.devices[users[1].user_id][0] = shared
        self.anonymous = [_client(seed, "anonymous", k) for k in range(3 * len(users))]
        self.anonymous_weights = list(
            accumulate(1.0 / (k + 1) ** 0.7 for k in range(len(self.anonymous)))
        )
        self.users = users

    def assign(self, session: Session, owner: str | None) -> None:
        """Give a new session its device (`owner`: the user it belongs to, if known)."""
        rng = self.rng
        if rng.random() < NO_COOKIE_RATE:
            session.client_id = None
        elif owner is not None:
            devices = self.devices[owner]
            session.client_id = devices[0] if rng.random() < 0.8 else rng.choice(devices)
        elif rng.random() < LOGGED_OUT_RATE:  # a registered user, not logged in
            session.client_id = self.devices[rng.choice(self.users).user_id][0]
        else:
            session.client_id = rng.choices(self.anonymous, cum_weights=self.anonymous_weights)[0]

    def bot(self, session: Session) -> bool:
        """Make the session a crawler's, sometimes; True when it is one."""
        if self.rng.random() >= BOT_RATE:
            return False
        session.browser = self.rng.choice(BOT_BROWSERS)
        session.user_id = session.login_user = session.login_at = None
        session.client_id = None
        return True

    def secret_url(self, url: str) -> str:
        """Sometimes a URL carrying a secret, as sign-in links and OAuth redirects do."""
        roll = self.rng.random()
        if roll < SECRET_URL_RATE / 2:
            return f"{SITE}/account/verify?email=jane.doe%40example.com&step=2"
        if roll < SECRET_URL_RATE:
            return f"{SITE}/auth/callback#access_token={self.rng.getrandbits(96):024x}&state=x"
        return url

    def add_fields(self, event: dict[str, object], client_id: str | None, event_type: str) -> None:
        """The session's `client_id` on each of its events; a `value` on each purchase."""
        if client_id is not None:
            event["client_id"] = client_id
        if event_type == "purchase":
            event["value"] = self.value()

    def value(self) -> float:
        """A purchase's order total: mostly small baskets, a few big ones, in cents."""
        return round(min(5000.0, 8 + self.rng.lognormvariate(3.6, 0.8)), 2)
