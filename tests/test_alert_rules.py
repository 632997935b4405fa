"""The shipped alert rules pass Prometheus' own checks, and their unit tests fire every alert (promtool).

promtool comes with Debian's prometheus package, which `make test` installs
(scripts/cluster-packages.sh) on a machine that lacks it.
"""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "opitios-alerts.yml"
UNIT_TESTS = ROOT / "deploy" / "prometheus" / "opitios-alerts.test.yml"


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    assert found, "promtool is missing: scripts/cluster-packages.sh installs it (Debian package prometheus)"
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def alerts() -> set[str]:
    return {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}


def test_promtool_accepts_the_rules():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout


def test_the_unit_tests_pass():
    tested = promtool("test", "rules", str(UNIT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_unit_tests_fire_every_alert_and_show_each_silent_too():
    cases = [case for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    assert {case["alertname"] for case in cases if case["exp_alerts"]} == alerts()
    assert {case["alertname"] for case in cases if not case["exp_alerts"]} == alerts()


def test_a_wrong_rule_fails_its_unit_test(tmp_path):
    # The circuit alert made to wait for a state that does not exist: its unit test must notice.
    broken = RULES.read_text().replace("max by (job) (opitios_circuit_state) == 2", "max by (job) (opitios_circuit_state) == 3")
    assert broken != RULES.read_text()
    (tmp_path / RULES.name).write_text(broken)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    tested = promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "OpitiosCircuitOpen" in tested.stdout + tested.stderr
