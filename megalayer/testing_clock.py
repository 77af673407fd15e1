"""Run a command with the system clock of every process it starts moved to a chosen moment.

``./dev test`` uses this when ``MEGALAYER_TEST_AT`` is set (ISO 8601 with an offset, e.g.
``2028-02-29T23:55:00+08:00``): pytest, its xdist workers, the platform servers that real-process tests
start, the hook scripts they run and Chromium all see the same moved clock, which then ticks on at the
normal rate. That is how CI proves the suite holds no time bomb: it runs again at the first and last
minutes of a month, on 29 February, at the provider's midnight and two years ahead.

The mechanism is libfaketime (preloaded into every process through ``LD_PRELOAD``), from the PyPI
package ``libfaketime``, whose build handles monotonic clocks correctly (Debian 12's 0.9.10 fails
``time.sleep`` when monotonic clocks are left real, and hangs timed waits when they are faked).
Monotonic clocks stay real: timeouts and readiness waits measure real durations. The PostgreSQL
server is not moved, which is safe because the platform never asks the database for the time.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
from pathlib import Path

VARIABLE = "MEGALAYER_TEST_AT"


def parse_moment(text: str) -> dt.datetime:
    """An ISO 8601 moment with its offset; a naive one is refused, since its zone would be a guess."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"{VARIABLE}={text!r} is not an ISO 8601 time (e.g. 2028-02-29T23:55:00+08:00)") from None
    if moment.tzinfo is None:
        raise SystemExit(f"{VARIABLE}={text!r} has no offset: write it as e.g. 2028-02-29T23:55:00+08:00")
    return moment


def library_path() -> Path:
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the libfaketime package is not installed (it is in the dev group: run ./dev test)")
    library = Path(next(iter(spec.submodule_search_locations))) / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not library.exists():
        raise SystemExit(f"libfaketime's library is missing at {library}")
    return library


def clock_environment(moment: dt.datetime, now: dt.datetime) -> dict[str, str]:
    """The variables that move every child's clock to ``moment`` from the real ``now``.

    A relative offset in whole seconds, so that no time zone is involved in reading it."""
    offset = round((moment - now).total_seconds())
    preload = " ".join(filter(None, [str(library_path()), os.environ.get("LD_PRELOAD", "")]))
    return {
        "LD_PRELOAD": preload,
        "FAKETIME": f"{offset:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        VARIABLE + "_APPLIED": moment.isoformat(),
    }


def main(argv: list[str]) -> None:
    """``python -m megalayer.testing_clock COMMAND…``: run COMMAND at ``$MEGALAYER_TEST_AT``."""
    if not argv:
        raise SystemExit("usage: MEGALAYER_TEST_AT=2028-02-29T23:55:00+08:00 python -m megalayer.testing_clock CMD…")
    text = os.environ.get(VARIABLE, "")
    environment = dict(os.environ)
    if text:
        moment = parse_moment(text)
        environment.update(clock_environment(moment, dt.datetime.now(dt.UTC)))
        print(f"clock: every process starts at {moment.isoformat()} ({VARIABLE})", file=sys.stderr, flush=True)
    os.execvpe(argv[0], argv, environment)  # noqa: S606 (the developer's own command line)


if __name__ == "__main__":
    main(sys.argv[1:])
