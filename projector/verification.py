"""Checking the books (`manage.py verify`): every check says what diverges, or nothing.

The guarantee: a system whose read models, relay, forgetting and audit trail keep their
promises verifies with no divergence, and each broken promise is reported by name (the table
and row key, the event position, the customer, the command). Each check is a function
`check(options) -> list[Divergence]` named by dotted path in settings.VERIFY_CHECKS, like
settings.PROJECTIONS, so this engine imports none of the packages whose books it checks:

* read-models (projector/comparison.py): each rebuildable projection's tables equal a fresh
  replay of the log, compared at the same log position;
* relay (integration/verification.py): every public event was published;
* forgotten (readmodels/verification.py): nothing of a forgotten customer is readable;
* audit (audit/verification.py): every committed command has its audit row.
* stock (readmodels/stock_balance.py): each product's on hand and reserved balance with its
  stream's movements;
* reservations (fulfilment/verification.py): no stock stays reserved for an order whose
  fulfilment ended;
* sales (readmodels/sales_balance.py): each day's revenue, what cancellations owed back and
  the refunds paid are what that day's events say;
* refunds (readmodels/refund_balance.py): every refund due is paid or listed as owed.

Checks only read, except the read-model check, which builds its fresh copy in shadow tables
(or in a transaction it rolls back) and never changes a live row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True, slots=True)
class Divergence:
    """One broken promise: which check found it, what it concerns, and how it diverges."""

    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Options:
    """What a check is given: the projections to compare (all rebuildable ones if empty), and
    how long a check may wait for a live consumer to reach the position it compares at."""

    projections: tuple[str, ...] = field(default=())
    wait_seconds: float = 60.0


Check = Callable[[Options], list[Divergence]]


def all_checks() -> dict[str, Check]:
    """Each check of settings.VERIFY_CHECKS by name, in order."""
    return {name: import_string(path) for name, path in settings.VERIFY_CHECKS.items()}


def verify(names: Iterable[str] = (), options: Options | None = None) -> list[Divergence]:
    """Run the named checks (all if none) in settings' order; KeyError for an unknown name."""
    checks = all_checks()
    wanted = list(names) or list(checks)
    unknown = sorted(set(wanted) - set(checks))
    if unknown:
        raise KeyError(f"Unknown check(s): {', '.join(unknown)}; known: {', '.join(checks)}")
    options = options or Options()
    found: list[Divergence] = []
    for name in checks:
        if name in wanted:
            found += checks[name](options)
    return found
