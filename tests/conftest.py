import os

# Tests never reach the network, and never write into the user's real cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import tiny_models  # noqa: E402


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    return tiny_models.build_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory) -> Path:
    return tiny_models.build_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_adapter(tmp_path_factory, tiny_llama_dir) -> Path:
    return tiny_models.write_fake_adapter(tmp_path_factory.mktemp("tiny-llama-lora"), tiny_llama_dir)


@pytest.fixture(scope="session")
def other_llama_dir(tmp_path_factory) -> Path:
    """Same architecture, another width: an adapter for tiny_llama must not fit it."""
    return tiny_models.build_llama(tmp_path_factory.mktemp("tiny-llama-128"), hidden=128)


@pytest.fixture
def lock_dir(tmp_path, monkeypatch) -> Path:
    """A private device-lock folder, inherited by job processes and served apps: a test
    never waits behind (or blocks) a real training job on this machine."""
    d = tmp_path / "locks"
    monkeypatch.setenv("KD_STUDIO_LOCK_DIR", str(d))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return d


# --- browser tests -----------------------------------------------------------
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    for c in (os.environ.get("KD_STUDIO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium")):
        if c and os.path.exists(c):
            return c
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        msg = "Chromium not found: install the Debian package 'chromium' (make test does it when it can)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)  # with CI=true browser tests never skip
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_output(proc: subprocess.Popen) -> str:
    path = getattr(proc, "log_path", None)
    if path:
        return Path(path).read_text(errors="replace")[-4000:]
    return proc.stdout.read() if proc.stdout else ""


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}: {_server_output(proc)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def serve_app(tmp_path):
    """Start `kd-studio serve` with extra arguments (e.g. --project DIR) as a user would;
    returns its URL; every server it started stops after the test."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        port = free_port()
        env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
        # Into a file, not a pipe: nobody reads a pipe while the test runs, and a server that
        # fills one blocks on its next write.
        log = open(tmp_path / f"server-{port}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kd_core.cli", "serve", "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
        )
        proc.log_path = log.name
        log.close()
        procs.append(proc)
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, 90, proc)
        return url

    start.procs = procs  # a fault test kills one
    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def served_app(serve_app):
    """Start `kd-studio serve` as a user would; yield its URL; stop it."""
    return serve_app()
