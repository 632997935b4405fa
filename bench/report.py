"""Results: the record of one measured phase, the scenarios (opitios beside the bare route), the table, the JSON file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.load import Load
from harness.servers import AccessEntry


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
    loadavg_1m: float = 0.0  # the machine's 1-minute load average as the phase began
    notes: list[str] = field(default_factory=list)

    @property
    def server_5xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if status.startswith("5"))

    @classmethod
    def combined(cls, name: str, phases: list[Phase]) -> Phase:
        """Rounds of one app's phase as one phase (``Load.combined``): what each found, added up."""
        first = phases[0]
        by_path = sum((Counter(phase.upstream_by_path) for phase in phases), Counter())
        statuses = sum((Counter(phase.statuses) for phase in phases), Counter())
        cache = sum((Counter(phase.cache) for phase in phases), Counter())
        workers = [sum(counts) for counts in zip(*(phase.requests_by_worker for phase in phases))]
        return cls(name, first.target, first.what, Load.combined([phase.load for phase in phases]),
                   sum(phase.upstream_calls for phase in phases), dict(by_path), dict(sorted(statuses.items())),
                   dict(sorted(cache.items())), sorted(workers, reverse=True),
                   sum(phase.worker_boots for phase in phases), first.loadavg_1m,
                   [note for phase in phases for note in phase.notes])

    def as_dict(self) -> dict:
        row = {"name": self.name, "target": self.target, "what": self.what, **asdict(self.load)}
        row.update(
            rps=round(self.load.rps, 1), ok_rps=round(self.load.ok_rps, 1),
            upstream_calls=self.upstream_calls, upstream_by_path=self.upstream_by_path,
            access_log_statuses=self.statuses, access_log_5xx=self.server_5xx, access_log_cache_status=self.cache,
            requests_by_worker=self.requests_by_worker, worker_boots=self.worker_boots,
            loadavg_1m_at_start=round(self.loadavg_1m, 2), notes=self.notes,
        )
        for name in ("duration_s", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
            row[name] = round(row[name], 3)
        return row


@dataclass
class Scenario:
    """One of the benchmark's scenarios: opitios's phase, the bare route's beside it, and the target."""

    key: str  # "a" … "e"
    title: str
    opitios: Phase
    bare: Phase | None
    target: str  # what the issue asks for, in words
    ratio_target: float | None = None  # the least opitios rps / bare rps asked for
    checks: dict[str, bool] = field(default_factory=dict)  # the non-ratio targets, each met or not
    details: dict = field(default_factory=dict)  # what else the scenario found (symbols, answer checks)

    @property
    def ratio(self) -> float | None:
        """Answers served (2xx) per second, opitios over bare: a refusal is not an answer served."""
        if self.bare is None or not self.bare.load.ok_rps:
            return None
        return self.opitios.load.ok_rps / self.bare.load.ok_rps

    @property
    def met(self) -> bool | None:
        """Whether the target was met (printed beside the numbers, never asserted)."""
        verdicts = list(self.checks.values())
        if self.ratio_target is not None:
            verdicts.append(self.ratio is not None and self.ratio >= self.ratio_target)
        return all(verdicts) if verdicts else None

    def as_dict(self) -> dict:
        return {
            "scenario": self.key, "title": self.title, "target": self.target, "ratio_target": self.ratio_target,
            "ratio": _round(self.ratio), "checks": self.checks, "met": self.met, "details": self.details,
            "opitios": self.opitios.as_dict(), "bare": self.bare.as_dict() if self.bare else None,
        }


def access_summary(entries: list[AccessEntry]) -> tuple[dict[str, int], dict[str, int], list[int]]:
    """Counts by status, by X-Cache-Status, and per worker (largest first) of a phase's access-log lines."""
    statuses = Counter(str(entry.status) for entry in entries)
    cache = Counter(entry.cache for entry in entries)
    workers = Counter(entry.pid for entry in entries)
    return dict(sorted(statuses.items())), dict(sorted(cache.items())), sorted(workers.values(), reverse=True)


def _upstream(phase: Phase) -> str:
    if not phase.upstream_calls:
        return "0"
    if phase.target == "bare":  # the bare app never calls it: these are opitios's, idle meanwhile
        return f"(opitios, idle: {phase.upstream_calls})"
    parts = ", ".join(f"{path.rsplit('/', 1)[-1]} {count}" for path, count in sorted(phase.upstream_by_path.items()))
    return f"{phase.upstream_calls} ({parts})"


def _socket_errors(load: Load) -> str:
    if not load.no_answer:
        return "0"
    return f"{load.no_answer} (" + ", ".join(f"{name} {count}" for name, count in load.socket_errors.items() if count) + ")"


def table(scenarios: list[Scenario]) -> str:
    """The results as a Markdown table: each opitios phase, then the bare route's beside it."""
    header = ("scenario", "app", "conns", "secs", "requests", "rps", "p50 ms", "p99 ms", "non-2xx",
              "socket errors", "5xx", "upstream calls", "opitios / bare", "target", "met")
    rows = [header]
    for scenario in scenarios:
        for phase in (scenario.opitios, scenario.bare):
            if phase is None:
                continue
            load = phase.load
            first = phase is scenario.opitios
            met = scenario.met
            rows.append((
                f"({scenario.key}) {scenario.title}" if first else "",
                phase.target, str(load.concurrency), f"{load.duration_s:.1f}", f"{load.requests:,}".replace(",", " "),
                f"{load.rps:,.0f}".replace(",", " "), f"{load.p50_ms:.1f}", f"{load.p99_ms:.1f}",
                str(load.non_2xx), _socket_errors(load), str(phase.server_5xx), _upstream(phase),
                (f"{scenario.ratio:.2f}" if scenario.ratio is not None else "—") if first else "",
                scenario.target if first else "",
                ("—" if met is None else "yes" if met else "**no**") if first else "",
            ))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(lines)


def details(scenarios: list[Scenario]) -> str:
    """What the table leaves out: statuses and cache states from the access log, socket errors by cause, checks."""
    lines = []
    for scenario in scenarios:
        phase = scenario.opitios
        parts = [f"statuses {_counts(phase.statuses)}", f"cache {_counts(phase.cache)}"]
        if phase.load.no_answer:
            parts.append(f"socket errors {_counts(phase.load.socket_errors)}")
        if phase.worker_boots:
            parts.append(f"worker boots {phase.worker_boots}")
        parts += [f"{name} {value}" for name, value in scenario.details.items() if not isinstance(value, (dict, list))]
        parts += [f"{name}: {_counts(value)}" for name, value in scenario.details.items() if isinstance(value, dict)]
        parts += [f"{name}: {'yes' if verdict else 'NO'}" for name, verdict in scenario.checks.items()]
        lines.append(f"({scenario.key}) " + "; ".join(parts))
        if scenario.bare is not None:
            bare = scenario.bare
            extra = f"; socket errors {_counts(bare.load.socket_errors)}" if bare.load.no_answer else ""
            lines.append(f"    bare: statuses {_counts(bare.statuses)}; worker boots {bare.worker_boots}{extra}")
    return "\n".join(lines)


def _counts(counts: dict) -> str:
    return " ".join(f"{name}:{value}" for name, value in counts.items()) or "none"


def write_json(path: Path, summary: dict, scenarios: list[Scenario]) -> None:
    document = {**summary, "scenarios": [scenario.as_dict() for scenario in scenarios]}
    path.write_text(json.dumps(document, indent=2) + "\n")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
