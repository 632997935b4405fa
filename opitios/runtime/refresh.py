"""The configuration in force in one worker, re-read from ``api_configurations`` in the background.

The request path never queries the database: it reads the sections held here.
A background thread reads the (few) rows every ``config_refresh_seconds`` and
applies each row whose content changed, once it validates. A row that fails
validation is never applied: its section keeps the last good values (or the
defaults), and the rejection is logged once per version and kept for
``/health/ready``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from opitios import metrics
from opitios.background import Repeating
from opitios.models import ApiConfiguration
from opitios.runtime.schema import DEFAULTS, validate_section

log = logging.getLogger(__name__)


def content_version(config: Any) -> str:
    """A short fingerprint of a row's JSON, so SQL edits that bump no column are still noticed."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Rejection:
    name: str
    version: str
    errors: dict
    seen_at: str


class RuntimeConfig:
    """Validated runtime sections, the database's state, and the rows that were refused."""

    def __init__(self, engine: Engine, providers: Callable[[], Mapping[str, Any]]):
        self._engine = engine
        self._providers = providers
        self._sections: Mapping[str, Mapping[str, Any]] = MappingProxyType(
            {name: MappingProxyType(dict(values)) for name, values in DEFAULTS.items()}
        )
        self._applied: dict[str, str] = {}  # section → version of the row in force
        self._rejected: dict[str, Rejection] = {}
        self._listeners: list[Callable[[Mapping[str, Mapping[str, Any]]], None]] = []
        self._lock = threading.Lock()
        self._refresher = Repeating(self, "opitios-config", RuntimeConfig.refresh,
                                    lambda config: config.section("runtime")["config_refresh_seconds"])
        self.database = "unknown"
        self.database_error: str | None = None
        self.last_refresh: str | None = None

    # -- what the request path reads ------------------------------------------------------

    def section(self, name: str) -> Mapping[str, Any]:
        return self._sections[name]

    @property
    def version(self) -> str:
        """The fingerprint of everything in force."""
        return content_version({name: dict(values) for name, values in self._sections.items()})

    def on_change(self, listener: Callable[[Mapping[str, Mapping[str, Any]]], None]) -> None:
        self._listeners.append(listener)

    def status(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "applied_rows": dict(self._applied),
            "rejected": [asdict(rejection) for rejection in self._rejected.values()],
            "last_refresh": self.last_refresh,
            "refresh_seconds": self.section("runtime")["config_refresh_seconds"],
        }

    # -- the background side --------------------------------------------------------------

    def refresh(self) -> bool:
        """Read every row once and apply what changed and validates; ``False`` when the database failed."""
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(ApiConfiguration.name, ApiConfiguration.config, ApiConfiguration.is_active)
                ).all()
        except SQLAlchemyError as error:
            self._database_failed(error)
            return False
        with self._lock:
            changed = self._apply(rows)
            sections = self._sections
        if self.database == "down":
            log.info("database reachable again: configuration refresh resumed")
        self.database, self.database_error = "ok", None
        self.last_refresh = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if changed:
            metrics.CONFIG_RELOADS.inc()
            log.info("runtime configuration %s applied", self.version)
            for listener in self._listeners:
                listener(sections)
        return True

    def _apply(self, rows) -> bool:
        sections = {name: dict(values) for name, values in self._sections.items()}
        present = set()
        for name, config, is_active in rows:
            if not is_active:
                continue
            present.add(name)
            version = content_version(config)
            if self._applied.get(name) == version:
                # Back to the content in force (say, a bad edit undone): nothing to apply, nothing refused.
                self._rejected.pop(name, None)
                continue
            try:
                values = validate_section(name, config, self._providers)
            except ValidationError as error:
                self._reject(name, version, error)
                continue
            sections[name] = values
            self._applied[name] = version
            self._rejected.pop(name, None)
        for name in list(self._applied) + list(self._rejected):
            if name not in present:  # deleted or deactivated: back to the defaults
                self._applied.pop(name, None)
                self._rejected.pop(name, None)
                if name in DEFAULTS:
                    sections[name] = dict(DEFAULTS[name])
        if sections == {name: dict(values) for name, values in self._sections.items()}:
            return False
        self._sections = MappingProxyType({name: MappingProxyType(values) for name, values in sections.items()})
        return True

    def _reject(self, name: str, version: str, error: ValidationError) -> None:
        known = self._rejected.get(name)
        if known is not None and known.version == version:
            return
        metrics.CONFIG_REJECTED.inc()
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        self._rejected[name] = Rejection(name, version, messages, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        log.error(
            "rejected api_configurations row %r (version %s): %s; the last good values stay in force",
            name, version, "; ".join(f"{field}: {' '.join(map(str, text))}" for field, text in messages.items()),
        )

    def _database_failed(self, error: SQLAlchemyError) -> None:
        if self.database != "down":
            log.error("database unavailable, keeping configuration %s: %s", self.version, error.__class__.__name__)
        self.database = "down"
        self.database_error = error.__class__.__name__

    def start(self) -> None:
        """Refresh every ``config_refresh_seconds`` in a daemon thread."""
        self._refresher.start()

    def stop(self) -> None:
        """Stop the thread and wait (briefly) until it has let go of the database."""
        self._refresher.stop()
