"""The adjust-stock form: its fields only size the inputs, the API's AdjustStockIn decides
what is accepted. No bus here, so the read side may show the form."""

from __future__ import annotations

from django import forms

from inventory.events import MAX_ADJUSTMENT_REASON


class AdjustStockForm(forms.Form):
    """Units counted in (positive) or out (negative), and why; the API's rules check them."""

    quantity_delta = forms.CharField(label="quantity change", help_text="e.g. -3 for three damaged units")
    reason = forms.CharField(max_length=MAX_ADJUSTMENT_REASON, help_text="a count, damaged, lost...")
