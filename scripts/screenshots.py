#!/usr/bin/env python
"""Screenshots of every tab of the running app, for the README (assets/screenshots/).

Starts `kd-studio serve` on a free port as `make run` does, on a new, empty projects root:
the first start makes and opens the demo project (kd_core/demo/project.py). Then it opens
each tab in headless Chromium and saves a full-page PNG; on the Models tab it runs the
pre-flight check, and for Chat it clicks Start here's "compare" (the preset: the teacher,
the target before and the transferred student) and Send, so the picture shows real answers
and their scores. `--project FOLDER` serves an existing project instead.

    .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --project projects/my-transfer
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.browser import CHROMIUM_FLAGS, chromium_path, free_port, wait_http  # noqa: E402

TABS = ["Models", "Expand", "Explore", "Documents", "Curate", "Train", "Chat", "Evaluate"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", default=None, help="project folder the app opens (default: the demo project, on a first start)")
    ap.add_argument("--out", default=str(ROOT / "assets" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser_path = chromium_path()
    if browser_path is None:
        print("Chromium not found: install the Debian package 'chromium'", file=sys.stderr)
        return 2
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    if args.project:
        project = Path(args.project).resolve()  # served from its parent folder as the projects root
        where = ["--projects-root", str(project.parent), "--project", project.name]
    else:  # a first start: an empty root, where the server makes the demo project
        where = ["--projects-root", tempfile.mkdtemp(prefix="kd-screenshots-")]
    server = subprocess.Popen([sys.executable, "-m", "kd_core.cli", "serve", "--port", str(port), *where],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, 120, server)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            time.sleep(5)  # the first page: the project bar and every tab read the project
            page.screenshot(path=str(out / "start.png"))
            print(f"first page -> {out / 'start.png'}")
            for tab in TABS:
                if tab == "Chat":  # Start here's third use: the preset fills the three slots and a question
                    page.locator("#start-compare").click()
                    page.locator("#chat-prompt textarea").wait_for(timeout=30_000)
                    time.sleep(3)
                    page.locator("#chat-send").click()
                    page.locator("#chat-scores").get_by_text("ppl under").first.wait_for(timeout=900_000)
                else:
                    page.get_by_role("tab", name=tab).click()
                if tab == "Models":
                    page.locator("#models-check").click()
                    page.locator("#models-report").get_by_text("available").first.wait_for(timeout=120_000)
                time.sleep(3)  # plots and tables finish drawing
                path = out / f"{tab.lower()}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"{tab} -> {path}")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
