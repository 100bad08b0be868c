"""Fetching pages from the web-traffic API: timeouts, urllib3 retries, a stop that ends waits.

urllib3 retries connection errors, 429 and 5xx with exponential backoff and jitter,
honouring Retry-After (capped, so a stop request is never starved).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from ingestion.config import ConsumerConfig
from ingestion.metrics import Stats, short

RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Longest wait a Retry-After header can impose, so a stop request is never starved.
RETRY_AFTER_MAX = 60.0

#: What a fetch gives: (body, HTTP status) of a 2xx answer, an error text, or None if stopping.
Fetched = tuple[bytes, int] | str | None


class Stopping(Exception):
    """Raised inside a retry wait when a stop was requested: abandon this request."""


def make_retry(config: ConsumerConfig, stop: threading.Event) -> Retry:
    """urllib3 Retry whose waits end early on stop (the API has not sent anything yet)."""

    class StopAwareRetry(Retry):
        def sleep(self, response: Any = None) -> None:
            seconds = 0.0
            if self.respect_retry_after_header and response is not None:
                try:
                    seconds = self.get_retry_after(response) or 0.0
                except (InvalidHeader, ValueError, OverflowError):  # unusable header: back off
                    seconds = 0.0
            if not seconds:  # urllib3 retries the first error at once; we always wait
                seconds = self.get_backoff_time() or self.backoff_factor * random.uniform(0.5, 1)
            if stop.is_set() or (seconds > 0 and stop.wait(seconds)):
                raise Stopping()

    return StopAwareRetry(
        total=config.api_max_retries,
        connect=config.api_max_retries,
        read=config.api_max_retries,
        status=config.api_max_retries,
        other=0,
        backoff_factor=config.api_backoff,
        backoff_max=10.0,
        backoff_jitter=config.api_backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
        raise_on_status=False,
    )


class Poller:
    """One HTTP session to the API; `fetch` counts errors and retries into `stats`."""

    def __init__(
        self,
        config: ConsumerConfig,
        stop: threading.Event,
        stats: Stats,
        sample: Callable[[str, float], None],
    ) -> None:
        self.config = config
        self.stats = stats
        self.sample = sample
        self.http = requests.Session()
        adapter = HTTPAdapter(max_retries=make_retry(config, stop))
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers["User-Agent"] = "weblogs-api-consumer/1"
        self._url_has_limit = "limit" in parse_qs(urlsplit(config.api_url).query)

    def fetch(self, limit: int) -> Fetched:
        """GET one page of at most `limit` events."""
        params = None if self._url_has_limit else {"limit": limit}
        timeout = self.config.http_timeout
        started = time.monotonic()
        try:
            response = self.http.get(
                self.config.api_url, params=params, timeout=(min(5.0, timeout), timeout)
            )
        except Stopping:
            return None
        except (requests.RequestException, Urllib3Error) as exc:
            self.stats.api_errors += 1
            return f"API request failed after retries: {short(exc)}"
        finally:
            self.sample("PollLatency", (time.monotonic() - started) * 1000)
        retries = getattr(getattr(response.raw, "retries", None), "history", ())
        self.stats.api_retries += len(retries)
        if not 200 <= response.status_code < 300:
            self.stats.api_errors += 1
            return (
                f"API answered HTTP {response.status_code}"
                f"{' after retries' if retries else ''}: {short(response.text)}"
            )
        return response.content, response.status_code

    def close(self) -> None:
        self.http.close()


def redact(url: str) -> str:
    """The URL without its query (which may carry an API key) for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
