from __future__ import annotations

from megalayer.core.errors import RuleRefused


class NoFreeAddress(RuleRefused):
    def __init__(self, detail: str = "No free address is left in this location and network tier.") -> None:
        super().__init__(detail, rule="no-free-address", requirement="TOS-NET-1")
