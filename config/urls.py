from django.contrib import admin
from django.urls import path

from config.health import healthz, readyz  # answered by config.health.HealthProbeMiddleware first
from schema.downloads import download_export
from schema.view import GraphQLView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("graphql", GraphQLView.as_view(), name="graphql"),
    path("exports/<str:job_id>/download", download_export, name="export-download"),
]

# JSON errors for the API's clients, Django's pages for the admin (config/error_views.py).
handler400 = "config.error_views.bad_request"
handler403 = "config.error_views.permission_denied"
handler404 = "config.error_views.page_not_found"
handler500 = "config.error_views.server_error"
