"""make bench's picture: drawn from a run's results (here a small made-up set, not a timed run) into a PNG."""

import struct

from bench.chart import render
from bench.load import Load
from bench.report import Phase, Scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def phase(target: str, rps: float, p50: float, p99: float, concurrency: int = 64) -> Phase:
    load = Load("wrk", int(rps * 15), concurrency, 15.0, 0, {"connect": 0, "read": 0, "write": 0, "timeout": 0},
                p50, p50 * 2, p99, p99 * 2)
    return Phase(f"x-{target}", target, "made up", load, 0, {}, {"200": load.requests}, {}, [load.requests], 0)


def scenarios() -> list[Scenario]:
    return [
        Scenario("a", "one hot cached quote", phase("opitios", 1500, 46.7, 681.9), phase("bare", 7458, 10.9, 1745.3),
                 "≥ 0.6 × bare", 0.6),
        Scenario("b", "500 symbols round-robin", phase("opitios", 1400, 53.0, 697.8), phase("bare", 7837, 10.0, 1890.3),
                 "≥ 0.5 × bare", 0.5),
        Scenario("d", "cold burst", phase("opitios", 559, 920.4, 1589.1, 1000), None, "upstream ≤ budget"),
        Scenario("e", "500 connections", phase("opitios", 1616, 165.1, 3424.0, 500), phase("bare", 7255, 0.3, 3406.2),
                 "0 socket errors, 0 5xx"),
    ]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which always comes first."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_a_run_is_drawn_as_a_png(tmp_path):
    path = render(scenarios(), tmp_path / "charts" / "benchmarks.png", "opitios vs bare Flask, made-up numbers")
    assert path == tmp_path / "charts" / "benchmarks.png"
    width, height = png_size(path.read_bytes())
    assert (width, height) == (1400, 550)  # 14 × 5.5 inches at 100 dpi


def test_the_same_results_draw_the_same_picture(tmp_path):
    first = render(scenarios(), tmp_path / "first.png", "same")
    second = render(scenarios(), tmp_path / "second.png", "same")
    assert first.read_bytes() == second.read_bytes()


def test_rounds_of_one_app_add_up_to_its_answers_per_second_with_the_worse_latencies():
    # make bench measures each app in two rounds (opitios, bare, bare, opitios) and reports them as one phase.
    slow, fast = phase("opitios", 1000, 40.0, 150.0), phase("opitios", 3000, 20.0, 60.0)
    both = Phase.combined("a-opitios", [slow, fast])
    assert both.load.requests == 60_000 and both.load.duration_s == 30.0 and both.load.ok_rps == 2000
    assert (both.load.p50_ms, both.load.p99_ms) == (40.0, 150.0)
    assert both.statuses == {"200": 60_000} and both.requests_by_worker == [60_000]
    ratio = Scenario("a", "hot", both, Phase.combined("a-bare", [phase("bare", 4000, 9, 20)] * 2), "≥ 0.6", 0.6).ratio
    assert ratio == 0.5
