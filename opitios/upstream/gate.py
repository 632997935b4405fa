"""Every upstream read goes through the gate: the shared budget, the circuit, and bounded retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from opitios.runtime.refresh import RuntimeConfig
from opitios.upstream.breaker import Circuit, CircuitOpen
from opitios.upstream.budget import UpstreamBudget
from providers.base import UPSTREAM_DEADLINE, UpstreamRateLimited, UpstreamServiceError

T = TypeVar("T")
ATTEMPTS = 3


class BudgetSpent(UpstreamRateLimited):
    """opitios' own budget for the upstream is spent: the upstream is not asked."""


def _retryable(error: BaseException) -> bool:
    # Only quick refusals (5xx, connection refused) are worth another try; a timeout has used the time.
    return isinstance(error, UpstreamServiceError) and not isinstance(error, CircuitOpen)


class UpstreamGate:
    def __init__(self, budget: UpstreamBudget, circuit: Circuit, config: RuntimeConfig, timeout: float):
        self._budget = budget
        self.circuit = circuit
        self._config = config
        self._timeout = timeout

    def call(self, function: Callable[..., T], *args, retry: bool = True) -> T:
        """``function(*args)`` against the upstream, within one upstream timeout in all.

        ``retry=False`` for what must happen at most once (placing an order).
        """
        upstream = self._config.section("upstream")
        deadline = time.monotonic() + self._timeout
        token = UPSTREAM_DEADLINE.set(deadline)
        try:
            return self.circuit.call(
                lambda: self._with_retries(function, args, deadline, upstream["requests_per_minute"], retry),
                failures=upstream["circuit_failures"],
                open_seconds=upstream["circuit_open_seconds"],
            )
        except UpstreamRateLimited as error:
            if not isinstance(error, BudgetSpent):
                self._budget.drain(error.retry_after or 60)
            raise
        finally:
            UPSTREAM_DEADLINE.reset(token)

    def _with_retries(self, function, args, deadline: float, per_minute: int, retry: bool):
        if not retry:
            return self._attempt(function, args, per_minute)

        def out_of_time(state) -> bool:
            return time.monotonic() + (state.upcoming_sleep or 0) >= deadline

        retrying = Retrying(
            stop=stop_after_attempt(ATTEMPTS) | out_of_time,
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        return retrying(self._attempt, function, args, per_minute)

    def _attempt(self, function, args, per_minute: int):
        grant = self._budget.take(per_minute)
        if not grant.granted:
            raise BudgetSpent(
                "opitios' request budget for the upstream is spent for now", retry_after=grant.retry_after
            )
        return function(*args)
