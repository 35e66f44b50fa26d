"""The web process's settings for the HTTP bench (bench/http_load.py): production's, with the
floor's endpoint added beside /graphql (bench/urls.py).

Only the bench chooses them, with DJANGO_SETTINGS_MODULE=bench.settings in the environment of
the web process it starts; production never names this module, so /bench/floor/ exists only
there. Everything else (middleware, request log, gunicorn's configuration, the Procfile's
`web:` line) is production's, so ours and the floor are served the same way.
"""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
