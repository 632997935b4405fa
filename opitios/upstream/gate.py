"""Every upstream read goes through the gate: the shared budget, the circuit, and bounded retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from opitios import metrics
from opitios.runtime.refresh import RuntimeConfig
from opitios.upstream.breaker import Circuit, CircuitOpen
from opitios.upstream.budget import BudgetSpent, UpstreamBudget
from providers.base import UPSTREAM_DEADLINE, ProviderError, UpstreamRateLimited, UpstreamServiceError

T = TypeVar("T")
ATTEMPTS = 3
# Upstream calls made for the request being served (the access log reports them).
CALLS_THIS_REQUEST: ContextVar[int] = ContextVar("opitios_upstream_calls", default=0)


def _retryable(error: BaseException) -> bool:
    # Only quick refusals (5xx, connection refused) are worth another try; a timeout has used the time.
    return isinstance(error, UpstreamServiceError) and not isinstance(error, CircuitOpen)


class UpstreamGate:
    def __init__(self, budget: UpstreamBudget, circuit: Circuit, config: RuntimeConfig, timeout: float):
        self._budget = budget
        self.circuit = circuit
        self._config = config
        self._timeout = timeout

    def call(
        self, function: Callable[..., T], *args, retry: bool = True, operation: str | None = None, reserve_share: float = 0.0
    ) -> T:
        """``function(*args)`` against the upstream, within one upstream timeout in all.

        ``retry=False`` for what must happen at most once (placing an order); ``operation``
        names the call in metrics (default: the function's name); ``reserve_share`` leaves that
        share of the budget's burst to others (background work yields to clients).
        """
        operation = operation or function.__name__
        upstream = self._config.section("upstream")
        deadline = time.monotonic() + self._timeout
        token = UPSTREAM_DEADLINE.set(deadline)
        try:
            # The circuit's half-open probe is one attempt: its outcome alone decides.
            return self.circuit.call(
                lambda probing: self._with_retries(
                    function, args, deadline, (upstream["requests_per_minute"], reserve_share), retry and not probing, operation
                )
            )
        except UpstreamRateLimited as error:
            if not isinstance(error, BudgetSpent):
                self._budget.drain(error.retry_after or 60)
            raise
        finally:
            UPSTREAM_DEADLINE.reset(token)
            metrics.CIRCUIT_STATE.set(self.circuit.state_number())

    def _with_retries(self, function, args, deadline: float, budget: tuple[int, float], retry: bool, operation: str):
        if not retry:
            return self._attempt(function, args, budget, operation)

        def out_of_time(state) -> bool:
            return time.monotonic() + (state.upcoming_sleep or 0) >= deadline

        retrying = Retrying(
            stop=stop_after_attempt(ATTEMPTS) | out_of_time,
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        return retrying(self._attempt, function, args, budget, operation)

    def _attempt(self, function, args, budget: tuple[int, float], operation: str):
        grant = self._budget.take(*budget)
        metrics.BUDGET_REMAINING.set(grant.remaining)
        if not grant.granted:
            metrics.BUDGET_REJECTIONS.inc()
            raise BudgetSpent(
                "opitios' request budget for the upstream is spent for now", retry_after=grant.retry_after
            )
        CALLS_THIS_REQUEST.set(CALLS_THIS_REQUEST.get() + 1)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return function(*args)
        except ProviderError as error:
            outcome = error.code
            raise
        finally:
            metrics.UPSTREAM_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)
            metrics.UPSTREAM.labels(operation=operation, outcome=outcome).inc()
