"""Hooks: how a lower app lets higher apps react without importing them (ADR 0003).

The domain apps are layered (``pyproject.toml``, ``[tool.importlinter]``): an app imports only apps below it.
When something in a lower app must cause something in a higher one (a server was built, so its service is
active; a service is about to be deleted, so a legal hold may stop it), the lower app declares a ``Hook`` and
calls it; the higher app connects its function in ``AppConfig.ready``. Nothing is discovered by magic: every
connection is one line in an ``apps.py``, the calls are plain function calls in the caller's transaction, and
an exception in a receiver rolls the caller back with it (unlike Django signals, which are fire-and-forget and
typed ``Any``).

A hook with no receiver returns an empty list; a hook that must have exactly one (a service's activation
after a build) uses ``Hook.one``, which fails loudly at the first call if the wiring is missing.
"""

from __future__ import annotations

from collections.abc import Callable


class Hook[**P, R]:
    """A named point that receivers connect to; ``call`` runs them all, in connection order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[P, R]] = []

    def connect(self, receiver: Callable[P, R]) -> Callable[P, R]:
        """Add ``receiver`` (once: connecting the same function again, as a test re-running ``ready`` does, is a
        no-op). Usable as a decorator."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def call(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        return [receiver(*args, **kwargs) for receiver in self._receivers]

    def first(self, *args: P.args, **kwargs: P.kwargs) -> R | None:
        """The first receiver's answer that is not ``None``, asking them in connection order (a router: the
        receivers that do not claim the input answer ``None``)."""
        for receiver in self._receivers:
            answer = receiver(*args, **kwargs)
            if answer is not None:
                return answer
        return None

    def one(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the one receiver this hook must have."""
        if len(self._receivers) != 1:
            raise RuntimeError(f"hook {self.name!r} needs exactly one receiver, has {len(self._receivers)}")
        return self._receivers[0](*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name} ({len(self._receivers)} receivers)>"
