"""ASGI entry point of the console proxy, served by granian (``megalayer console_proxy``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from megalayer.portal.console_proxy import application  # noqa: E402 (after django.setup())

__all__ = ["application"]
