"""The stream's metrics for ``/metrics``, read from its board in Redis at each scrape.

They describe the deployment's one stream, not this worker, so every worker (and instance)
reports the same values: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class StreamCollector:
    def __init__(self, read: Callable[[], dict[str, Any]]):
        self._read = read

    def collect(self) -> Iterator[Metric]:
        report = self._read()
        counts = report.get("counts", {})
        yield GaugeMetricFamily("opitios_stream_connected", "1 while the streamer holding the lease is connected",
                                value=1 if report.get("connected") else 0)
        yield GaugeMetricFamily("opitios_stream_healthy", "1 while the stream's data are within stream.max_lag_seconds",
                                value=1 if report.get("healthy") else 0)
        yield GaugeMetricFamily("opitios_stream_subscribed_symbols", "Symbols the upstream confirmed streaming",
                                value=report.get("subscribed") or 0)
        if report.get("lag_seconds") is not None:
            yield GaugeMetricFamily("opitios_stream_lag_seconds", "Age of the newest quote or trade the stream pushed",
                                    value=report["lag_seconds"])
        messages = CounterMetricFamily("opitios_stream_messages", "Stream messages received, by quote part", labels=["part"])
        errors = CounterMetricFamily("opitios_stream_errors", "Errors the upstream's stream reported, by its code",
                                     labels=["code"])
        for name, value in counts.items():
            kind, _, label = name.partition(":")
            if kind == "messages":
                messages.add_metric([label], value)
            elif kind == "errors":
                errors.add_metric([label], value)
        yield messages
        yield errors
        yield CounterMetricFamily("opitios_stream_reconnects", "Connection attempts after a drop or a failed attempt",
                                  value=counts.get("reconnects", 0))
        yield CounterMetricFamily("opitios_stream_lease_changes", "Times a streamer took the lease",
                                  value=counts.get("lease_changes", 0))
