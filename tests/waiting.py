"""Waiting for something a background thread does, with a bound, never a fixed sleep."""

import time


def eventually(check, timeout: float = 30.0, interval: float = 0.05):
    """Call ``check`` until it returns something truthy; fail with its last value after ``timeout`` s.

    The bound only decides how long a broken test takes to fail: a passing check returns as soon as it
    holds, so the bound is generous enough for a machine under any load.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true within {timeout} s: last value {value!r}"
            return value
        time.sleep(interval)
