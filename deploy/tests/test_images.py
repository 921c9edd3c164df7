"""The images, checked without a Docker engine: the Dockerfiles are read instruction by instruction;
what they copy must exist and be in the build context (.dockerignore); what a service reads at run
time (migrations, rules, templates, topics.yaml) must be in the final stage; and a rehearsal
replays each builder stage (its COPY instructions and its RUN commands, uv sync included, offline)
into a temporary directory, keeps only what the runtime stage copies, and runs the entrypoint."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wom_chassis.database
import wom_contracts

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DOCKERFILE = ROOT / "deploy/Dockerfile"
WOMCTL_DOCKERFILE = ROOT / "deploy/womctl/Dockerfile"
SERVICES = ("referrals", "rewards", "outreach", "feedback")
WORKDIR = "/app"
REHEARSABLE = {"uv", "python", "ln", "test", "mkdir"}  # RUN programs the rehearsal may run


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def copies(self, service: str | None) -> list[Copy]:
        result = []
        for args in self.args("COPY"):
            words = [_expand(word, service) for word in shlex.split(args)]
            flags = dict(word[2:].split("=", 1) for word in words if word.startswith("--"))
            paths = [word for word in words if not word.startswith("--")]
            result.append(Copy(paths[:-1], paths[-1], flags.get("from")))
        return result


def _expand(text: str, service: str | None) -> str:
    if service is None:
        return text
    return text.replace("${SERVICE}", service).replace("$SERVICE", service)


def parse_dockerfile(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, each with its instructions (continuation lines joined)."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if (pending + line).strip():
            logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            named = len(words) > 2 and words[1].upper() == "AS"
            stages.append(Stage(words[2] if named else str(len(stages))))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def _stage(stages: list[Stage], name: str) -> Stage:
    return next(stage for stage in stages if stage.name == name)


def image_cases() -> Iterator[tuple[str, Path, str | None]]:
    for service in SERVICES:
        yield service, SERVICE_DOCKERFILE, service
    yield "womctl", WOMCTL_DOCKERFILE, None


CASES = list(image_cases())
IDS = [name for name, _, _ in CASES]


# --- .dockerignore, as the Docker builder reads it ---------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def dockerignore_rules() -> list[tuple[re.Pattern[str], bool]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((_pattern(os.path.normpath(line.lstrip("!").strip("/"))), negated))
    return rules


def in_context(relative: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Whether a file is sent to the builder: the last pattern that matches it or a parent wins."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for pattern, negated in rules:
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            included = negated
    return included


def context_files(source: Path, rules: list[tuple[re.Pattern[str], bool]]) -> list[Path]:
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    return [p for p in files if in_context(p.relative_to(ROOT).as_posix(), rules)]


def test_the_dockerignore_matcher_follows_the_builder() -> None:
    rules = [(_pattern("*"), False), (_pattern("services/*/src"), True), (_pattern("**/__pycache__"), False)]
    assert in_context("services/rewards/src/rewards/app.py", rules)
    assert not in_context("services/rewards/tests/service/test_api.py", rules)
    assert not in_context("services/rewards/src/rewards/__pycache__/app.cpython-311.pyc", rules)
    assert not in_context(".venv/bin/python", rules)


def test_the_build_context_leaves_out_the_heavy_and_the_private() -> None:
    rules = dockerignore_rules()
    left_out = (
        ".venv/bin/python", "var/rewards.db", ".git/HEAD", ".env",
        "services/rewards/tests/service/test_api.py",
        "chassis/src/wom_chassis/__pycache__/x.pyc", "services/feedback/agents.demo.yaml",
    )  # fmt: skip
    for path in left_out:
        assert not in_context(path, rules), path


# --- what each image copies and holds ----------------------------------------------------------


@pytest.mark.parametrize(("name", "dockerfile", "service"), CASES, ids=IDS)
def test_every_copied_path_exists_and_is_in_the_build_context(
    name: str, dockerfile: Path, service: str | None
) -> None:
    rules = dockerignore_rules()
    builder = _stage(parse_dockerfile(dockerfile), "builder")
    copies = [copy for copy in builder.copies(service) if copy.from_stage is None]
    assert copies
    for copy in copies:
        for source in copy.sources:
            path = ROOT / source
            assert path.exists(), f"{dockerfile.name} copies {source}, which does not exist"
            assert context_files(path, rules), f"{source} is left out of the build context by .dockerignore"
            every = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            left_out = [
                p.relative_to(ROOT).as_posix()
                for p in every
                if "__pycache__" not in p.parts and not in_context(p.relative_to(ROOT).as_posix(), rules)
            ]
            assert not left_out, f"{source}: .dockerignore leaves out {left_out[:5]}"


def image_paths(dockerfile: Path, service: str | None) -> tuple[list[str], list[str]]:
    """What the builder copies in (relative to the repository) and what the runtime takes from it."""
    stages = parse_dockerfile(dockerfile)
    built: list[str] = []
    for copy in _stage(stages, "builder").copies(service):
        if copy.from_stage is not None:
            continue
        for source in copy.sources:
            into_directory = copy.dest.endswith("/")
            lands = os.path.normpath(f"{copy.dest}{Path(source).name}" if into_directory else copy.dest)
            # the image mirrors the repository's layout: the editable installs point into it
            assert lands == source, f"{dockerfile.name}: {source} lands at {lands}"
            built.append(source)
    runtime = stages[-1]
    kept = [
        source.removeprefix(f"{WORKDIR}/")
        for copy in runtime.copies(service)
        if copy.from_stage == "builder"
        for source in copy.sources
        if source.startswith(f"{WORKDIR}/")
    ]
    return built, kept


def runtime_reads(service: str | None) -> list[Path]:
    """The files and directories a program reads from its own tree at run time."""
    if service is None:
        topics = importlib.import_module("womctl.topics")
        return [topics.DEFAULT_DEFINITION, Path(topics.__file__).parent]
    app = importlib.import_module(f"{service}.app")
    rules = importlib.import_module(f"{service}.rules")
    return [
        app.MIGRATIONS,
        rules.DEFAULT_RULES_FILE,
        Path(app.__file__).parent,  # the package: templates, lexicon, disposable domains
        wom_chassis.database.MIGRATIONS_DIR,
        Path(wom_contracts.__file__).parent,
    ]


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


@pytest.mark.parametrize(("name", "dockerfile", "service"), CASES, ids=IDS)
def test_the_final_stage_holds_what_the_program_reads(
    name: str, dockerfile: Path, service: str | None
) -> None:
    built, kept = image_paths(dockerfile, service)
    for path in runtime_reads(service):
        relative = path.resolve().relative_to(ROOT).as_posix()
        assert path.exists(), relative
        assert _under(relative, built), f"the builder of {name} does not copy {relative}"
        assert _under(relative, kept), f"the final stage of {name} does not take {relative} from the builder"


@pytest.mark.parametrize(("name", "dockerfile", "service"), CASES, ids=IDS)
def test_the_final_stage_is_small_and_runs_as_a_user(
    name: str, dockerfile: Path, service: str | None
) -> None:
    stages = parse_dockerfile(dockerfile)
    runtime = stages[-1]
    assert len(stages) >= 3 and runtime.name != "builder"
    users = runtime.args("USER")
    assert users and users[-1] not in ("root", "0"), "the final stage must not run as root"
    assert not any("uv" in copy.sources[0] for copy in runtime.copies(service) if copy.from_stage == "uv")
    syncs = [args for args in _stage(stages, "builder").args("RUN") if "uv sync" in args]
    assert syncs and all("--frozen" in args and "--no-dev" in args and "--package" in args for args in syncs)
    assert runtime.args("ENTRYPOINT")
    if service is not None:
        (healthcheck,) = runtime.args("HEALTHCHECK")
        assert "/alive" in healthcheck or "/health" in healthcheck


# --- the rehearsal -----------------------------------------------------------------------------


def _copy_into(source: Path, target: Path, rules: list[tuple[re.Pattern[str], bool]]) -> None:
    for file in context_files(source, rules):
        relative = file.relative_to(source) if source.is_dir() else Path(file.name)
        destination = target / relative if source.is_dir() else target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)


def _environment(stage: Stage, venv: Path, service: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))}
    for args in stage.args("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value.replace("/opt/venv", str(venv))
    env |= {
        "SERVICE": service or "",
        "UV_PYTHON": str(Path(sys.base_prefix) / "bin" / "python3"),
        "UV_OFFLINE": "1",  # a test never downloads: everything is in uv's cache after `uv sync`
        "UV_COMPILE_BYTECODE": "0",  # the same files, without minutes of compiling on a small machine
        "UV_LINK_MODE": "hardlink",
    }
    return env


def rehearse(dockerfile: Path, service: str | None, root: Path) -> tuple[Path, Path, dict[str, str]]:
    """Replay the builder stage into root/app, then keep only what the runtime stage copies."""
    rules = dockerignore_rules()
    stages = parse_dockerfile(dockerfile)
    builder = _stage(stages, "builder")
    app, venv = root / "app", root / "venv"
    app.mkdir()
    env = _environment(builder, venv, service)
    for keyword, args in builder.instructions:
        if keyword == "COPY":
            (copy,) = Stage("one", [(keyword, args)]).copies(service)
            if copy.from_stage is not None:
                continue
            for source in copy.sources:
                target = app / copy.dest
                if copy.dest.endswith("/"):
                    target = target / Path(source).name
                _copy_into(ROOT / source, target, rules)
        elif keyword == "RUN":
            command = re.sub(r"^(?:--mount=\S+\s+)+", "", args).replace("/opt/venv", str(venv))
            programs = {part.split()[0] for part in command.split("&&")}
            # a RUN runs on this machine here: only what is known to touch nothing outside tmp_path
            assert programs <= REHEARSABLE, f"teach the rehearsal about {sorted(programs - REHEARSABLE)}"
            result = subprocess.run(["sh", "-c", command], cwd=app, env=env, capture_output=True, text=True)
            assert result.returncode == 0, f"RUN {args}\n{result.stdout}\n{result.stderr}"
    kept = image_paths(dockerfile, service)[1]
    for path in sorted(app.rglob("*"), reverse=True):
        relative = path.relative_to(app).as_posix()
        if not _under(relative, kept) and not any(k.startswith(relative + "/") for k in kept):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    runtime_env = _environment(stages[-1], venv, service)
    runtime_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return app, venv, runtime_env


def _latest_revision(service: str) -> str:
    revisions = [
        match.group(1)
        for path in (ROOT / f"services/{service}/migrations/versions").glob("*.py")
        if (match := re.search(r'^revision: str = "([^"]+)"', path.read_text(), re.MULTILINE))
    ]
    return max(revisions)


@pytest.mark.parametrize(("name", "dockerfile", "service"), CASES, ids=IDS)
def test_a_rehearsed_image_runs_its_entrypoint(
    name: str, dockerfile: Path, service: str | None, tmp_path: Path
) -> None:
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH")
    app, venv, env = rehearse(dockerfile, service, tmp_path)
    (entrypoint,) = parse_dockerfile(dockerfile)[-1].args("ENTRYPOINT")
    program = str(venv / "bin" / json_list(entrypoint)[0])
    if service is None:
        result = subprocess.run([program, "--help"], cwd=app, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        check = "from womctl.topics import load_definition; print(len(load_definition().topics))"
        result = subprocess.run([str(venv / "bin/python"), "-c", check], cwd=app, env=env,
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0 and int(result.stdout) > 0, result.stderr
        return
    database = tmp_path / f"{service}.db"
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    result = subprocess.run([program, "migrate"], cwd=app, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(database) as db:
        versions = {row[0] for row in db.execute("select version_num from alembic_version")}
    assert _latest_revision(service) in versions, versions


def json_list(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list), "ENTRYPOINT in exec form"
    return [str(item) for item in value]
