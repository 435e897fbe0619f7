#!/usr/bin/env python
"""Screenshots of every tab of the running app, for the README (assets/screenshots/).

Starts `kd-studio serve --project PROJECT` on a free port, opens each tab in headless
Chromium and saves a full-page PNG; on the Models tab it runs the pre-flight check, and
on the Chat tab it first asks the demo's teacher and target (and, with --student, the
target with a trained adapter) one question, so the picture shows real answers and their
scores.

    .venv/bin/python scripts/screenshots.py --project projects/demo-pd
    .venv/bin/python scripts/screenshots.py --project Q --student Q/jobs/gemma3-270m-8-epochs/adapter
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.browser import CHROMIUM_FLAGS, chromium_path, free_port, wait_http  # noqa: E402

TABS = ["Models", "Expand", "Explore", "Documents", "Curate", "Train", "Chat", "Evaluate"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True, help="project folder the app opens")
    ap.add_argument("--out", default=str(ROOT / "assets" / "screenshots"))
    ap.add_argument("--question", default="Who founded Brindlecove?")
    ap.add_argument("--student", default=None, help="a trained adapter of the demo target: the Chat tab's third column")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser_path = chromium_path()
    if browser_path is None:
        print("Chromium not found: install the Debian package 'chromium'", file=sys.stderr)
        return 2
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    project = Path(args.project).resolve()  # served from its parent folder as the projects root
    server = subprocess.Popen([sys.executable, "-m", "kd_core.cli", "serve", "--port", str(port), "--projects-root",
                               str(project.parent), "--project", project.name],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, 120, server)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            for tab in TABS:
                page.get_by_role("tab", name=tab).click()
                if tab == "Models":
                    page.locator("#models-check").click()
                    page.locator("#models-report").get_by_text("available").first.wait_for(timeout=120_000)
                if tab == "Curate":
                    page.locator("#curate-open").click()
                if tab == "Chat":
                    if args.student:  # teacher, untrained target and the transferred student side by side
                        page.locator("#chat-label-2 textarea").fill("student (target + transfer)")
                        page.locator("#chat-model-2 textarea").fill("demo:gemma3-270m")
                        page.locator("#chat-adapter-2 textarea").fill(args.student)
                    page.locator("#chat-prompt textarea").fill(args.question)
                    page.locator("#chat-send").click()
                    page.locator("#chat-scores").get_by_text("ppl under").first.wait_for(timeout=600_000)
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
