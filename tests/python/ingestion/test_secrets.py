"""A secret planted in the API URL (query string, userinfo) appears in no output.

The consumer runs as a real process against a hostile API on loopback; every
path that writes something is driven: refused connections, an error body that
echoes the request, a redirect to another host, a bad body kept in the failed
store, progress lines and EMF metrics. Then stdout, stderr and every file of the
lake and the stream are searched for the secrets.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from awsfixtures import free_port
from hostile_server import HostileServer, wait_until
from test_hostile_consumer import consume_process, reap

from ingestion.config import ConfigError, load_config
from weblogs.core.redact import redact

KEY = "SECRETKEY4711"
USER = "SECRETUSER0815"
PASSWORD = "SECRETPASS1234"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def everything_written(tmp_path: Path) -> str:
    texts = []
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def planted(host_port: str, path: str) -> str:
    return f"http://{USER}:{PASSWORD}@{host_port}{path}?api_key={KEY}&token={KEY}"


@pytest.mark.parametrize("path", ["refused", "/echo-error", "/redirect-away", "/bomb", "/poison"])
def test_a_planted_secret_appears_in_no_output(
    tmp_path: Path, hostile: HostileServer, path: str
) -> None:
    host_port = f"127.0.0.1:{free_port() if path == 'refused' else hostile.port}"
    url = planted(host_port, "/events" if path == "refused" else path)
    proc = consume_process(
        tmp_path,
        url,
        ("API_MAX_RETRIES", "2"),
        ("PROGRESS_SECONDS", "0.2"),
        ("API_MAX_RESPONSE_BYTES", "100000"),
        metrics=True,
    )
    try:
        wait_until(lambda: (tmp_path / "stderr").read_text().count("\n") >= 6, 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        code, _ = reap(proc, 30)
    output = everything_written(tmp_path)
    assert code == 0, output[-2000:]
    assert "progress" in output or "events/s" in output  # the progress lines were written
    for secret in (KEY, USER, PASSWORD):
        assert secret not in output, output[output.find(secret) - 300 : output.find(secret) + 100]


def test_a_config_error_does_not_echo_the_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"API_URL": f"ftp://{USER}:{PASSWORD}@h/e?api_key={KEY}"})
    for secret in (KEY, USER, PASSWORD):
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        f"GET http://h:1/e?api_key={KEY} failed",
        f"Max retries exceeded with url: /events?api_key={KEY}&limit=500 (Caused by X)",
        f"https://{USER}:{PASSWORD}@host/path",
        f"headers {{'Authorization': 'Bearer {KEY}', 'X-Api-Key': '{KEY}'}}",
        f"Authorization: Basic {KEY}",
        f"url='http://h/e?token={KEY}#frag'",
        f"api_key={KEY}",
    ],
)
def test_redact_removes_query_userinfo_and_auth_headers(text: str) -> None:
    cleaned = redact(text)
    for secret in (KEY, USER, PASSWORD):
        assert secret not in cleaned, cleaned


def test_redact_keeps_ordinary_text() -> None:
    for text in (
        "polled 10 sent 9 failed 1 | archived raw 5",
        "could not write failed_records/dt=2026-10-05/x.jsonl (disk full)",
        "started run r: polling http://127.0.0.1:8080/events every 1s",
    ):
        assert redact(text) == text


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The logging set-up of the loggers `setup_logging` changes, put back after the test.

    `setup_logging` replaces the root logger's handlers with one on the sys.stderr of the
    moment (here capsys's buffer, closed after the test) and changes levels and
    propagation: left in place, that state reaches whatever test runs next in the same
    process (and under pytest-xdist that is any test, in any order).
    """
    loggers = [logging.getLogger(), logging.getLogger("ingestion")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        for lg, handlers, level, propagate, disabled in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def test_the_redaction_is_applied_at_the_logging_layer(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    from ingestion.main import setup_logging

    setup_logging()
    try:
        logging.getLogger("ingestion").error("failed: http://h/e?api_key=%s", KEY)
        logging.getLogger("urllib3.connectionpool").warning("Retrying: /e?api_key=%s", KEY)
        try:
            raise ValueError(f"http://{USER}:{PASSWORD}@h/e")
        except ValueError:
            logging.getLogger("ingestion").exception("boom")
    finally:
        for handler in logging.getLogger().handlers[:]:
            handler.flush()
    err = capsys.readouterr().err
    assert "failed:" in err and "Retrying" in err and "boom" in err
    for secret in (KEY, USER, PASSWORD):
        assert secret not in err
