"""The forms of the order commands, and which actions an order's status allows with the
permission each needs.

The order page (readmodels/admin) shows a button for an action only when the order's
status allows it and the user holds the permission of the API endpoint that sends the same
command (orders/api/permissions.py); the views (orders/admin/actions.py) check the
permission again, and the aggregate decides: a stale page gets the domain's refusal. No
bus here, so the read side may import it and still never send a command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import formset_factory
from django.urls import reverse

from orders.addresses import CITY_LENGTH, LINE_LENGTH, NAME_LENGTH, POSTAL_CODE_LENGTH, PaymentMethod
from orders.api.permissions import CANCEL, FULFIL, PLACE, REFUND, RETURN
from orders.state import BEFORE_SHIPMENT, CANCELLABLE, OrderStatus


class PhoneOrderForm(forms.Form):
    """Who orders, and how they pay (checked by CreateOrderIn when sent). The hidden order id
    is chosen when the form is shown, so sending the form twice names the same order (the
    second is refused: it exists)."""

    order_id = forms.UUIDField(widget=forms.HiddenInput)
    customer_id = forms.CharField(required=False)
    customer_email = forms.CharField(required=False, label="e-mail")
    currency = forms.CharField(required=False, initial="EUR")
    payment_method = forms.CharField(
        required=False,
        widget=forms.Select(choices=[("", "-")] + [(method.value, method.value) for method in PaymentMethod]),
    )


class AddressForm(forms.Form):
    """A shipping address; its rules are the API's (AddressIn), checked when it is sent, so
    the fields here only size the inputs."""

    name = forms.CharField(max_length=NAME_LENGTH, required=False)
    line1 = forms.CharField(max_length=LINE_LENGTH, required=False)
    line2 = forms.CharField(max_length=LINE_LENGTH, required=False)
    postal_code = forms.CharField(max_length=POSTAL_CODE_LENGTH, required=False)
    city = forms.CharField(max_length=CITY_LENGTH, required=False)
    country = forms.CharField(max_length=2, required=False, help_text="ISO 3166-1 alpha-2, e.g. DE")


class LineForm(forms.Form):
    """One order line; a line left blank is no line."""

    sku = forms.CharField(max_length=64, required=False)
    quantity = forms.CharField(required=False)
    unit_price = forms.CharField(required=False)


LineFormSet = formset_factory(LineForm, extra=3)


class PayForm(forms.Form):
    payment_id = forms.CharField(max_length=255, label="payment id")
    # No digits of its own: how many decimals the currency has is the API's rule (PayOrderIn).
    amount = forms.DecimalField(label="amount")


class ShipForm(forms.Form):
    tracking_number = forms.CharField(max_length=255, label="tracking number")
    carrier = forms.CharField(max_length=64, required=False)


class RefundForm(forms.Form):
    refund_id = forms.CharField(max_length=255, label="refund id")
    # No digits of its own: the currency's decimals are the API's rule (RefundOrderIn).
    amount = forms.DecimalField(label="amount")


class ReturnForm(forms.Form):
    """Why the goods come back and whether they go back on the shelf; how many of each
    line is asked beside each line (`return-<sku>`)."""

    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 30}))
    restock = forms.BooleanField(required=False, initial=True, label="back in stock")


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 40}))


@dataclass(frozen=True)
class OrderAction:
    """One button on the order page: the URL name it posts to, its label, the permission of
    the API endpoint sending the same command, the statuses it is offered in, and the
    fields it asks for (none: a plain button)."""

    name: str
    label: str
    permission: str
    statuses: frozenset[str]
    form: type[forms.Form] | None = None
    # A page of its own (the address form) instead of a form on the order page.
    own_page: bool = False
    # Offered whatever the status while the order owes money back (a refund), and only then.
    when_owed: bool = False

    def offered(self, status: str, user: Any, owed: bool = False) -> bool:
        allowed = owed if self.when_owed else status in self.statuses
        return allowed and bool(user.has_perm(self.permission))


ACTIONS: tuple[OrderAction, ...] = (
    OrderAction("confirm", "Confirm", PLACE, frozenset({OrderStatus.PENDING})),
    OrderAction("pay", "Record payment", FULFIL, frozenset({OrderStatus.CONFIRMED}), PayForm),
    OrderAction("ship", "Ship", FULFIL, frozenset({OrderStatus.PAID}), ShipForm),
    OrderAction("deliver", "Mark delivered", FULFIL, frozenset({OrderStatus.SHIPPED})),
    OrderAction("cancel", "Cancel", CANCEL, frozenset(CANCELLABLE), CancelForm),
    OrderAction("address", "Change address", PLACE, frozenset(BEFORE_SHIPMENT), own_page=True),
    OrderAction("refund", "Record refund paid", REFUND, frozenset(), RefundForm, when_owed=True),
    OrderAction("return", "Record return", RETURN, frozenset({OrderStatus.DELIVERED}), ReturnForm),
)
BY_NAME = {action.name: action for action in ACTIONS}


def offered_actions(status: str, user: Any, owed: bool = False) -> list[OrderAction]:
    """The actions `user` may take on an order in `status` (`owed`: it owes money back), in
    the page's order."""
    return [action for action in ACTIONS if action.offered(status, user, owed)]


def action_url(action: OrderAction, order_id: object) -> str:
    """Where the action's button posts (or, for the address, the page it opens)."""
    return reverse(f"admin-order-{action.name}", args=[order_id])
