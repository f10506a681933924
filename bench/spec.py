"""The standard order workload as plain data, shared by our bench and the peer's (no Django here).

N orders; order i belongs to customer ``c-<i mod 100>``, has 3 lines (sku, quantity 1..5,
unit price "x.yz") in EUR, and goes CreateOrder -> ConfirmOrder -> PayOrder(total) -> ShipOrder.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

COMMANDS_PER_ORDER = 4
STATUSES = ("PENDING", "CONFIRMED", "PAID", "SHIPPED")


@dataclass(frozen=True, slots=True)
class LineSpec:
    """One order line."""

    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """Everything the four commands of one order need."""

    index: int
    order_id: UUID
    customer_id: str
    currency: str
    lines: tuple[LineSpec, ...]
    payment_id: str
    tracking_number: str
    carrier: str

    @property
    def total(self) -> Decimal:
        """Sum of quantity x unit price over the lines."""
        return sum((line.quantity * line.unit_price for line in self.lines), Decimal("0.00"))


def order_specs(orders: int, seed: int, offset: int = 0) -> Iterator[OrderSpec]:
    """`orders` deterministic order specs (same seed, same orders, in both implementations)."""
    rng = random.Random(seed)
    for index in range(offset, offset + orders):
        lines = tuple(
            LineSpec(
                sku=f"SKU-{rng.randrange(1000):03d}-{n}",
                quantity=rng.randint(1, 5),
                unit_price=Decimal(rng.randint(100, 9999)) / 100,
            )
            for n in range(3)
        )
        yield OrderSpec(
            index=index,
            order_id=UUID(int=rng.getrandbits(128), version=4),
            customer_id=f"c-{index % 100}",
            currency="EUR",
            lines=lines,
            payment_id=f"pay-{index}",
            tracking_number=f"TRK-{index:08d}",
            carrier="DHL",
        )


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_figures(latencies_ms: list[float], seconds: float, unit: str) -> dict[str, float]:
    """Throughput and p50/p99/max of a run of operations, rounded for reports."""
    ordered = sorted(latencies_ms)
    return {
        f"{unit}_per_s": round(len(ordered) / seconds, 1) if seconds else 0.0,
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3) if ordered else 0.0,
        "p99_ms": round(percentile(ordered, 0.99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else 0.0,
    }
