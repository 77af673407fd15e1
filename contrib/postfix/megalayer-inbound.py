#!/usr/bin/env python3
"""Postfix pipe → Megalayer's inbound-mail hook (standard library only).

In master.cf:
    megalayer unix - n n - - pipe
      flags=Rq user=nobody argv=/usr/local/bin/megalayer-inbound.py ${original_recipient}
and route the support address (with its +extensions), the abuse address and its aliases (feedback loops too)
and the bounce address to it, e.g. in transport_maps:
    support@megalayer.example megalayer:  /  abuse@megalayer.example megalayer:  /  noreply@megalayer.example megalayer:
The envelope recipient (the argument) tells the platform where a Bcc'd message was sent.
Set MEGALAYER_HOOK_URL (https://panel.example.net/api/v1/hooks/inbound-mail) and
MEGALAYER_INBOUND_MAIL_SECRET in the pipe's environment (or a wrapper script).
Exit status 75 (EX_TEMPFAIL) makes Postfix keep the mail and retry later.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time
import urllib.request

EX_TEMPFAIL = 75


def main() -> int:
    raw = sys.stdin.buffer.read()
    url, secret = os.environ["MEGALAYER_HOOK_URL"], os.environ["MEGALAYER_INBOUND_MAIL_SECRET"]
    if not url.startswith(("https://", "http://")):
        print("MEGALAYER_HOOK_URL must be an http(s) URL", file=sys.stderr)
        return EX_TEMPFAIL
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 - checked above: http(s) only
        url,
        data=raw,
        headers={
            "Content-Type": "message/rfc822",
            "X-Megalayer-Signature": f"t={stamp},v1={signature}",
            "X-Megalayer-Envelope-To": ",".join(sys.argv[1:]),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the operator's own URL
            print(response.read().decode())
    except OSError as error:
        print(f"megalayer inbound mail: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
