"""A person in the back office, in headless Chromium: log in, cancel an order, see the
projection catch up, open the dashboard; place a phone order and change its address.
Screenshots go to artifacts/screenshots/ (docs/images/admin-phone-order.png is
7-order-page-after-phone-order.png from a run, copied by hand: a test never rewrites the docs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from eventlog.models import StoredEvent
from orders.commands import ConfirmOrder, PayOrder
from tests.factories import CreateOrderFactory, total_of
from writeside.bus import handle

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium and ChromeDriver are needed: `make browser-deps` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def shot(driver: webdriver.Chrome, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_cancel_an_order_in_the_admin_and_see_it_projected(
    browser: webdriver.Chrome, live_server: Any, settings: Any
) -> None:
    settings.PROJECTIONS_INLINE = True
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    orders = [CreateOrderFactory(customer_id=f"c-{n}") for n in range(6)]
    for create in orders:
        handle(create)
    for create in orders[:3]:
        handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=orders[0].order_id, payment_id="pay-1", amount=total_of(orders[0])))
    wait = WebDriverWait(browser, 15)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("admin")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(expected_conditions.presence_of_element_located((By.LINK_TEXT, "Dashboard")))
    shot(browser, "1-admin-index")

    browser.get(f"{live_server.url}/admin/readmodels/ordersummary/")
    target = orders[1]
    checkbox = wait.until(
        expected_conditions.element_to_be_clickable(
            (By.CSS_SELECTOR, f"input.action-select[value='{target.order_id}']")
        )
    )
    shot(browser, "2-order-list")
    checkbox.click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("cancel")
    browser.find_element(By.NAME, "index").click()
    reason = wait.until(expected_conditions.presence_of_element_located((By.NAME, "reason")))
    reason.send_keys("customer called to cancel")
    shot(browser, "3-cancel-reason")
    browser.find_element(By.NAME, "apply").click()

    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))
    row = f"//input[@value='{target.order_id}']/ancestor::tr"
    wait.until(lambda driver: "CANCELLED" in driver.find_element(By.XPATH, row).text)
    shot(browser, "4-order-cancelled")

    browser.get(f"{live_server.url}/admin/dashboard/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "dashboard")))
    assert browser.find_element(By.ID, "status-CANCELLED").text == "1"
    assert browser.find_elements(By.CSS_SELECTOR, "svg rect")
    shot(browser, "5-dashboard")


def test_a_phone_order_and_an_address_change_in_the_admin(
    browser: webdriver.Chrome, live_server: Any, settings: Any
) -> None:
    settings.PROJECTIONS_INLINE = True
    User.objects.create_superuser("clerk", "clerk@example.com", "clerk")
    wait = WebDriverWait(browser, 15)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/readmodels/ordersummary/")
    browser.find_element(By.NAME, "username").send_keys("clerk")
    browser.find_element(By.NAME, "password").send_keys("clerk")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(expected_conditions.element_to_be_clickable((By.ID, "phone-order"))).click()

    fields = {
        "customer_id": "c-phone",
        "customer_email": "ada@example.com",
        "lines-0-sku": "TEA-1",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "4.50",
        "shipping-name": "Ada Lovelace",
        "shipping-line1": "Marktplatz 1",
        "shipping-postal_code": "50667",
        "shipping-city": "Köln",
        "shipping-country": "DE",
    }
    for name, value in fields.items():
        wait.until(expected_conditions.presence_of_element_located((By.NAME, name))).send_keys(value)
    Select(browser.find_element(By.NAME, "payment_method")).select_by_value("invoice")
    shot(browser, "6-phone-order")
    browser.find_element(By.NAME, "send").click()

    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))
    assert "TEA-1" in browser.find_element(By.ID, "content").text
    wait.until(expected_conditions.element_to_be_clickable((By.ID, "change-address"))).click()
    city = wait.until(expected_conditions.presence_of_element_located((By.NAME, "city")))
    city.clear()
    city.send_keys("Bonn")
    browser.find_element(By.NAME, "send").click()

    wait.until(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, "ul.messagelist"), "changed"))
    page = browser.find_element(By.ID, "content").text
    assert "50667 Bonn" in page
    assert "ShippingAddressChanged" in page  # the timeline
    assert browser.find_element(By.PARTIAL_LINK_TEXT, "everything that happened").get_attribute("href")
    # The address, payment and lines in view, with the message above them.
    browser.execute_script("document.getElementById('change-address').scrollIntoView({block: 'center'})")
    shot(browser, "7-order-page-after-phone-order")
    events = list(StoredEvent.objects.filter(event_type__in=["OrderCreated", "ShippingAddressChanged"]))
    assert {(event.metadata["source"], event.metadata["user"]) for event in events} == {("admin", "clerk")}
    assert len(events) == 2
