from django.apps import AppConfig


class CalendarAppConfig(AppConfig):
    name = "calendarapp"
    verbose_name = "Calendar"
