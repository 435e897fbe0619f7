import os

# Tests never reach the network, and never write into the user's real cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# A job a test starts takes a device lock in a folder of the test session's own: it never
# queues behind a real training job on this machine (a test waited 20 minutes behind one),
# nor holds one back. The `lock_dir` fixture gives a test a folder of its own on top.
if not os.environ.get("KD_STUDIO_LOCK_DIR"):
    import tempfile

    os.environ["KD_STUDIO_LOCK_DIR"] = tempfile.mkdtemp(prefix="kd-studio-test-locks-")

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
# Starting servers and finding Chromium lives in scripts/browser.py, shared with scripts/
# and bench/ (which must not import this file: it sets the environment above).
from scripts.browser import CHROMIUM_FLAGS, chromium_path, start_server, stop_server  # noqa: E402

# A test using one of these starts the app server or Chromium: it must be marked `browser`,
# or `make test-fast` (-m "not browser") would start them.
BROWSER_FIXTURES = frozenset({"browser", "serve_app", "served_app"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects: an unmarked test is what -m lets through
def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("browser") is None]
    if unmarked:
        raise pytest.UsageError("these tests start the app server or Chromium but are not marked @pytest.mark.browser:\n  "
                                + "\n  ".join(unmarked))


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


@pytest.fixture
def serve_app(tmp_path):
    """Start a fresh `kd-studio serve` with extra arguments (e.g. --project DIR) as a user
    would; returns its URL; every server it started stops after the test.  For tests that
    need their own process: a project given at start, a kill, a restart."""
    procs = []

    def start(*args: str) -> str:
        # Its projects root is tmp_path; the session's tiny models (under the base temp
        # folder) are a models folder it may load from, as a server's --models-dir is.
        proc, url = start_server("--models-dir", str(tmp_path.parent), *args, cwd=tmp_path)
        procs.append(proc)
        return url

    start.procs = procs  # a fault test kills one
    try:
        yield start
    finally:
        for proc in procs:
            stop_server(proc)


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The URL of one `kd-studio serve` (no project) shared by every test that needs only a
    running app: a test opens its own project folder through the project bar, and leaves no
    model loaded.  Its own device-lock folder, as lock_dir gives a test."""
    home = tmp_path_factory.mktemp("app-server")
    env = dict(os.environ, KD_STUDIO_LOCK_DIR=str(home / "locks"), OMP_NUM_THREADS="1")
    # Its projects root holds every test's tmp_path: a test opens its own folder through the bar.
    proc, url = start_server("--projects-root", str(tmp_path_factory.getbasetemp()), cwd=home, env=env)
    try:
        yield url
    finally:
        stop_server(proc)
