"""Redaction of secrets by what they look like, never by the name they were sent under.

An opitios API key is recognised by its shape (``opk_<prefix>_<secret>``) and the
configured secrets (Alpaca's key and secret, passwords in DATABASE_URL and
REDIS_URL) by their values, wherever they sit: a query value, a path, a header
logged by gunicorn, a message that echoes a client's input. Log lines and
``error_logs`` rows pass through here; a client may call a parameter anything.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Anything that starts like a key. The 8-hex-digit prefix is not secret (it names the key in
# lists and logs), so it stays; everything after it goes. Case-blind: a symbol route upper-cases.
KEY_LEAD = "opk_"
KEY_SHAPE = r"(?P<lead>(?i:opk_(?:[0-9a-f]{8}_)?))[A-Za-z0-9_-]+"
# A shorter configured value would match ordinary words and mangle every log line.
MIN_SECRET_CHARS = 6


def _replace(match: re.Match) -> str:
    lead = match["lead"]
    return f"{lead}{REDACTED}" if lead is not None else REDACTED


class Redactor:
    """Rewrites text and JSON-like values; one per process, as the log lines it guards are."""

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._forms: tuple[str, ...] = ()
        self._pattern = self._compile()
        self._lock = threading.Lock()

    def add_secrets(self, values: Iterable[str | None]) -> None:
        """Also redact these values (each app adds its configured secrets when it is built)."""
        fresh = {value for value in values if value and len(value) >= MIN_SECRET_CHARS}
        with self._lock:
            if fresh <= self._secrets:
                return
            self._secrets |= fresh
            self._pattern = self._compile()

    def _compile(self) -> re.Pattern:
        # Also as a JSON string holds them, for a secret with a quote or a backslash in a JSON log line.
        forms = {form for secret in self._secrets for form in (secret, json.dumps(secret)[1:-1])}
        self._forms = tuple(forms)
        alternatives = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
        return re.compile("|".join([*alternatives, KEY_SHAPE]))

    def text(self, text: str) -> str:
        # Every match holds a configured value or a key's lead, whatever its case: looking for those first
        # costs a seventh of the pattern's pass, and almost every line (each request's access line) has none.
        if KEY_LEAD not in text.lower() and not any(form in text for form in self._forms):
            return text
        return self._pattern.sub(_replace, text)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted, mapping keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(name): self.value(item) for name, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


redactor = Redactor()
