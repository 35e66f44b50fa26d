from django.contrib import admin
from django.urls import path

from config.health import healthz, readyz
from schema.view import GraphQLView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("graphql", GraphQLView.as_view(), name="graphql"),
]
