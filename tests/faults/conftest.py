"""The `faults` marker: fault-injection tests (issue #20), left out with FAULT_TESTS=0."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: fault-injection test against a real bot process (tests/faults/); "
        "left out with FAULT_TESTS=0",
    )
