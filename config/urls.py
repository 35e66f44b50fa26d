from django.contrib import admin
from django.urls import path

from schema.view import GraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql", GraphQLView.as_view(), name="graphql"),
]
