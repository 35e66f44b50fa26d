from django.apps import AppConfig
from django.core import checks


class CalendarAppConfig(AppConfig):
    name = "calendarapp"
    verbose_name = "Calendar"

    def ready(self) -> None:
        from calendarapp.ids import check_global_id_key
        from schema.trusted_documents import check_manifest

        checks.register(check_manifest)
        checks.register(check_global_id_key, checks.Tags.security, deploy=True)
