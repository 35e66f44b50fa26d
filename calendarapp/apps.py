from django.apps import AppConfig
from django.core import checks


class CalendarAppConfig(AppConfig):
    name = "calendarapp"
    verbose_name = "Calendar"

    def ready(self) -> None:
        from schema.ids import check_global_id_key

        checks.register(check_global_id_key, checks.Tags.security, deploy=True)
