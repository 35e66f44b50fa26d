from django.contrib import admin
from django.urls import path

from config.health import healthz, readyz
from schema.downloads import download_export
from schema.view import GraphQLView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("graphql", GraphQLView.as_view(), name="graphql"),
    path("exports/<str:job_id>/download", download_export, name="export-download"),
]
