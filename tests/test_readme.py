"""The README, taken at its word: what it says a newcomer will see is what they see."""

import re
import sys
from pathlib import Path

from opitios.db import PROJECT_ROOT

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
