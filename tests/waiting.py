"""Waiting for something a background thread does, with a bound, never a fixed sleep."""

import time


def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Call ``check`` until it returns something truthy; fail with its last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true within {timeout} s: last value {value!r}"
            return value
        time.sleep(interval)
