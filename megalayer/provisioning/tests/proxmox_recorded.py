"""A local HTTPS server answering the Proxmox VE API the driver uses, with the recorded response bodies of
``fixtures/proxmox/samples.json``. Proxmox's servers are outside this machine, so this is the one place
the platform's tests stand in for a hypervisor; it keeps just enough state (VMs, snapshots, tasks) for the
contract suite, and answers errors as Proxmox does (HTTP 500 with the reason in the status line)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SAMPLES: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "proxmox" / "samples.json").read_text())
TOKEN = "PVEAPIToken=root@pam!megalayer=3f1c8a9e-7b2d-4c61-9e0a-5d4b2f6a8c17"


class ProxmoxState:
    def __init__(self) -> None:
        self.vms: dict[int, dict[str, Any]] = {}
        self.backups: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        for vmid, name in ((9000, "debian-12"), (9001, "ubuntu-24-04")):
            self.vms[vmid] = {
                "name": name,
                "template": 1,
                "status": "stopped",
                "paused": False,
                "snapshots": [],
                "config": {
                    **copy.deepcopy(SAMPLES["config"]),
                    "name": name,
                    "scsi0": f"local-lvm:base-{vmid}-disk-0,size=2G",
                },
            }

    def upid(self, kind: str, vmid: int) -> str:
        return str(SAMPLES["task_upid"]).replace("qmclone:9000", f"{kind}:{vmid}")


class Handler(BaseHTTPRequestHandler):
    state: ProxmoxState
    node = "pve1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: Any, reason: str | None = None) -> None:
        body = json.dumps({"data": data}).encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _params(self) -> dict[str, str]:
        query = dict(parse_qsl(urlsplit(self.path).query))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                query.update({k: str(v) for k, v in json.loads(raw).items()})
            else:
                query.update(dict(parse_qsl(raw, keep_blank_values=True)))
        return query

    def _handle(self, method: str) -> None:
        if self.headers.get("Authorization") != TOKEN:
            self._send(401, None, "authentication failure")
            return
        path = urlsplit(self.path).path.removeprefix("/api2/json")
        params = self._params()
        with self.state.lock:
            self.state.requests.append((method, path))
            try:
                status, data = self._route(method, path, params)
            except KeyError as missing:
                self._send(
                    500, None, f"Configuration file 'nodes/{self.node}/qemu-server/{missing}.conf' does not exist"
                )
                return
        self._send(status, data)

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    def _route(self, method: str, path: str, p: dict[str, str]) -> tuple[int, Any]:
        s = self.state
        if path == "/cluster/resources":
            rows = []
            for vmid, vm in sorted(s.vms.items()):
                row = {
                    **SAMPLES["cluster_resource_vm"],
                    "id": f"qemu/{vmid}",
                    "vmid": vmid,
                    "name": vm["name"],
                    "status": vm["status"],
                    "template": vm["template"],
                    "tags": vm["config"].get("tags", ""),
                }
                rows.append(row)
            return 200, rows
        if path == "/cluster/nextid":
            return 200, str(max([99, *[v for v in s.vms if v < 9000]]) + 1)
        match = re.fullmatch(rf"/nodes/{self.node}/tasks/([^/]+)/status", path)
        if match:
            return 200, {**SAMPLES["task_status"], "upid": match.group(1)}
        if path == f"/nodes/{self.node}/vzdump" and method == "POST":
            vmid = int(p["vmid"])
            s.vms[vmid]
            stamp = dt.datetime.now(dt.UTC)
            s.backups.append(
                {
                    **SAMPLES["storage_backup"],
                    "vmid": vmid,
                    "notes": p.get("notes-template", ""),
                    "ctime": int(stamp.timestamp()),
                    "volid": f"local:backup/vzdump-qemu-{vmid}-{stamp:%Y_%m_%d-%H_%M_%S}.vma.zst",
                }
            )
            return 200, s.upid("vzdump", vmid)
        match = re.fullmatch(rf"/nodes/{self.node}/storage/([^/]+)/content", path)
        if match:
            return 200, [b for b in s.backups if str(b["vmid"]) == p.get("vmid", str(b["vmid"]))]
        match = re.fullmatch(rf"/nodes/{self.node}/qemu/(\d+)(/.*)?", path)
        if not match:
            return 501, None
        vmid, rest = int(match.group(1)), match.group(2) or ""
        if rest == "/clone" and method == "POST":
            template = s.vms[vmid]
            newid = int(p["newid"])
            config = {
                **copy.deepcopy(SAMPLES["config"]),
                "name": p["name"],
                "scsi0": f"{p.get('storage', 'local-lvm')}:vm-{newid}-disk-0,size=2G",
                "description": "",
            }
            config["net0"] = template["config"]["net0"]
            s.vms[newid] = {
                "name": p["name"],
                "template": 0,
                "status": "stopped",
                "paused": False,
                "snapshots": [],
                "config": config,
            }
            return 200, s.upid("qmclone", vmid)
        vm = s.vms[vmid]
        if rest == "" and method == "DELETE":
            del s.vms[vmid]
            return 200, s.upid("qmdestroy", vmid)
        if rest == "/config":
            if method == "GET":
                return 200, {**vm["config"], "digest": SAMPLES["config"]["digest"]}
            for key, value in p.items():
                vm["config"][key] = int(value) if key in ("cores",) else value
            return 200, None
        if rest == "/resize":
            disk = vm["config"]["scsi0"].rsplit(",size=", 1)[0]
            vm["config"]["scsi0"] = f"{disk},size={p['size']}"
            return 200, None
        if rest == "/status/current":
            return 200, {
                **SAMPLES["status_current"],
                "vmid": vmid,
                "name": vm["name"],
                "status": vm["status"],
                "qmpstatus": "paused" if vm["paused"] else vm["status"],
            }
        if rest.startswith("/status/"):
            action = rest.rsplit("/", 1)[1]
            vm["status"] = "running" if action in ("start", "reboot") else "stopped"
            return 200, s.upid(f"qm{action}", vmid)
        if rest == "/snapshot":
            if method == "GET":
                return 200, [*vm["snapshots"], SAMPLES["snapshot_current"]]
            vm["snapshots"].append(
                {**SAMPLES["snapshot"], "name": p["snapname"], "snaptime": int(dt.datetime.now(dt.UTC).timestamp())}
            )
            return 200, s.upid("qmsnapshot", vmid)
        match = re.fullmatch(r"/snapshot/([^/]+)(/rollback)?", rest)
        if match:
            names = [x["name"] for x in vm["snapshots"]]
            if match.group(1) not in names:
                return 500, None
            if match.group(2):
                return 200, s.upid("qmrollback", vmid)
            vm["snapshots"] = [x for x in vm["snapshots"] if x["name"] != match.group(1)]
            return 200, s.upid("qmdelsnapshot", vmid)
        if rest == "/rrddata":
            base = int(dt.datetime.now(dt.UTC).timestamp()) // 1800 * 1800
            return 200, [{**SAMPLES["rrddata_row"], "time": base - 1800 * i} for i in range(48, -1, -1)]
        return 501, None


def _certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pve1.test")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def recorded_proxmox() -> Iterator[dict[str, str]]:
    """Serve the recorded API on an ephemeral HTTPS port; yields the driver parameters for it."""
    state = ProxmoxState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = _certificate(Path(tmp))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield {
                "host": f"127.0.0.1:{server.server_address[1]}",
                "node": "pve1",
                "token_name": "megalayer",
                "token_value": TOKEN.rsplit("=", 1)[1],
                "verify_ssl": str(cert),  # the server's own certificate as the CA: TLS verified
                "poll_interval": "0",
            }
        finally:
            server.shutdown()
            server.server_close()
