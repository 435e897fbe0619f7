"""Start `kd-studio serve` and find headless Chromium: shared by the browser tests
(tests/conftest.py), scripts/ and bench/.  Importing it changes nothing in the
environment; the server's environment is passed to it explicitly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# What every served app runs under: offline, no analytics.
SERVER_ENV = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def chromium_path() -> str | None:
    """KD_STUDIO_CHROMIUM first, then the Debian package's places, then PATH."""
    for c in (os.environ.get("KD_STUDIO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium")):
        if c and os.path.exists(c):
            return c
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_output(proc: subprocess.Popen) -> str:
    """The tail of a server's log (start_server writes it to a file), for error messages."""
    path = getattr(proc, "log_path", None)
    if path:
        return Path(path).read_text(errors="replace")[-4000:]
    return proc.stdout.read() if proc.stdout else ""


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Until `url` answers 200; RuntimeError at once if `proc` exits, TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}: {server_output(proc)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_server(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 90,
                 demo: bool = False) -> tuple[subprocess.Popen, str]:
    """`kd-studio serve --port FREE *args` as a user would start it, run in `cwd` with its
    output in `cwd/server-PORT.log` (proc.log_path); returns (process, URL) once it answers.
    Its projects root is `cwd` unless `args` give one.  `demo`: a first start makes and opens
    the demo project (kd_core.demo.project), as `make run` does; off, a test's root holds only
    what the test put there."""
    port = free_port()
    if "--projects-root" not in args:  # the folder it runs in holds the projects a test opens
        args = ("--projects-root", str(cwd), *args)
    if not demo:
        args = (*args, "--no-demo")
    # Into a file, not a pipe: nobody reads a pipe while a test runs, and a server that
    # fills one blocks on its next write.
    log_path = Path(cwd) / f"server-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kd_core.cli", "serve", "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=dict(env if env is not None else os.environ, **SERVER_ENV),
            cwd=cwd,
        )
    proc.log_path = str(log_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout, proc)
    except BaseException:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
