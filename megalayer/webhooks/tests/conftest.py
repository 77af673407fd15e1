from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from megalayer.webhooks.tests.receiver import Receiver, serve

DOCS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def documented_verify() -> Any:
    """The verification snippet of docs/operations.md, executed as written."""
    text = DOCS.read_text()
    block = text.split("<!-- webhook-verify:start -->", 1)[1].split("<!-- webhook-verify:end -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace["verify"]
