"""The registry of projections: every consumer of the event log the projector feeds.

Read models, and two consumers that live in their own packages because they act on the
world: the fulfilment process manager (sends commands) and notifications (owes emails).
Both reuse the partitions, checkpoints, doorbells and dead letters.
"""

from __future__ import annotations

from django.conf import settings

from fulfilment.manager import FulfilmentProcessManager
from notifications.projection import NotificationsProjection
from readmodels.projections.base import Projection
from readmodels.projections.orders import OrdersProjection
from readmodels.projections.products import ProductsProjection
from readmodels.projections.sales import SalesProjection


def all_projections() -> dict[str, Projection]:
    """Each projection by name, in the order they are run."""
    projections: list[Projection] = [
        OrdersProjection(),
        SalesProjection(),
        ProductsProjection(),
        FulfilmentProcessManager(),
        NotificationsProjection(),
    ]
    # Integration (issue 12): the outbound relay, only when a broker for it is configured.
    if settings.INTEGRATION_BROKER_URL:
        from integration.relay import RelayProjection

        projections.append(RelayProjection())
    return {projection.name: projection for projection in projections}
