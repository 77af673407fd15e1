"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every request, answers with the codes
it is told to (then 200), and "handles" an event at most once, keyed by its idempotency header, as the
operators' receivers are told to (docs/operations.md, "Outgoing webhooks")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    handled: list[str] = field(default_factory=list)  # event ids, each once
    answers: list[int] = field(default_factory=list)  # status codes to give first, in order
    hold: threading.Event | None = None  # set: a request waits until it is released
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> list[str]:
        return [r.headers["Megalayer-Event-Id"] for r in self.requests]


def serve() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.requests.append(Received(dict(self.headers.items()), body))
                code = receiver.answers.pop(0) if receiver.answers else 200
            if receiver.hold is not None:
                receiver.arrived.set()
                receiver.release.wait(timeout=300)
            if 200 <= code < 300:
                with receiver.lock:
                    key = self.headers["Idempotency-Key"]
                    if key not in receiver.handled:
                        receiver.handled.append(key)
            try:
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender is gone (killed mid-request)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
