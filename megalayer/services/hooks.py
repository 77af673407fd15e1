"""What the services app asks of the apps above it (``core.hooks``): the machine behind a service
(``provisioning``) and the legal holds that may stop a deletion (``abuse``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from megalayer.audit.actions import Actor
from megalayer.core.hooks import Hook
from megalayer.services.runs import Planned
from megalayer.terms.policy import Policy

deletion_guard: Hook[[Any], object] = Hook("services.deletion_guard")
"""Before anything of a service is deleted (termination, an erasing operation): a receiver raises
``core.errors.DeletionHeld`` when a standing legal hold covers it (TOS-HOLD-1). Filled by ``abuse``."""

server_build: Hook[[Any, Actor], object] = Hook("services.server_build")
"""Place a paid service's server on a host, give it its addresses and request its creation; raises
``RuleRefused`` when no host or address is free. Exactly one receiver (``provisioning``)."""

machine_request: Hook[[Any, str, Actor, str], object] = Hook("services.machine_request")
"""Ask for a lifecycle operation on the service's server (suspend, unsuspend, destroy), with its reason.
Exactly one receiver (``provisioning``)."""

automation_steps: Hook[[dt.datetime, Policy, bool, list[str]], list[Planned]] = Hook("services.automation_steps")
"""More steps of the automation run, after the lifecycle's own: called with the run's moment, the policy in
force, whether it is a dry run (then nothing changes and the answer says what would happen) and the run's
failure list to append to. Each receiver keys its effects so a rerun or a second worker does nothing twice.
Filled by ``provisioning`` (the traffic allowance)."""
