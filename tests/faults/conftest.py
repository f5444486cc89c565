"""The `faults` marker: fault-injection tests (issue #20), run with FAULT_TESTS=1."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: fault-injection test against a real bot process (tests/faults/); "
        "skipped unless FAULT_TESTS=1",
    )
