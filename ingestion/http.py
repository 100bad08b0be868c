"""Fetching pages from the web-traffic API: timeouts, urllib3 retries, a stop that ends waits.

urllib3 retries connection errors, 429 and 5xx with exponential backoff and jitter,
honouring Retry-After (capped, so a stop request is never starved). Whatever the API
sends, a response stays within bounds (docs/ingestion.md#limits): its size on the
wire and once inflated, a deadline for the whole of it, redirects only to the same
host, and a stop that ends a stalled read within seconds.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from ingestion.config import ConsumerConfig
from ingestion.metrics import Stats, short
from weblogs.core.redact import redact_url

RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Longest wait a Retry-After header can impose, so a stop request is never starved.
RETRY_AFTER_MAX = 60.0

#: Bytes asked of the socket per read while streaming a response body.
READ_BYTES = 64 * 1024
#: After a stop request, a response still arriving gets this long to finish; then the
#: read is abandoned (a stalled or endless body would otherwise hold the stop).
STOP_GRACE_SECONDS = 1.0


class Stopping(Exception):
    """Raised inside a retry wait, or by the alarm after a stop signal during a blocking
    read, when a stop was requested: abandon this request."""


@dataclass
class BadResponse:
    """A 2xx response that is not used: kept in the failed store as a bounded sample."""

    reason: str  # invalid_json | not_a_list | response_too_large | response_timeout
    sample: bytes
    details: dict[str, Any]


#: What a fetch gives: (body, HTTP status) of a 2xx answer (the body, or why it was
#: refused), an error text, or None if stopping.
Fetched = tuple[bytes | BadResponse, int] | str | None


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
        self.stop = stop
        #: When the stop was asked for (monotonic), set by the consumer.
        self.stop_at = 0.0
        self._blocking = False  # inside a socket call a stop signal may abort
        self._alarm_armed = False  # interrupt() set an alarm that has not fired yet
        self.stats = stats
        self.sample = sample
        self.http = requests.Session()
        adapter = HTTPAdapter(max_retries=make_retry(config, stop))
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers["User-Agent"] = "weblogs-api-consumer/1"
        self._url_has_limit = "limit" in parse_qs(urlsplit(config.api_url).query)

    def fetch(self, limit: int) -> Fetched:
        """GET one page of at most `limit` events, within the response limits."""
        params = None if self._url_has_limit else {"limit": limit}
        timeout = self.config.http_timeout
        started = time.monotonic()
        url = self.config.api_url
        try:
            for _ in range(self.config.api_max_redirects + 1):
                with self._interruptible():
                    response = self.http.get(
                        url,
                        params=params,
                        timeout=(min(5.0, timeout), timeout),
                        stream=True,
                        allow_redirects=False,
                    )
                if not response.is_redirect:
                    break
                target = urljoin(response.url, response.headers.get("location", ""))
                response.close()
                if not same_origin(target, self.config.api_url):
                    self.stats.api_errors += 1
                    return f"API redirected to another host ({redact_url(target)}); not followed"
                url, params = target, None
            else:
                response.close()
                self.stats.api_errors += 1
                return f"API redirected more than {self.config.api_max_redirects} times"
        except Stopping:
            return None
        except (requests.RequestException, Urllib3Error) as exc:
            self.stats.api_errors += 1
            return f"API request failed after retries: {short(exc)}"
        finally:
            self.sample("PollLatency", (time.monotonic() - started) * 1000)
        retries = getattr(getattr(response.raw, "retries", None), "history", ())
        self.stats.api_retries += len(retries)
        try:
            if not 200 <= response.status_code < 300:
                self.stats.api_errors += 1
                text = _read_sample(response, 2000).decode("utf-8", "replace")
                return (
                    f"API answered HTTP {response.status_code}"
                    f"{' after retries' if retries else ''}: {short(text)}"
                )
            body = self._read_body(response, started)
        except Stopping:
            return None
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            self.stats.api_errors += 1
            return f"API response broke off: {short(exc)}"
        finally:
            response.close()
        return body, response.status_code

    @contextlib.contextmanager
    def _interruptible(self, *, starting: bool = True) -> Iterator[None]:
        """While inside, a stop signal aborts a blocking socket call (see `interrupt`).
        No request is started once a stop was asked for (`starting`); a response
        already on its way is read on (within the grace time)."""
        if starting and self.stop.is_set():
            raise Stopping()
        self._blocking = True
        try:
            yield
        finally:
            self._blocking = False
            if self._alarm_armed:
                # The call ended within the grace time: an alarm still pending would
                # fire later, after Python restored SIGALRM's default on the way out,
                # and kill a consumer that was stopping cleanly.
                self._alarm_armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)

    def interrupt(self) -> None:
        """From the stop signal's handler (main thread): a socket call still blocked
        `STOP_GRACE_SECONDS` from now is aborted by SIGALRM, not left to its timeout."""
        if self._blocking:
            signal.signal(signal.SIGALRM, self._on_alarm)
            self._alarm_armed = True
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_SECONDS)

    def _on_alarm(self, signum: int, frame: object) -> None:
        self._alarm_armed = False
        if self._blocking:
            self._blocking = False
            raise Stopping()

    def _read_body(self, response: requests.Response, started: float) -> bytes | BadResponse:
        """The whole body, read in steps within the response limits, or what went wrong.

        Bytes on the wire and inflated bytes are both counted against their limit as
        they arrive, so a gzip bomb is refused after a few megabytes of output, and
        the deadline covers the whole response, not one socket read. A stop request
        ends the read after the grace time (or inside a blocked read, see `interrupt`).
        """
        config = self.config
        deadline = started + config.api_response_seconds
        encoding = response.headers.get("content-encoding", "").strip().lower()
        inflate = _inflater(encoding)
        raw = response.raw
        body = bytearray()
        wire = 0
        reason = ""
        limit = 0
        try:
            with self._interruptible(starting=False):
                while True:
                    if self.stop.is_set() and time.monotonic() - self.stop_at > STOP_GRACE_SECONDS:
                        raise Stopping()
                    if time.monotonic() > deadline:
                        reason = "response_timeout"
                        break
                    chunk = raw.read1(READ_BYTES, decode_content=False)
                    if not chunk:
                        break
                    wire += len(chunk)
                    if wire > config.api_max_compressed_bytes:
                        reason, limit = "response_too_large", config.api_max_compressed_bytes
                        break
                    if inflate is None:
                        body += chunk
                    else:
                        room = config.api_max_response_bytes - len(body)
                        body += inflate.decompress(chunk, room + 1)
                    if len(body) > config.api_max_response_bytes:
                        reason, limit = "response_too_large", config.api_max_response_bytes
                        break
                if not reason and inflate is not None:
                    body += inflate.flush()
        except zlib.error:
            reason = "invalid_json"
        except Stopping:
            if not body and not wire:
                raise
            reason = "response_timeout"  # cut short by a stop: keep what came
        if not reason:
            return bytes(body)
        sample = bytes(body[: config.response_sample_bytes])
        details = size_details(wire, len(body), sample)
        details.update(limit_bytes=limit, seconds=round(time.monotonic() - started, 3))
        if encoding:
            details["content_encoding"] = encoding
        return BadResponse(reason, sample, details)

    def close(self) -> None:
        self.http.close()


def _inflater(encoding: str) -> Any:
    """A streaming decompressor for the body's Content-Encoding, None for identity."""
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS)
    return None


def same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port: the only redirects the consumer follows."""
    a, b = urlsplit(url), urlsplit(base)
    try:
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:  # a bad port in the Location header
        return False


def _read_sample(response: requests.Response, limit: int) -> bytes:
    """At most `limit` bytes of a body (an error page need not be read whole)."""
    try:
        return response.raw.read(limit, decode_content=True) or b""
    except (requests.RequestException, Urllib3Error, OSError):
        return b""


def size_details(wire: int, inflated: int, sample: bytes) -> dict[str, Any]:
    """The sizes stored with a refused response."""
    return {
        "bytes_read": wire,
        "body_bytes": inflated,
        "sample_bytes": len(sample),
        "truncated": len(sample) < inflated,
    }
