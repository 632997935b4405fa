"""Waiting for the workers' client-limit counts to be shared, read off /metrics: never a fixed sleep."""

from __future__ import annotations

import re
import time

import requests

from tests.waiting import eventually


def synced_at(base_url: str) -> float:
    """The oldest of an instance's workers' last syncs (Unix time), from its /metrics; 0 before every worker has synced."""
    text = requests.get(base_url + "/metrics", timeout=10).text
    found = re.search(r"^opitios_rate_limit_synced_timestamp_seconds (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def counts_shared(*base_urls: str) -> None:
    """Wait until every worker of every instance has sent the hits it accepted, then until each has read them all."""
    for _ in range(2):
        since = time.time()
        for url in base_urls:
            eventually(lambda: synced_at(url) > since, timeout=30)
