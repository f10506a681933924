"""What one API throttle check costs: `--calls` allow_request calls of SideThrottle (the
`commands` scope, one user) at a lifted rate, against the configured cache.

    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/throttle_check.py --calls 10000

The rate is lifted (--rate, default 1000000/min, as the HTTP benchmarks run) so every call is
allowed and the window fills with them, as a busy user's does. Prints the mean, median and
p99 ms per call and the Redis round trips per call (Redis's own count of the commands it
served, from INFO commandstats). The counters are under a fresh user id and deleted after.
Needs no database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class SendCounter:
    """Counts the packed sends of every redis-py connection: one per round trip."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self.sends = 0
        original: Any = AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            self.sends += 1
            original(connection, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rate", default="1000000/min")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from rest_framework.throttling import SimpleRateThrottle
    from rest_framework.views import APIView

    from web.throttles import SideThrottle

    SimpleRateThrottle.THROTTLE_RATES = {"commands": args.rate, "queries": args.rate}
    request = Request(APIRequestFactory().post("/api/orders/"))
    pk = uuid.uuid4().int % 10**12
    request.user = User(pk=pk)  # never saved: the throttle reads only its pk
    view = APIView()
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    counter = SendCounter()
    timings: list[float] = []
    for _ in range(args.calls):
        began = time.perf_counter()
        allowed = SideThrottle().allow_request(request, view)
        timings.append(time.perf_counter() - began)
        assert allowed, "the lifted rate refused a request"
    round_trips = counter.sends / args.calls
    keys = client.keys(f"*throttle_commands_{pk}*")
    if keys:
        client.delete(*keys)
    ms = [timing * 1000 for timing in timings]
    ordered = sorted(ms)
    print(
        f"{args.calls} checks at {args.rate}: mean {statistics.fmean(ms):.3f} ms,"
        f" median {statistics.median(ms):.3f} ms, p99 {ordered[int(len(ms) * 0.99)]:.3f} ms;"
        f" first 1000 {statistics.fmean(ms[:1000]):.3f} ms, last 1000 {statistics.fmean(ms[-1000:]):.3f} ms;"
        f" Redis round trips per check {round_trips:.2f}"
    )


if __name__ == "__main__":
    main()
