"""Phase results: the record of one measured phase, the ratios between phases, the table and the JSON file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.load import Load
from bench.servers import AccessEntry


@dataclass
class Phase:
    """One measured phase: what the client saw, what the server logged, what the upstream was asked."""

    name: str
    target: str  # "opitios" or "bare"
    what: str
    load: Load
    upstream_calls: int
    upstream_by_path: dict[str, int]
    statuses: dict[str, int]  # from gunicorn's access log, whatever the generator
    cache: dict[str, int]  # X-Cache-Status from the same lines ("-": none sent)
    requests_by_worker: list[int]  # access-log lines per worker pid, largest first
    worker_boots: int  # workers (re)started during the phase (gunicorn's max_requests recycles them)
    notes: list[str] = field(default_factory=list)

    @property
    def client_per_upstream(self) -> float | None:
        """Client requests answered per upstream call (None when the upstream was never asked)."""
        return self.load.requests / self.upstream_calls if self.upstream_calls else None

    def as_dict(self) -> dict:
        row = {"name": self.name, "target": self.target, "what": self.what, **asdict(self.load)}
        row.update(
            rps=round(self.load.rps, 1), ok_rps=round(self.load.ok_rps, 1),
            upstream_calls=self.upstream_calls, upstream_by_path=self.upstream_by_path,
            client_requests_per_upstream_call=_round(self.client_per_upstream),
            access_log_statuses=self.statuses, access_log_cache_status=self.cache, requests_by_worker=self.requests_by_worker,
            worker_boots=self.worker_boots, notes=self.notes,
        )
        for name in ("duration_s", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
            row[name] = round(row[name], 3)
        return row


def access_summary(entries: list[AccessEntry]) -> tuple[dict[str, int], dict[str, int], list[int]]:
    """Counts by status, by X-Cache-Status, and per worker (largest first) of a phase's access-log lines."""
    statuses = Counter(str(entry.status) for entry in entries)
    cache = Counter(entry.cache for entry in entries)
    workers = Counter(entry.pid for entry in entries)
    return dict(sorted(statuses.items())), dict(sorted(cache.items())), sorted(workers.values(), reverse=True)


def ratios(phases: dict[str, Phase]) -> dict[str, float | None]:
    """opitios rps / bare rps for each hot opitios phase, over all answers and over 2xx answers only."""
    bare = phases["hot-bare"].load
    found = {}
    for name, phase in phases.items():
        if phase.target == "opitios" and name.startswith("hot-"):
            found[f"{name} rps / hot-bare rps"] = _round(phase.load.rps / bare.rps if bare.rps else None)
            found[f"{name} 2xx rps / hot-bare rps"] = _round(phase.load.ok_rps / bare.rps if bare.rps else None)
    return found


def table(phases: dict[str, Phase]) -> str:
    header = ("phase", "gen", "reqs", "conc", "secs", "rps", "2xx rps", "p50 ms", "p95 ms", "p99 ms",
              "non-2xx", "no answer", "upstream", "reqs/upstream", "statuses", "cache", "per worker", "boots")
    rows = [header]
    for phase in phases.values():
        load = phase.load
        per_upstream = phase.client_per_upstream
        rows.append((
            phase.name, load.generator, str(load.requests), str(load.concurrency), f"{load.duration_s:.1f}",
            f"{load.rps:.0f}", f"{load.ok_rps:.0f}", f"{load.p50_ms:.1f}", f"{load.p95_ms:.1f}", f"{load.p99_ms:.1f}",
            str(load.non_2xx), str(load.socket_errors), str(phase.upstream_calls),
            "-" if per_upstream is None else f"{per_upstream:.1f}",
            " ".join(f"{status}:{count}" for status, count in phase.statuses.items()),
            " ".join(f"{state}:{count}" for state, count in phase.cache.items()),
            "/".join(str(count) for count in phase.requests_by_worker), str(phase.worker_boots),
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_json(path: Path, summary: dict, phases: dict[str, Phase]) -> None:
    document = {**summary, "phases": [phase.as_dict() for phase in phases.values()], "ratios": ratios(phases)}
    path.write_text(json.dumps(document, indent=2) + "\n")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
