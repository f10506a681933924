"""gunicorn as deployed (config/gunicorn.py) takes a request line of up to 8190 bytes, so long
filters reach the application (a problem+json answer, not gunicorn's HTML 414), and
refuses a longer one itself with its 414."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.http import call
from tests.support.services import Service, web

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_request_line_up_to_8190_bytes_reaches_the_app_and_a_longer_one_is_414(
    tmp_path: Path, running: list[Service]
) -> None:
    server = web(tmp_path)
    server.args += ["--config", "config/gunicorn.py"]
    running.append(server)
    server.start()
    base: str = server.url  # type: ignore[attr-defined]
    # "GET " + path + " HTTP/1.1" is the request line; 6000 bytes is past gunicorn's default.
    path = "/api/orders/?customer_id="
    filler = 8190 - len("GET ") - len(path) - len(" HTTP/1.1")
    for length in (6000 - len(path), filler):
        response = call(base, "GET", path + "c" * length)
        assert response.status_code == 401, response.text[:200]  # the app's answer: sign in first
        assert response.headers["Content-Type"] == "application/problem+json"
    refused = call(base, "GET", path + "c" * (filler + 1))
    assert refused.status_code == 414
