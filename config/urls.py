"""URL wiring: the admin, the API (tokens from accounts/, commands from orders/, queries from
readmodels/), its schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts
from integration.admin import inbound_dead_letters_view
from integration.api import AsyncApiView
from inventory.api import views as product_commands
from monitoring import views as monitoring
from orders.api import views as commands
from projector.admin import projection_status_view
from readmodels.admin.dashboard import dashboard_view
from readmodels.api import history as history_queries
from readmodels.api import products as product_queries
from readmodels.api import sales as sales_queries
from readmodels.api import views as queries


class OrderCollectionView(commands.CreateOrderView, queries.OrderListView):
    """/api/orders/: GET lists orders (read side), POST places one (write side)."""


class ProductCollectionView(product_commands.RegisterProductView, product_queries.ProductListView):
    """/api/products/: GET lists product stock (read side), POST registers a product (write side)."""


ORDER = "api/orders/<str:order_id>/"
PRODUCT = "api/products/<str:sku>/"

# Unknown paths, refused requests and crashes under /api/ answer problem+json, never an HTML
# page (Django calls these handlers without DEBUG, the default everywhere but `make run`).
handler400 = "web.errors.bad_request"
handler404 = "web.errors.not_found"
handler500 = "web.errors.server_error"

urlpatterns = [
    path("health/live", monitoring.live, name="health-live"),
    path("health/ready", monitoring.ready, name="health-ready"),
    path("metrics", monitoring.metrics, name="metrics"),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/projections/", admin.site.admin_view(projection_status_view), name="admin-projections"),
    path("admin/inbound/", admin.site.admin_view(inbound_dead_letters_view), name="admin-inbound-dead-letters"),
    # The admin's command pages (each context's: orders/admin, inventory/admin): ahead of the site's own URLs.
    path("admin/orders/", include("orders.admin.urls")),
    path("admin/products/", include("inventory.admin.adjust")),
    path("admin/", admin.site.urls),
    path("api/auth/token/", accounts.TokenView.as_view(), name="api-token"),
    path("api/auth/logout/", accounts.RevokeTokenView.as_view(), name="api-logout"),
    path("api/auth/logout-all/", accounts.RevokeAllTokensView.as_view(), name="api-logout-all"),
    path("api/orders/", OrderCollectionView.as_view(), name="orders"),
    path(ORDER, queries.OrderDetailView.as_view(), name="order-detail"),
    path(ORDER + "history/", history_queries.OrderHistoryView.as_view(), name="order-history"),
    path(ORDER + "items/", commands.AddOrderItemView.as_view(), name="order-add-item"),
    path(ORDER + "items/<str:sku>/", commands.RemoveOrderItemView.as_view(), name="order-remove-item"),
    path(ORDER + "confirm/", commands.ConfirmOrderView.as_view(), name="order-confirm"),
    path(ORDER + "pay/", commands.PayOrderView.as_view(), name="order-pay"),
    path(ORDER + "ship/", commands.ShipOrderView.as_view(), name="order-ship"),
    path(ORDER + "deliver/", commands.DeliverOrderView.as_view(), name="order-deliver"),
    path(ORDER + "cancel/", commands.CancelOrderView.as_view(), name="order-cancel"),
    path(ORDER + "refund/", commands.RefundOrderView.as_view(), name="order-refund"),
    path(ORDER + "return/", commands.ReturnOrderView.as_view(), name="order-return"),
    path(ORDER + "address/", commands.ChangeShippingAddressView.as_view(), name="order-change-address"),
    path("api/sales/daily/", sales_queries.DailySalesView.as_view(), name="daily-sales"),
    path("api/products/", ProductCollectionView.as_view(), name="products"),
    path(PRODUCT, product_queries.ProductDetailView.as_view(), name="product-detail"),
    path(PRODUCT + "receive/", product_commands.ReceiveStockView.as_view(), name="product-receive"),
    path(PRODUCT + "adjust/", product_commands.AdjustStockView.as_view(), name="product-adjust"),
    path(PRODUCT + "rename/", product_commands.RenameProductView.as_view(), name="product-rename"),
    path("api/customers/<str:customer_id>/stats/", queries.CustomerStatsView.as_view(), name="customer-stats"),
    path("api/customers/<str:customer_id>/forget/", commands.ForgetCustomerView.as_view(), name="customer-forget"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/asyncapi.yaml", AsyncApiView.as_view(), name="asyncapi"),
]
