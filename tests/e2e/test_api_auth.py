"""Authentication that holds: tokens expire and can be revoked, token issue is throttled per
address (never a forgeable header) and per username, and repeated failures lock a username
out from an address, on the token endpoint (problem+json) and the admin login (plain page)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, SuperuserFactory, UserFactory, token_for
from tests.support.http import problem
from tests.support.waiting import eventually
from web.authentication import TokenAuthentication

# Real commits, so axes' select_for_update and the lockout rows behave as in production.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_cache"),
]
TOKEN = "/api/auth/token/"
WRONG = {"username": "ann", "password": "wrong"}
RIGHT = {"username": "ann", "password": PASSWORD}
GENEROUS = {"queries": "99/min", "commands": "99/min", "auth": "99/min", "auth_username": "99/min"}


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set throttle rates for this test (the rest stay generous)."""

    def set_rates(**overrides: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**GENEROUS, **overrides})

    set_rates()
    return set_rates


@pytest.fixture
def ann(db: None) -> User:
    user: User = UserFactory(username="ann")
    return user


@pytest.fixture
def lockout_after_3(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=10)


@pytest.fixture
def behind_one_proxy(settings: Any) -> None:
    """NUM_PROXIES=1: the client is the address our proxy appended to X-Forwarded-For."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def post_token(body: dict[str, str], address: str = "127.0.0.1", forwarded_for: str | None = None) -> Any:
    extra: dict[str, Any] = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return APIClient().post(TOKEN, body, format="json", **extra)


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def issue(body: dict[str, str] = RIGHT) -> str:
    response = post_token(body)
    assert response.status_code == 200, response.content
    token: str = response.json()["token"]
    return token


# Throttles


def test_rotating_x_forwarded_for_does_not_escape_the_address_throttle(rates: Callable[..., None]) -> None:
    rates(auth="2/min")
    answers = [post_token(WRONG, forwarded_for=f"198.51.100.{n}").status_code for n in range(2)]
    assert answers == [400, 400]
    problem(post_token(WRONG, forwarded_for="198.51.100.99"), 429)
    assert post_token(WRONG, address="127.0.0.2").status_code == 400  # another address has its own budget


def test_a_username_is_throttled_across_addresses_whatever_its_spelling(rates: Callable[..., None]) -> None:
    rates(auth_username="2/min")
    spellings = ["ann", " ANN ", "\uff41\uff4e\uff4e"]  # the last in fullwidth letters (NFKC: "ann")
    answers = [
        post_token({"username": name, "password": "x"}, address=f"10.0.0.{n}") for n, name in enumerate(spellings)
    ]
    assert [answer.status_code for answer in answers[:2]] == [400, 400]
    assert "throttled" in problem(answers[2], 429)["detail"]
    assert post_token({"username": "bob", "password": "x"}, address="10.0.0.1").status_code == 400


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(
    rates: Callable[..., None], behind_one_proxy: None
) -> None:
    rates(auth="2/min")
    proxy = "10.9.9.9"
    # A client may prepend anything to X-Forwarded-For; our proxy appends the address it saw.
    forged = [f"1.2.3.{n}, 203.0.113.7" for n in range(3)]
    assert [post_token(WRONG, proxy, forwarded).status_code for forwarded in forged[:2]] == [400, 400]
    problem(post_token(WRONG, proxy, forged[2]), 429)
    assert post_token(WRONG, proxy, "203.0.113.8").status_code == 400


# Lockout (django-axes)


@pytest.mark.usefixtures("rates", "lockout_after_3")
def test_the_token_endpoint_locks_a_username_out_from_an_address(ann: User) -> None:
    assert [post_token(WRONG).status_code for _ in range(2)] == [400, 400]
    locked = post_token(WRONG)
    assert "locked" in problem(locked, 429)["detail"]
    assert locked["Retry-After"] == "600"
    # Now even the right password is refused from that address, whatever header it sends.
    problem(post_token(RIGHT), 429)
    problem(post_token(RIGHT, forwarded_for="198.51.100.1"), 429)
    # Nobody can lock the owner out from elsewhere, and other usernames are not locked.
    assert post_token(RIGHT, address="127.0.0.2").status_code == 200
    assert post_token({"username": "bob", "password": "wrong"}).status_code == 400


@pytest.mark.usefixtures("rates", "lockout_after_3", "behind_one_proxy")
def test_the_lockout_keys_on_the_address_the_throttles_use(ann: User) -> None:
    proxy = "10.9.9.9"
    for _ in range(3):
        post_token(WRONG, proxy, "1.1.1.1, 203.0.113.7")
    problem(post_token(RIGHT, proxy, "203.0.113.7"), 429)
    assert post_token(RIGHT, proxy, "203.0.113.8").status_code == 200


@pytest.mark.usefixtures("rates", "lockout_after_3")
def test_a_successful_login_resets_the_failures(ann: User) -> None:
    assert [post_token(WRONG).status_code for _ in range(2)] == [400, 400]
    issue()
    assert [post_token(WRONG).status_code for _ in range(2)] == [400, 400]


@pytest.mark.usefixtures("lockout_after_3")
def test_the_admin_login_locks_out_with_a_plain_page(db: None) -> None:
    SuperuserFactory(username="boss")
    wrong = {"username": "boss", "password": "wrong", "next": "/admin/"}
    browser = Client(REMOTE_ADDR="192.0.2.1")
    assert [browser.post("/admin/login/", wrong).status_code for _ in range(2)] == [200, 200]  # the form again
    for attempt in (wrong, {**wrong, "password": PASSWORD}):
        locked = browser.post("/admin/login/", attempt)
        assert locked.status_code == 429
        assert locked["Content-Type"].startswith("text/plain")
        assert locked["Retry-After"] == "600"
        assert "locked" in locked.content.decode()
    elsewhere = Client(REMOTE_ADDR="192.0.2.2").post("/admin/login/", {**wrong, "password": PASSWORD})
    assert (elsewhere.status_code, elsewhere["Location"]) == (302, "/admin/")


# Tokens (django-rest-knox)


@pytest.mark.usefixtures("rates")
def test_a_token_is_issued_with_its_expiry_and_works_with_the_token_scheme(ann: User, settings: Any) -> None:
    response = post_token(RIGHT)
    assert response.status_code == 200
    body = response.json()
    expiry = parse_datetime(body["expiry"])
    assert expiry is not None
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert timezone.now() + ttl - timedelta(minutes=1) < expiry <= timezone.now() + ttl
    assert token_client(body["token"]).get("/api/orders/").status_code == 200
    token = body["token"]
    # Change the last character (to one it is not), so the token is always a wrong one.
    wrong = token[:-1] + ("1" if token.endswith("0") else "0")
    problem(token_client(wrong).get("/api/orders/"), 401)


@pytest.mark.usefixtures("rates")
def test_an_expired_token_is_refused(ann: User, settings: Any) -> None:
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(seconds=2)}
    client = token_client(issue())
    assert client.get("/api/orders/").status_code == 200
    eventually(lambda: client.get("/api/orders/").status_code == 401, timeout=10, message="the token to expire")
    assert "Invalid token" in problem(client.get("/api/orders/"), 401)["detail"]


@pytest.mark.usefixtures("rates")
def test_logout_revokes_the_token_used_and_logout_all_every_token(ann: User) -> None:
    first, second, third = (token_client(issue()) for _ in range(3))
    assert first.post("/api/auth/logout/").status_code == 204
    problem(first.get("/api/orders/"), 401)
    problem(first.post("/api/auth/logout/"), 401)
    assert second.get("/api/orders/").status_code == 200
    assert second.post("/api/auth/logout-all/").status_code == 204
    problem(second.get("/api/orders/"), 401)
    problem(third.get("/api/orders/"), 401)


@pytest.mark.usefixtures("rates")
def test_logout_needs_a_token(ann: User) -> None:
    for path in ("/api/auth/logout/", "/api/auth/logout-all/"):
        problem(APIClient().post(path), 401)
    session = APIClient()
    session.force_login(ann)
    problem(session.post("/api/auth/logout/"), 401)  # a session is not a token to revoke


@pytest.mark.usefixtures("rates")
def test_token_endpoints_leave_no_session_behind(ann: User) -> None:
    issued = post_token(RIGHT)
    assert issued.status_code == 200
    assert not issued.cookies
    revoked = token_client(issued.json()["token"]).post("/api/auth/logout/")
    assert revoked.status_code == 204
    assert not revoked.cookies
    assert not Session.objects.exists()


def test_a_request_checks_its_own_token_whatever_else_its_user_holds(ann: User) -> None:
    for _ in range(30):
        token_for(ann)
    request = APIRequestFactory().get("/api/orders/", HTTP_AUTHORIZATION=f"Token {token_for(ann)}")
    with CaptureQueriesContext(connection) as queries:
        user, _ = TokenAuthentication().authenticate(request)
    assert (user, len(queries)) == (ann, 1)


@pytest.mark.usefixtures("rates")
def test_issuing_a_token_deletes_the_users_expired_ones(ann: User) -> None:
    AuthToken.objects.create(user=ann, expiry=timedelta(seconds=-1))
    live = AuthToken.objects.create(user=ann)[0]
    issue()
    assert AuthToken.objects.filter(user=ann, expiry__lt=timezone.now()).count() == 0
    assert AuthToken.objects.filter(pk=live.pk).exists()


@pytest.mark.usefixtures("rates", "behind_one_proxy")
def test_hostile_credentials_and_addresses_are_client_errors(ann: User) -> None:
    errors = problem(post_token({"username": "a" * 151, "password": "x"}), 400)["errors"]
    assert "username" in errors
    # Fewer proxies than NUM_PROXIES (one bypassed): the client wrote the address; it is not one.
    assert post_token(WRONG, forwarded_for="not-an-address").status_code == 400
    assert post_token(WRONG, forwarded_for="203.0.113.9:4431").status_code == 400
