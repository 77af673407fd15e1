"""Queue entry points of services: thin, take ids, safe to run twice."""

from __future__ import annotations

from django.tasks import task

from megalayer.services.actions import service_provision
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service


@task()
def service_provision_task(service_id: int) -> str:
    return service_provision(service=Service.objects.get(pk=service_id)).status


@task()
def automation_run_task() -> dict[str, int]:

    return automation_run().counts()
