"""`manage.py verify` and `manage.py seed_demo` as the tests run them: through call_command, with
what they print captured, and verify's exit status returned rather than raised."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError

CLEAN = "The books verify: no divergence.\n"


def verify(*args: str) -> tuple[int, str]:
    """Run `manage.py verify` with `args` (not waiting for a live projection): its exit status
    and what it printed."""
    out = StringIO()
    try:
        call_command("verify", *args, "--wait", "0", stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def verify_checks(*checks: str) -> tuple[int, str]:
    """`verify` of the named checks only."""
    return verify(*[argument for check in checks for argument in ("--check", check)])


def seed_demo(**options: object) -> None:
    """Run `manage.py seed_demo` with `options`, its progress and report kept quiet."""
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO(), **options)
