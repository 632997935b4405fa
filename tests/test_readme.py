"""The README, taken at its word: what it says a newcomer will see is what they see."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from opitios.db import PROJECT_ROOT
from tests.demo_run import Demo

README = PROJECT_ROOT / "README.md"
OPITIOS_SCRIPT = Path(sys.executable).with_name("opitios")


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next section of that level."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_two_commands_says_what_a_market_route_answers_without_upstream_credentials(new_app):
    app = new_app({"ALPACA_API_KEY": None, "ALPACA_SECRET_KEY": None})
    keyed = app.test_client()
    anonymous = app.test_client()
    del anonymous.environ_base["HTTP_X_API_KEY"]
    said = section("Two commands")

    for client in (anonymous, keyed):
        answer = client.get("/api/v1/stocks/AAPL/quote")
        assert f"`{answer.status_code} {answer.headers['X-Error-Code']}`" in said
    assert app.test_client().get("/api/v1/health").status_code == 200 and "`/api/v1/health` answers" in said
    assert re.search(r"without an API key `401 ", said) and re.search(r"with a `read` key `503 ", said)


def test_adding_a_route_shows_a_route_as_it_is_in_the_code():
    shown = section("Adding a route").split("```python\n", 1)[1].split("```", 1)[0]
    assert shown in (PROJECT_ROOT / "opitios" / "routes" / "stocks.py").read_text()


# `opitios <command>` typed bare, which a shell finds only with .venv/bin on PATH (inside the container it is).
BARE_COMMAND = re.compile(r"(?<![/\w.-])opitios (?:keys|config|db|openapi|errors|providers)\b")


def test_every_opitios_command_is_written_as_it_runs_from_a_checkout():
    for document in (README, PROJECT_ROOT / "docs" / "openapi.md"):
        text = document.read_text()
        bare = [
            text[found.start():text.find("\n", found.start())]
            for found in BARE_COMMAND.finditer(text)
            if not text[:found.start()].endswith("docker exec opitios ")  # the container has it on PATH
        ]
        assert bare == [], f"{document.name}: write .venv/bin/opitios (it is not on PATH after make run)"
    assert OPITIOS_SCRIPT.is_file()  # what `make install` puts there (this suite runs from that venv)


# --- every `$` line of the README, run against a `make demo` --------------------------------------------

ELIDED = "…"  # in the README's answers: more keys here, or (in text) some characters
OCC = re.compile(r"^[A-Z]{1,6}\d{6}[CP]\d{8}$")
# Values that are the same on every run and every day; everything else (prices, sizes, timestamps, ids,
# expirations, cache and market state) is compared by kind only.
STABLE = {
    "code", "type", "message", "data_source", "provider", "feed", "timeframe", "option_type", "underlying_symbol",
    "idempotent_replay", "total_requested", "successful", "failed", "count", "has_more", "client_order_id", "side",
    "asset_class", "qty", "limit_price", "order_type", "time_in_force", "account_number", "currency", "endpoint",
}
ORDER_STATES = {"accepted", "new", "pending_new", "partially_filled", "filled"}  # they follow the sandbox's market


@dataclass
class Example:
    command: str
    shown: str  # the answer the README shows under it ("" for none)
    line: int

    def __str__(self):
        return f"README line {self.line}: $ {self.command}"


def shell_examples(text: str) -> list[Example]:
    """The `$ ` lines of the README's ```sh blocks (continued over trailing backslashes), each with what follows it."""
    examples, lines, number = [], text.splitlines(), 0
    while number < len(lines):
        if lines[number].strip() != "```sh":
            number += 1
            continue
        number += 1
        while number < len(lines) and not lines[number].startswith("```"):
            if not lines[number].startswith("$ "):
                number += 1
                continue
            start, command = number + 1, lines[number][2:]
            while command.endswith("\\"):
                number += 1
                command += "\n" + lines[number]
            number += 1
            shown = []
            while number < len(lines) and not lines[number].startswith(("$ ", "```")):
                shown.append(lines[number])
                number += 1
            examples.append(Example(command, "\n".join(shown).strip(), start))
    return examples


@dataclass
class Ran:
    output: str
    exit_code: int
    statuses: list[int]  # of every HTTP request the command made, in order


def run_all(examples: list[Example], cwd: Path, port: int) -> list[Ran]:
    """Every command in one bash, in order (so K=…, C=… carry over), with curl's localhost:8081 sent to ``port``.

    The commands run as written; curl is wrapped only to reach the test's port and to report each status
    on stderr, which goes to a file per command."""
    statuses = cwd.parent / "statuses"
    statuses.mkdir()
    script = [f"curl() {{ command curl --connect-to localhost:8081:127.0.0.1:{port} -w '%{{stderr}}@@STATUS %{{http_code}}\\n' \"$@\"; }}"]
    for index, example in enumerate(examples):
        script += [f"printf '@@BEGIN {index}\\n'", "{", example.command, f"}} 2>{statuses / str(index)}",
                   f"printf '\\n@@END {index} %s\\n' \"$?\""]
    newcomer = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=newcomer, capture_output=True, text=True, timeout=600)
    outputs = {int(index): (text, int(code)) for index, text, code in
               re.findall(r"@@BEGIN (\d+)\n(.*?)\n@@END \1 (\d+)\n", done.stdout, re.DOTALL)}
    assert len(outputs) == len(examples), done.stdout[-2000:] + done.stderr[-2000:]
    return [
        Ran(outputs[index][0].strip(), outputs[index][1],
            [int(code) for code in re.findall(r"@@STATUS (\d+)", (statuses / str(index)).read_text())])
        for index in range(len(examples))
    ]


class Shown(dict):
    """An object as the README shows it; ``partial`` when it elides keys with …."""

    partial = False

    @classmethod
    def from_pairs(cls, pairs):
        shown = cls((key, value) for key, value in pairs if key != ELIDED)
        shown.partial = any(key == ELIDED for key, _ in pairs)
        return shown


def parse_shown(text: str):
    """The README's JSON, where a … outside strings stands for keys left out."""
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            escaped, in_string = (not escaped and char == "\\"), in_string and (escaped or char != '"')
        elif char == '"':
            in_string = True
        elif char == ELIDED:
            char = f'"{ELIDED}":null'
        out.append(char)
    return json.loads("".join(out), object_pairs_hook=Shown.from_pairs)


def kind(value) -> str:
    for name, types in (("null", type(None)), ("boolean", bool), ("string", str), ("object", dict), ("array", list)):
        if isinstance(value, types):
            return name
    return "number"


def stable(key: str, value) -> bool:
    if key == "symbol":
        return not OCC.match(str(value))  # contracts roll with the sandbox's calendar
    if key == "status":
        return value not in ORDER_STATES
    return key in STABLE


def shape_differences(shown, actual, where="") -> list[str]:
    """How ``actual`` differs from the README's ``shown`` in keys, kinds, lengths and stable values."""
    if kind(shown) != kind(actual):
        return [f"{where or '/'}: {kind(shown)} in the README, {kind(actual)} in the answer"]
    if isinstance(shown, dict):
        found = [f"{where}/{key}: shown, not answered" for key in shown if key not in actual]
        if not shown.partial:
            found += [f"{where}/{key}: answered, not shown (add it, or …)" for key in actual if key not in shown]
        for key, value in shown.items():
            if key in actual:
                found += shape_differences(value, actual[key], f"{where}/{key}")
                if stable(key, value) and not isinstance(value, (dict, list)) and value != actual[key]:
                    found.append(f"{where}/{key}: {value!r} in the README, {actual[key]!r} in the answer")
        return found
    if isinstance(shown, list):
        if len(shown) != len(actual):
            return [f"{where}: {len(shown)} items in the README, {len(actual)} in the answer"]
        return [line for index, pair in enumerate(zip(shown, actual)) for line in shape_differences(*pair, f"{where}/{index}")]
    return []


def text_matches(shown: str, actual: str) -> bool:
    pattern = ".+?".join(re.escape(piece) for piece in shown.split(ELIDED))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def check(example: Example, ran: Ran) -> list[str]:
    """What is wrong with one example's answer, compared with what the README shows."""
    if ran.exit_code != 0:
        return [f"exit code {ran.exit_code}: {ran.output[-300:]}"]
    shown = example.shown
    if shown.startswith("HTTP/"):
        head, body = re.split(r"\r?\n\r?\n", ran.output, maxsplit=1)
        status_line, *header_lines = head.splitlines()
        headers = dict(line.split(": ", 1) for line in header_lines)
        shown_lines = shown.splitlines()
        shown_headers = dict(line.split(": ", 1) for line in shown_lines[1:] if not line.startswith(("{", " ")) and ": " in line)
        shown_body = "\n".join(line for line in shown_lines[1 + len(shown_headers):])
        problems = [] if status_line.split()[1] == shown_lines[0].split()[1] else [f"status {status_line}, README {shown_lines[0]}"]
        problems += [f"header {name} not answered" for name in shown_headers if name not in headers]
        if "X-Error-Code" in shown_headers and headers.get("X-Error-Code") != shown_headers["X-Error-Code"]:
            problems.append(f"X-Error-Code {headers.get('X-Error-Code')}, README {shown_headers['X-Error-Code']}")
        return problems + shape_differences(parse_shown(shown_body), json.loads(body))
    problems = [f"HTTP {status} (show it with curl -i if it is meant)" for status in ran.statuses if status != 200]
    if shown.startswith("{"):
        return problems + shape_differences(parse_shown(shown), json.loads(ran.output))
    if shown:
        return problems + ([] if text_matches(shown, ran.output) else [f"answered {ran.output!r}"])
    if ran.statuses and ran.output:  # a request whose answer the README does not show: still an envelope
        body = json.loads(ran.output)
        problems += [] if set(body) == {"data", "metadata"} else [f"not a success envelope: {ran.output[:200]}"]
    return problems


def test_the_readme_examples_are_parsed_from_every_shell_block():
    examples = shell_examples(README.read_text())
    commands = [example.command for example in examples]

    assert len(examples) >= 20
    assert any("options/$C/quote" in command for command in commands)
    assert all("{…" not in command for command in commands), "a command that cannot run as written"


@pytest.mark.parametrize("sandbox_now", [None, "2031-03-12T15:00:00Z"], ids=["today", "a-day-in-2031-market-open"])
def test_every_readme_example_answers_as_the_readme_shows(tmp_path, sandbox_now):
    """A newcomer's checkout: `.venv`, and the demo's instance/ folder, in the folder the commands run in."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    extra = {"DEMO_INSTANCE": str(checkout / "instance")}
    if sandbox_now:
        extra["SANDBOX_NOW"] = sandbox_now
    examples = shell_examples(README.read_text())

    with Demo(tmp_path / "demo", **extra) as demo:
        results = run_all(examples, checkout, demo.port)

    problems = [f"{example}\n    " + "\n    ".join(found)
                for example, ran in zip(examples, results) if (found := check(example, ran))]
    assert problems == [], "\n".join(problems)
