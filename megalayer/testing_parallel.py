"""Real parallel clients for tests: threads that start together, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

import pytest
from django.db import connection


def skip_unless_threads_share_the_database() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the SQLite test database lives in memory, not shared between threads; CI runs this on PostgreSQL")


def run_in_parallel[T](calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run ``calls`` in threads released by one barrier; results (or raised errors) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except BaseException as error:  # returned to the test, which asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return cast(list[T | BaseException], results)
