#!/usr/bin/env python3
"""FastNetMon notify script → Megalayer's attack-alarm hook (standard library only).

Configure FastNetMon with ``notify_script_path = /usr/local/bin/megalayer-notify.py``
and set MEGALAYER_HOOK_URL (https://panel.example.net/api/v1/hooks/attack-alarms) and
MEGALAYER_ATTACK_HOOK_SECRET in its environment. FastNetMon calls the script as

    notify.py <ip> <incoming|outgoing> <packets per second> <ban|unban>

with the attack details on standard input. The script signs the alert the way the
platform checks it (t=<time>,v1=HMAC-SHA256 of "<time>.<body>") and retries a few
times with the same event id, which the platform processes once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
import uuid


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    ip, direction, pps, action = argv[1:5]
    details = "" if sys.stdin.isatty() else sys.stdin.read()[:20000]
    body = json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "ip": ip,
            "direction": direction,
            "action": action,
            "pps": int(float(pps or 0)),
            "bps": 0,  # the platform reads the bandwidth from the details, in whatever unit FastNetMon printed
            "details": details,
        }
    ).encode()
    url, secret = os.environ["MEGALAYER_HOOK_URL"], os.environ["MEGALAYER_ATTACK_HOOK_SECRET"]
    if not url.startswith(("https://", "http://")):
        print("MEGALAYER_HOOK_URL must be an http(s) URL", file=sys.stderr)
        return 2
    for attempt in range(5):
        stamp = int(time.time())
        signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(  # noqa: S310 - checked above: http(s) only
            url,
            data=body,
            headers={"Content-Type": "application/json", "X-Megalayer-Signature": f"t={stamp},v1={signature}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the operator's own URL
                print(response.read().decode())
                return 0
        except OSError as error:
            print(f"attempt {attempt + 1}: {error}", file=sys.stderr)
            time.sleep(2**attempt)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
