"""Fault injection for the storage tests: SIGKILL or a full disk (ENOSPC) at the n-th
write step of a real command, run in a forked child.

A *write step* is one file-system call that changes the lake (create or open for
writing, rename, link, unlink, mkdir) on a path under the chosen roots, counted in
the child. `fault=Fault("count")` only counts them, so a suite can then visit every
step. On S3 the steps are the write requests (PUT, POST, DELETE) that reach moto's
server through `KillingProxy` (on the tests' one loopback proxy, loopback.py), which
SIGKILLs the child as the n-th arrives, before moto sees it. The kill is a real
SIGKILL: no `finally`, no atexit, nothing runs.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopback import LoopbackProxy, Reply, Request

KILL, ENOSPC, COUNT = "kill", "enospc", "count"


@dataclass(frozen=True)
class Fault:
    mode: str  # kill | enospc | count
    step: int = 0  # 1-based write step at which it strikes


@dataclass
class Outcome:
    killed: bool
    exit_code: int | None
    steps: int  # write steps the child reached (COUNT) or -1 when it was killed
    stderr: str


def _install(fault: Fault, roots: tuple[str, ...], counter: list[int]) -> None:
    """Wrap the os calls that change files, in this (child) process only."""

    def strike(path: Any) -> None:
        text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
        if not text or not os.path.abspath(text).startswith(roots):
            return
        counter[0] += 1
        if fault.mode == COUNT or counter[0] != fault.step:
            return
        if fault.mode == KILL:
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), text)

    def wrap(name: str, paths: Callable[..., list[Any]]) -> None:
        real = getattr(os, name)
        frees = name in ("unlink", "remove", "rmdir")  # freeing space never runs out of it

        def injected(*args: Any, **kwargs: Any) -> Any:
            for path in paths(*args, **kwargs):
                if not (frees and fault.mode == ENOSPC):
                    strike(path)
            return real(*args, **kwargs)

        setattr(os, name, injected)

    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    wrap("open", lambda p, flags, *a, **k: [p] if flags & writing else [])
    for name in ("unlink", "remove", "rmdir", "mkdir"):
        wrap(name, lambda p, *a, **k: [p])
    for name in ("replace", "rename", "link"):
        wrap(name, lambda src, dst, *a, **k: [dst])
    real_open = builtins.open

    def opened(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            strike(file)
        return real_open(file, mode, *args, **kwargs)

    builtins.open = opened


def run_forked(
    work: Callable[[], int | None],
    fault: Fault,
    roots: list[Path],
    *,
    on_start: Callable[[int], None] = lambda pid: None,
) -> Outcome:
    """Run `work` in a forked child with `fault` injected; wait for it."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as steps:
        return _wait(_spawn(work, fault, roots, err, steps), err, steps, on_start)


def _spawn(
    work: Callable[[], int | None], fault: Fault, roots: list[Path], err: Any, steps: Any
) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (pytest's capture is not fd 1)
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        counter = [0]
        _install(fault, tuple(str(r.resolve()) + os.sep for r in roots), counter)
        try:
            code = int(work() or 0)
        except BaseException as exc:  # the parent checks the exit code and stderr
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            code = 71
        os.write(steps.fileno(), str(counter[0]).encode())
    finally:
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, err: Any, steps: Any, on_start: Callable[[int], None]) -> Outcome:
    on_start(pid)
    _, status = os.waitpid(pid, 0)
    err.seek(0)
    steps.seek(0)
    text = err.read().decode(errors="replace")
    counted = int(steps.read() or -1)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, status
        return Outcome(True, None, -1, text)
    return Outcome(False, os.WEXITSTATUS(status), counted, text)


def run_two_forked(
    work: tuple[Callable[[], int | None], Callable[[], int | None]],
    faults: tuple[Fault, Fault],
    roots: list[Path],
    *,
    on_start: Callable[[int], None] = lambda pid: None,
) -> tuple[Outcome, Outcome]:
    """Two children at once, each with its own fault; `on_start` gets the first one's pid."""
    with contextlib.ExitStack() as stack:
        files = [
            (
                stack.enter_context(tempfile.TemporaryFile()),
                stack.enter_context(tempfile.TemporaryFile()),
            )
            for _ in range(2)
        ]
        pids = [
            _spawn(w, f, roots, err, steps)
            for w, f, (err, steps) in zip(work, faults, files, strict=True)
        ]
        one, two = (
            _wait(pid, err, steps, on_start if pid == pids[0] else lambda pid: None)
            for pid, (err, steps) in zip(pids, files, strict=True)
        )
        return one, two


class KillingProxy(LoopbackProxy):
    """The loopback proxy in front of moto that SIGKILLs `victim` when the n-th write
    request (PUT, POST, DELETE) arrives, before moto sees it; it counts them too."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.victim: int | None = None
        self.kill_at = 0
        self.writes = 0
        self.lock = threading.Lock()
        self.start()

    def handle(self, request: Request) -> Reply:
        if request.method in ("PUT", "POST", "DELETE") and self._strikes():
            return Reply(503, close=True)  # the client is dead; nobody reads this
        return self.forward(request)

    def arm(self, kill_at: int) -> None:
        """Count writes from now; kill the victim (`set_victim`) at the `kill_at`-th (0: never)."""
        with self.lock:
            self.victim, self.kill_at, self.writes = None, kill_at, 0

    def set_victim(self, pid: int) -> None:
        with self.lock:
            self.victim = pid

    def _strikes(self) -> bool:
        with self.lock:
            self.writes += 1
            if self.writes != self.kill_at:
                return False
        for _ in range(5000):  # the parent names the child right after fork
            with self.lock:
                if self.victim is not None:
                    os.kill(self.victim, signal.SIGKILL)
                    self.victim = None
                    return True
            threading.Event().wait(0.001)
        raise AssertionError("the child to kill was never named")
