from django.apps import AppConfig
from django.core import checks


class CalendarAppConfig(AppConfig):
    name = "calendarapp"
    verbose_name = "Calendar"

    def ready(self) -> None:
        from schema.trusted_documents import check_manifest

        checks.register(check_manifest)
