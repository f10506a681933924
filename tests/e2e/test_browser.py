"""A person in the back office, in headless Chromium: log in, open an order from the list,
take it through confirm, pay and ship with its page's buttons (a refusal shown too), open
the dashboard; place a phone order and change its address. Screenshots go to
artifacts/screenshots/; the README's are made by `make screenshots` (tests/screenshots.py)
from the demo data: a test never rewrites the docs."""

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
from readmodels.models import OrderSummary
from tests.factories import AddressFactory, CreateOrderFactory, total_of
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


def log_in(browser: webdriver.Chrome, url: str, name: str, then: str) -> None:
    browser.get(f"{url}/admin/login/?next={then}")
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def press(browser: webdriver.Chrome, wait: WebDriverWait[Any], action: str, **fields: str) -> str:
    """Fill the action's fields on the order page, press its button; the message shown."""
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, f"action-{action}")))
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(expected_conditions.staleness_of(form))  # the order page again, not the last one's message
    message = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))
    return str(message.text)


def test_staff_take_an_order_through_its_life_from_its_page(
    browser: webdriver.Chrome, live_server: Any, settings: Any
) -> None:
    settings.PROJECTIONS_INLINE = True
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    address = AddressFactory(name="Ada Lovelace", city="Köln")
    create = CreateOrderFactory(customer_email="ada@example.com", shipping_address=address, payment_method="card")
    handle(create)
    other = CreateOrderFactory()
    handle(other)
    handle(ConfirmOrder(order_id=other.order_id))
    handle(PayOrder(order_id=other.order_id, payment_id="pay-1", amount=total_of(other)))
    wait = WebDriverWait(browser, 15)

    log_in(browser, live_server.url, "admin", "/admin/")
    wait.until(expected_conditions.presence_of_element_located((By.LINK_TEXT, "Dashboard")))
    menu = browser.find_element(By.ID, "content").text
    assert "Order summaries" not in menu
    assert "Order details" not in menu
    shot(browser, "1-admin-index")

    browser.find_element(By.LINK_TEXT, "Orders").click()
    number = OrderSummary.objects.get(order_id=create.order_id).order_number
    wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, number)))
    shot(browser, "2-order-list")
    browser.find_element(By.LINK_TEXT, number).click()

    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "order-status"), "PENDING"))
    page = browser.find_element(By.ID, "content").text
    for shown in ("Ada Lovelace", "ada@example.com", "Köln", "card", create.items[0].sku):
        assert shown in page
    for internal in ("Search text", "Version", "Order id"):
        assert internal not in page
    shown_actions = {form.get_attribute("id") for form in browser.find_elements(By.CSS_SELECTOR, "#order-actions form")}
    assert shown_actions == {"action-confirm", "action-cancel"}
    shot(browser, "3-order-page")

    assert press(browser, wait, "confirm").startswith("Confirmed.")
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "order-status"), "CONFIRMED"))
    # The amount field starts at the total: paying records exactly that.
    assert press(browser, wait, "pay", payment_id="pay-77").startswith("Payment recorded.")
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "order-status"), "PAID"))
    refused = press(browser, wait, "ship", tracking_number=" ")
    assert refused.startswith("Refused, tracking_number"), refused
    assert press(browser, wait, "ship", tracking_number="00340434", carrier="DHL").startswith("Shipped.")
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "order-status"), "SHIPPED"))
    assert "DHL, tracking 00340434" in browser.find_element(By.ID, "order-shipment").text
    assert not browser.find_elements(By.ID, "action-cancel")  # shipped: no cancelling
    shot(browser, "4-order-shipped")
    events = {event.metadata["user"] for event in StoredEvent.objects.filter(stream_id=str(create.order_id))}
    assert "admin" in events

    browser.get(f"{live_server.url}/admin/dashboard/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "dashboard")))
    assert browser.find_element(By.ID, "status-SHIPPED").text == "1"
    revenue = browser.find_element(By.ID, "revenue-EUR").text
    assert revenue.endswith(" EUR")
    assert len(revenue.split(" ")[0].split(".")[1]) == 2  # the euro's cents, never more digits
    shot(browser, "5-dashboard")


def test_a_phone_order_and_an_address_change_in_the_admin(
    browser: webdriver.Chrome, live_server: Any, settings: Any
) -> None:
    settings.PROJECTIONS_INLINE = True
    User.objects.create_superuser("clerk", "clerk@example.com", "clerk")
    wait = WebDriverWait(browser, 15)
    log_in(browser, live_server.url, "clerk", "/admin/readmodels/ordersummary/")
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
    shot(browser, "7-order-page-after-phone-order")
    events = list(StoredEvent.objects.filter(event_type__in=["OrderCreated", "ShippingAddressChanged"]))
    assert {(event.metadata["source"], event.metadata["user"]) for event in events} == {("admin", "clerk")}
    assert len(events) == 2
