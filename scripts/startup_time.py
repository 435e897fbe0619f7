#!/usr/bin/env python
"""Run from the repository root: .venv/bin/python scripts/startup_time.py

Seconds from `make run` (set-up done) to a page a person can use: the app's title and
the Models tab's demo table rendered in Chromium."""
import os
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from scripts.browser import chromium_path  # noqa: E402

t0 = time.perf_counter()
proc = subprocess.Popen(["make", "run"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
try:
    while True:
        try:
            urllib.request.urlopen("http://127.0.0.1:7860/", timeout=2)
            break
        except Exception:
            time.sleep(0.2)
    t_http = time.perf_counter() - t0
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path())
        page = b.new_page()
        page.goto("http://127.0.0.1:7860/")
        page.get_by_role("tab", name="Models").click()
        page.get_by_text("demo:gemma3-270m").first.wait_for(timeout=60_000)
        t_page = time.perf_counter() - t0
        b.close()
    print(f"http {t_http:.1f} s, usable page {t_page:.1f} s")
finally:
    os.killpg(proc.pid, 15)
