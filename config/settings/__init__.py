"""Settings: `base` holds what every environment shares; `dev`, `test` and
`production` add what differs. Pick one with DJANGO_SETTINGS_MODULE."""
