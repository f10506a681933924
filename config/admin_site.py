"""The admin site, branded as the back office, its index in the domain's sections.

Staff read "Orders", "Catalog and stock" and "Operations" rather than the apps that happen
to hold the models ("Read models", "Event log"...). Only the grouping shown changes: every
model keeps its app label, so every admin URL (/admin/readmodels/ordersummary/ ...) and
every app's own index page stay as they were. Installed in place of django.contrib.admin
(settings.INSTALLED_APPS), so `admin.site` everywhere is this site.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

# Section -> the models ("app_label.model_name") or whole apps ("app_label") it shows, in order.
SECTIONS: dict[str, tuple[str, ...]] = {
    "Orders": (
        "readmodels.ordersummary",
        "readmodels.orderdetail",
        "readmodels.customerorderstats",
        "readmodels.dailysales",
    ),
    "Catalog and stock": ("readmodels.productstock", "inventory"),
    "Operations": ("fulfilment", "notifications", "projector", "integration", "eventlog", "audit"),
    "Staff and access": ("auth", "knox", "axes"),
}


def placement(app: dict[str, Any], model: dict[str, Any]) -> tuple[tuple[int, str], int]:
    """A model's section (its rank and name) and its rank within it, in SECTIONS' order; a
    model no section names stays in a section of its app's name, after the named ones."""
    app_label = app["app_label"]
    key = f"{app_label}.{model['object_name'].lower()}"
    for rank, (name, members) in enumerate(SECTIONS.items()):
        for member in (key, app_label):
            if member in members:
                return (rank, name), members.index(member)
    return (len(SECTIONS), str(app["name"])), 0


class BackOfficeAdminSite(AdminSite):
    site_header = "Order back office"
    site_title = "Back office"
    index_title = "Orders, stock and operations"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        """The index and the sidebar by section; an app's own page (`app_label`) as Django has it."""
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        sections: dict[tuple[int, str], dict[str, Any]] = {}
        for app in apps:
            for model in app["models"]:
                section, rank = placement(app, model)
                # The section links to the index of the app holding its first model.
                shown = sections.setdefault(section, {**app, "name": section[1], "models": []})
                shown["models"].append((rank, str(model["name"]), model))
        return [
            {**shown, "models": [model for *_, model in sorted(shown["models"], key=lambda entry: entry[:2])]}
            for _, shown in sorted(sections.items())
        ]


class BackOfficeAdminConfig(AdminConfig):
    default_site = "config.admin_site.BackOfficeAdminSite"
