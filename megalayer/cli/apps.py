from django.apps import AppConfig


class CliConfig(AppConfig):
    """The ``megalayer`` command's face: the management commands that span apps (demo, serve, run, worker)."""

    name = "megalayer.cli"
    label = "cli"
