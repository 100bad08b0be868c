"""Where the simulated visits come from: referrers, campaign tags and landing pages."""

from __future__ import annotations

from dataclasses import dataclass

from weblogs.simulator.population import SITE


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
        bounce=0.1,
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
        bounce=0.12,
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
        bounce=0.12,
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
        bounce=0.28,
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
        bounce=0.25,
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
        bounce=0.35,
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
        bounce=0.08,
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
        bounce=0.12,
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
        bounce=0.15,
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
