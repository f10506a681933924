"""`make screenshots`: the README's pictures of the back office, from `make run`'s
configuration (SQLite, projections in-process) and its demo data, in headless Chromium.

A fresh database in a temporary directory is migrated and seeded (`seed_demo`, as `make
seed` does), the development server serves it on a free port, and the browser signs in
as admin/admin and saves docs/images/admin-*.png: the order list, an order's page, a
shipped order's page after its button was pressed, the dashboard, the phone order form.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_server(workdir: Path) -> Iterator[str]:
    """`make run`'s server on a seeded database of its own; its URL while the block runs."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "READ_DATABASE_URL", "CELERY_BROKER_URL")
    }
    env.update(DATABASE_URL=f"sqlite:///{workdir / 'demo.sqlite3'}", DEBUG="true", LOG_FORMAT="console")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo", "--orders", "40", "--admin"], env=env, check=True, cwd=ROOT)
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(f"{url}/health/live", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def chromium(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.add_argument("--window-size=1680,1050")
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, demo_server(Path(tmp)) as url:
        browser = chromium(Path(tmp) / "profile")
        wait = WebDriverWait(browser, 20)
        try:
            browser.get(f"{url}/admin/login/?next=/admin/readmodels/ordersummary/")
            browser.find_element(By.NAME, "username").send_keys("admin")
            browser.find_element(By.NAME, "password").send_keys("admin")
            browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
            wait.until(expected_conditions.presence_of_element_located((By.ID, "result_list")))
            browser.save_screenshot(str(IMAGES / "admin-orders.png"))

            # A paid order: its page, then its Ship button pressed.
            browser.get(f"{url}/admin/readmodels/ordersummary/?status__exact=PAID")
            wait.until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result_list tbody th a"))
            ).click()
            form = wait.until(expected_conditions.presence_of_element_located((By.ID, "action-ship")))
            form.find_element(By.NAME, "tracking_number").send_keys("00340434161094")
            form.find_element(By.NAME, "carrier").send_keys("DHL")
            browser.save_screenshot(str(IMAGES / "admin-order-page.png"))
            form.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
            wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "order-status"), "SHIPPED"))
            browser.save_screenshot(str(IMAGES / "admin-order-shipped.png"))

            browser.get(f"{url}/admin/dashboard/")
            wait.until(expected_conditions.presence_of_element_located((By.ID, "dashboard")))
            browser.save_screenshot(str(IMAGES / "admin-dashboard.png"))

            browser.get(f"{url}/admin/orders/phone-order/")
            wait.until(expected_conditions.presence_of_element_located((By.ID, "command-form")))
            browser.save_screenshot(str(IMAGES / "admin-phone-order.png"))
        finally:
            browser.quit()
    print(f"Saved the screenshots in {IMAGES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
