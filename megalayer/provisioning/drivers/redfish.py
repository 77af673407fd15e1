"""Bare metal through the BMC's Redfish API (issue 19), with OpenStack Ironic's ``sushy`` client.

A Redfish "host" is a pool of physical machines of one location (a rack, a room): each machine has its own
BMC (iDRAC, iLO, XClarity, Supermicro, OpenBMC) with its own address and credentials, kept in the
platform's inventory and encrypted there, not in the host's parameters. The driver reaches a machine
through a ``MachineDirectory`` the platform hands it: which machine a server was given (allocated at order
time, never two orders one machine) and how to reach that machine's BMC. Nothing in the driver picks a
machine; it only drives the one it is told.

What the hypervisor drivers do with a disk image, this one does with the BMC's virtual media:

- **install / reinstall**: insert the operator's installer image for the OS (``installer_url`` with
  ``{image}``) and boot it once; the installer carries its answer file (preseed, kickstart, autounattend),
  partitions the disks, fetches the server's cloud-init seed from the platform (``/metal/seed/<MAC>/``:
  hostname, root password, SSH keys, the customer's user data) into the new system, and powers the machine
  off; the driver waits for that (``install_timeout``) and starts the machine from its disk;
- **rescue** and **ISO**: boot ``rescue_url`` or ``iso_url`` (``{iso}``); the rescue system fetches its
  one-time root password from the same seed;
- **wipe** at deletion: boot ``wipe_url`` (an image that erases every disk and powers the machine off when
  it has finished); destroy succeeds only when the machine is off again within ``wipe_timeout`` seconds;
  otherwise it raises and the platform puts the machine into maintenance with an alert (TOS-DEL-1 data
  really gone before another customer gets the machine);
- **suspension** powers the machine off and keeps its disks (there is no network to cut from a BMC).

A physical disk cannot be observed from the BMC, so ``disk_id`` is the system's UUID: it names the
machine, not the installation (the contract suite knows this through ``UnderTest.observes_disk``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sushy
from sushy import exceptions as sushy_errors

from megalayer.provisioning.drivers.base import (
    Bmc,
    Capability,
    Driver,
    ImageRef,
    IsoRef,
    MachineDirectory,
    MachineInventory,
    Parameter,
    PowerState,
    RetryableError,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
    TerminalError,
)

URL_TEMPLATE = r"https?://[^\s]+"


# One connection per BMC and credentials, shared by the driver instances of a process (a login is a session).
_connections: dict[tuple[str, str, bool], Any] = {}
_lock = threading.Lock()


def _value(field: Any) -> str:
    """A Redfish enumeration as its wire string: sushy gives enums for the values it knows, strings else."""
    return str(getattr(field, "value", field))


def forget_connections() -> None:
    with _lock:
        _connections.clear()


class RedfishDriver(Driver):
    name = "redfish"
    label = "Bare metal (Redfish BMC)"
    parameters = (
        Parameter(
            "installer_url",
            "Installer image URL",
            help="An ISO the BMC can fetch, {image} replaced by the OS image code; it installs unattended.",
            pattern=URL_TEMPLATE,
        ),
        Parameter("rescue_url", "Rescue image URL", required=False, pattern=URL_TEMPLATE),
        Parameter("iso_url", "Customer ISO URL", required=False, help="{iso} replaced", pattern=URL_TEMPLATE),
        Parameter(
            "wipe_url",
            "Disk wipe image URL",
            required=False,
            help="Erases every disk and powers the machine off when done.",
            pattern=URL_TEMPLATE,
        ),
        Parameter("wipe_timeout", "Wipe timeout (seconds)", required=False, default="21600", pattern=r"\d{1,6}"),
        Parameter("install_timeout", "Install timeout (seconds)", required=False, default="7200", pattern=r"\d{1,6}"),
        Parameter("power_timeout", "Power change timeout (seconds)", required=False, default="300", pattern=r"\d{1,4}"),
    )
    timeout = 60.0
    needs_inventory = True

    def check(self) -> None:
        if "{image}" not in self.params["installer_url"]:
            raise TerminalError("redfish: the installer URL must contain {image}")
        if self.params["iso_url"] and "{iso}" not in self.params["iso_url"]:
            raise TerminalError("redfish: the customer ISO URL must contain {iso}")

    @property
    def capabilities(self) -> frozenset[Capability]:
        # The seed the installer fetches carries keys, password and the customer's user data (cloud-init).
        found = {Capability.SUSPEND_POWER_OFF, Capability.CLOUD_INIT, Capability.USER_DATA, Capability.INVENTORY}
        if self.params["rescue_url"]:
            found.add(Capability.RESCUE)
        if self.params["iso_url"]:
            found.add(Capability.ISO)
        if self.params["wipe_url"]:
            found.add(Capability.WIPE)
        return frozenset(found)

    # Reaching a machine ---------------------------------------------------------------------------------------

    def _directory(self) -> MachineDirectory:
        if self.directory is None:
            raise TerminalError("redfish: the driver was built without the machine inventory")
        return self.directory

    def _bmc(self, name: str) -> Bmc:
        bmc = self._directory().machine_for(name)
        if bmc is None:
            raise ServerNotFound(f"no machine holds {name}")
        return bmc

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sushy_errors.ConnectionError as error:
            raise RetryableError(f"redfish: the BMC did not answer ({type(error).__name__})") from error
        except sushy_errors.AccessError as error:
            raise TerminalError("redfish: the BMC refused the credentials") from error
        except sushy_errors.ServerSideError as error:
            raise RetryableError(f"redfish: the BMC failed ({error.status_code})") from error
        except sushy_errors.ResourceNotFoundError as error:
            raise TerminalError("redfish: the BMC has no such system") from error
        except sushy_errors.SushyError as error:
            raise TerminalError(f"redfish: {type(error).__name__}") from error

    def _root(self, bmc: Bmc) -> Any:
        key = (bmc.url.rstrip("/"), bmc.username, bmc.verify_tls)
        with _lock:
            root = _connections.get(key)
            if root is None:
                with self._errors():
                    root = sushy.Sushy(
                        f"{key[0]}/redfish/v1/",
                        username=bmc.username,
                        password=bmc.password,
                        verify=bmc.verify_tls,
                        read_timeout=int(self.timeout),
                        connect_timeout=10,
                        server_side_retries=2,
                        server_side_retries_delay=1,
                    )
                _connections[key] = root
        return root

    def _system(self, bmc: Bmc) -> Any:
        root = self._root(bmc)
        with self._errors():
            if bmc.system:
                return root.get_system(f"/redfish/v1/Systems/{bmc.system}")
            members = root.get_system_collection().members_identities
            if len(members) != 1:
                raise TerminalError("redfish: the BMC has several systems; name the machine's system")
            return root.get_system(members[0])

    def _virtual_cd(self, bmc: Bmc, system: Any) -> Any:
        """The first virtual media slot of the system's manager that takes a CD or DVD."""
        root = self._root(bmc)
        with self._errors():
            managers = system.managers or [
                root.get_manager(m) for m in root.get_manager_collection().members_identities
            ]
            for manager in managers:
                for media in manager.virtual_media.get_members():
                    types = {_value(t) for t in media.media_types or ()}
                    if types & {"CD", "DVD"}:
                        return media
        raise TerminalError("redfish: the BMC offers no virtual CD")

    # What the machine is --------------------------------------------------------------------------------------

    def _info(self, name: str, bmc: Bmc, system: Any | None = None) -> ServerInfo:
        with self._errors():
            system = system or self._system(bmc)
            system.refresh(force=True)
            power = {
                str(sushy.PowerState.ON.value): PowerState.RUNNING,
                str(sushy.PowerState.POWERING_ON.value): PowerState.RUNNING,
                str(sushy.PowerState.OFF.value): PowerState.STOPPED,
                str(sushy.PowerState.POWERING_OFF.value): PowerState.STOPPED,
            }.get(_value(system.power_state), PowerState.UNKNOWN)
            media = self._virtual_cd(bmc, system)
            media.refresh(force=True)
            image = str(media.image or "") if media.inserted else ""
        return ServerInfo(
            name=name,
            power=power,
            image=self._code_in(self.params["installer_url"], "{image}", image),
            disk_id=str(system.uuid or ""),
            rescue=bool(self.params["rescue_url"]) and image == self.params["rescue_url"],
            iso=self._code_in(self.params["iso_url"], "{iso}", image),
        )

    @staticmethod
    def _code_in(template: str, placeholder: str, url: str) -> str:
        if not template or not url:
            return ""
        head, _, tail = template.partition(placeholder)
        if url.startswith(head) and url.endswith(tail) and len(url) > len(head) + len(tail):
            return url[len(head) : len(url) - len(tail)]
        return ""

    def read_inventory(self, bmc: Bmc) -> MachineInventory:
        """The hardware as the BMC reports it (before the machine is given out, or to check a profile)."""
        with self._errors():
            system = self._system(bmc)
            processors = system.processors.get_members() if system.processors else []
            # Cores as sold (a profile says cores); a BMC that reports only threads counts those.
            cores = sum(int(p.total_cores or p.total_threads or 0) for p in processors)
            macs = tuple(sorted(str(m).lower() for m in (system.ethernet_interfaces.summary or {})))
            memory = system.memory_summary.size_gib if system.memory_summary else 0
            return MachineInventory(
                uuid=str(system.uuid or ""),
                manufacturer=str(system.manufacturer or ""),
                model=str(system.model or ""),
                serial=str(system.serial_number or ""),
                cpu_cores=cores,
                memory_gib=Decimal(str(memory or 0)),
                macs=macs,
            )

    # Power ----------------------------------------------------------------------------------------------------

    def _wait_power(self, system: Any, want: str, timeout: float) -> bool:
        def reached() -> bool | None:
            system.refresh(force=True)
            return True if _value(system.power_state) == want else None

        return bool(self.wait_for(reached, timeout=timeout, interval=0.5))

    def _reset(self, system: Any, reset: Any) -> None:
        with self._errors():
            system.reset_system(reset)

    def _power(self, name: str, on: bool, *, soft_timeout: float = 0.0) -> ServerInfo:
        bmc = self._bmc(name)
        system = self._system(bmc)
        limit = float(self.seconds("power_timeout"))
        with self._errors():
            system.refresh(force=True)
            now = _value(system.power_state)
            if on and now != sushy.PowerState.ON.value:
                self._reset(system, sushy.ResetType.ON)
                if not self._wait_power(system, sushy.PowerState.ON.value, limit):
                    raise RetryableError(f"redfish: {name} did not power on")
            if not on and now != sushy.PowerState.OFF.value:
                if soft_timeout > 0:
                    self._reset(system, sushy.ResetType.GRACEFUL_SHUTDOWN)
                    if self._wait_power(system, sushy.PowerState.OFF.value, soft_timeout):
                        return self._info(name, bmc, system)
                self._reset(system, sushy.ResetType.FORCE_OFF)
                if not self._wait_power(system, sushy.PowerState.OFF.value, limit):
                    raise RetryableError(f"redfish: {name} did not power off")
        return self._info(name, bmc, system)

    def power_on(self, name: str) -> ServerInfo:
        return self._power(name, True)

    def power_off(self, name: str, *, soft_timeout: float = 60.0) -> ServerInfo:
        return self._power(name, False, soft_timeout=soft_timeout)

    def reboot(self, name: str) -> ServerInfo:
        bmc = self._bmc(name)
        system = self._system(bmc)
        with self._errors():
            system.refresh(force=True)
            if _value(system.power_state) == sushy.PowerState.ON.value:
                self._reset(system, sushy.ResetType.FORCE_RESTART)
        return self._power(name, True)

    # Booting media --------------------------------------------------------------------------------------------

    def _boot_from(self, name: str, url: str | None) -> ServerInfo:
        """Insert ``url`` (or eject, for None), boot once from it (or from the disk) and start the machine."""
        bmc = self._bmc(name)
        system = self._system(bmc)
        media = self._virtual_cd(bmc, system)
        self._power(name, False)
        with self._errors():
            media.refresh(force=True)
            if media.inserted:
                media.eject_media()
            if url:
                media.insert_media(url, inserted=True, write_protected=True)
                system.set_system_boot_options(target=sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
            else:
                system.set_system_boot_options(
                    target=sushy.BootSource.HDD, enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS
                )
        return self._power(name, True)

    def _installer(self, image: ImageRef) -> str:
        return self.params["installer_url"].replace("{image}", image.code)

    def _run_to_the_end(self, name: str, url: str, timeout: str, what: str) -> None:
        """Boot an image that does its work and powers the machine off when it has finished (an unattended
        installer, the wipe image); wait for that power-off. Not finishing in time is for a person to see."""
        self._boot_from(name, url)
        system = self._system(self._bmc(name))
        if not self._wait_power(system, sushy.PowerState.OFF.value, float(self.seconds(timeout))):
            raise TerminalError(f"redfish: {what} of {name} did not finish within {self.params[timeout]} s")

    def _start_from_disk(self, name: str) -> ServerInfo:
        system = self._system(self._bmc(name))
        with self._errors():
            system.set_system_boot_options(
                target=sushy.BootSource.HDD, enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS
            )
        return self._power(name, True)

    def _install(self, name: str, image: ImageRef) -> ServerInfo:
        """The installer runs (it fetches the server's cloud-init seed from the platform: hostname, root
        password, keys, user data) and powers off; the machine then starts from its disk. The installer stays
        in the virtual CD, which is how ``state`` tells the installed image."""
        self._run_to_the_end(name, self._installer(image), "install_timeout", "the installation")
        return self._start_from_disk(name)

    # The contract ---------------------------------------------------------------------------------------------

    def create(self, spec: ServerSpec) -> ServerInfo:
        """Install the OS on the machine reserved for ``spec.name``. A create retried after the install
        finished (the machine runs from its disk with that image's installer in the CD) returns the machine
        as it is; one retried before starts the install afresh on the same machine."""
        bmc = self._directory().machine_for(spec.name)
        if bmc is None:
            raise TerminalError(f"redfish: no machine is reserved for {spec.name}")
        info = self._info(spec.name, bmc)
        if info.image == spec.image.code and info.power == PowerState.RUNNING:
            with self._errors():
                target = self._system(bmc).boot.target
            if _value(target) == sushy.BootSource.HDD.value:
                return info
        return self._install(spec.name, spec.image)

    def reinstall(
        self,
        name: str,
        image: ImageRef,
        *,
        root_password: str = "",
        ssh_keys: tuple[str, ...] = (),
        user_data: str = "",
    ) -> ServerInfo:
        """The password, keys and user data reach the new system through the platform's seed, which the
        installer fetches while this operation runs (not through the BMC)."""
        self._bmc(name)
        return self._install(name, image)

    def destroy(self, name: str, *, wipe: bool = True) -> bool:
        """Power off, wipe every disk (when a wipe image is configured) and hand the machine back. The wipe
        must finish (the image powers the machine off) before the machine is released; a wipe that does not
        finish raises, and the machine stays held (the platform marks it for maintenance)."""
        bmc = self._directory().machine_for(name)
        if bmc is None:
            return False  # gone already
        wiped = False
        if wipe and self.params["wipe_url"]:
            self._run_to_the_end(name, self.params["wipe_url"], "wipe_timeout", "the disk wipe")
            wiped = True
        self._power(name, False)
        with self._errors():
            media = self._virtual_cd(bmc, self._system(bmc))
            media.refresh(force=True)
            if media.inserted:
                media.eject_media()
        self._directory().release(name, wiped=wiped)
        return wiped

    def state(self, name: str) -> ServerInfo:
        return self._info(name, self._bmc(name))

    def list_servers(self) -> list[ServerInfo]:
        return [self._info(name, bmc) for name, bmc in sorted(self._directory().machines().items())]

    def suspend(self, name: str) -> ServerInfo:
        """Power the machine off; its disks are kept (TOS-SUSP-1). The BMC cannot cut the network alone."""
        return self._power(name, False)

    def resume(self, name: str) -> ServerInfo:
        return self._power(name, True)

    def rescue_enter(self, name: str, *, root_password: str) -> ServerInfo:
        """Boot the operator's rescue image (it takes its root password from the platform's rescue
        endpoint, as installers take their answer file); the disks are untouched."""
        self.require(Capability.RESCUE)
        return self._boot_from(name, self.params["rescue_url"])

    def rescue_exit(self, name: str) -> ServerInfo:
        self.require(Capability.RESCUE)
        return self._boot_from(name, None)

    def iso_insert(self, name: str, iso: IsoRef) -> ServerInfo:
        self.require(Capability.ISO)
        return self._boot_from(name, self.params["iso_url"].replace("{iso}", iso.code))

    def iso_eject(self, name: str) -> ServerInfo:
        self.require(Capability.ISO)
        return self._boot_from(name, None)
