"""Where the broker and PostgreSQL of a test run come from: every branch of the choice, with the
probes as fakes that count how often they are asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from wom_testkit import free_port, sources
from wom_testkit.sources import LOCAL_POSTGRES_URL, Source, Sources, choose_sources

KAFKA = "broker.example:9092"
DATABASE = "postgresql+asyncpg://ci:secret@db.example:5432/wom_test"


class Probe:
    """A probe's answer, and how many times it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answer


def choose(
    environ: dict[str, str], engine: bool = False, local: bool = False
) -> tuple[Sources, Probe, Probe]:
    engine_probe, local_probe = Probe(engine), Probe(local)
    return choose_sources(environ, engine_probe, local_probe), engine_probe, local_probe


def test_what_the_environment_names_wins_over_containers_and_nothing_is_probed() -> None:
    chosen, engine, local = choose(
        {"KAFKA_BOOTSTRAP_SERVERS": KAFKA, "WOM_TEST_POSTGRES_URL": DATABASE, "WOM_TESTCONTAINERS": "1"},
        engine=True,
        local=True,
    )
    assert chosen.kafka == Source("configured", "KAFKA_BOOTSTRAP_SERVERS is set", KAFKA)
    assert chosen.postgres == Source("configured", "WOM_TEST_POSTGRES_URL is set", DATABASE)
    assert (engine.asked, local.asked) == (0, 0)


@pytest.mark.parametrize("flag", [{}, {"WOM_TESTCONTAINERS": "0"}, {"WOM_TESTCONTAINERS": ""}], ids=str)
def test_without_containers_asked_for_the_engine_is_never_probed(flag: dict[str, str]) -> None:
    chosen, engine, local = choose(flag, engine=True, local=True)
    assert chosen.kafka.kind == "embedded"
    assert chosen.kafka.why == "KAFKA_BOOTSTRAP_SERVERS is not set, WOM_TESTCONTAINERS is not 1"
    assert chosen.postgres == Source(
        "local", "WOM_TEST_POSTGRES_URL is not set, WOM_TESTCONTAINERS is not 1", LOCAL_POSTGRES_URL
    )
    assert (engine.asked, local.asked) == (0, 1)


def test_containers_when_asked_for_and_the_engine_answers_asked_once() -> None:
    chosen, engine, local = choose({"WOM_TESTCONTAINERS": "1"}, engine=True, local=True)
    assert (chosen.kafka.kind, chosen.postgres.kind) == ("container", "container")
    assert "apache/kafka:" in chosen.kafka.why and "KRaft" in chosen.kafka.why
    assert chosen.postgres.why.endswith("postgres:16-alpine")
    assert chosen.kafka.url is None and chosen.postgres.url is None  # known once started
    assert (engine.asked, local.asked) == (1, 0)


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": KAFKA}, ("configured", "container")),
        ({"WOM_TEST_POSTGRES_URL": DATABASE}, ("container", "configured")),
    ],
    ids=["broker named", "database named"],
)
def test_each_source_is_chosen_on_its_own(named: dict[str, str], expected: tuple[str, str]) -> None:
    chosen, engine, _ = choose({"WOM_TESTCONTAINERS": "1", **named}, engine=True)
    assert (chosen.kafka.kind, chosen.postgres.kind) == expected
    assert engine.asked == 1


def test_containers_asked_for_without_an_engine_fall_back_saying_so() -> None:
    chosen, engine, local = choose({"WOM_TESTCONTAINERS": "1"}, engine=False, local=True)
    assert chosen.kafka == Source(
        "embedded", "KAFKA_BOOTSTRAP_SERVERS is not set, WOM_TESTCONTAINERS=1 but no Docker engine answers"
    )
    assert chosen.postgres.kind == "local" and chosen.postgres.url == LOCAL_POSTGRES_URL
    assert "no Docker engine answers" in chosen.postgres.why
    assert (engine.asked, local.asked) == (1, 1)


def test_no_postgresql_anywhere_is_absent_with_the_reason_the_tests_skip_with() -> None:
    chosen, _, local = choose({"WOM_TESTCONTAINERS": "1"}, engine=False, local=False)
    assert chosen.postgres.kind == "absent" and chosen.postgres.url is None
    assert chosen.postgres.why == (
        "WOM_TEST_POSTGRES_URL is not set, WOM_TESTCONTAINERS=1 but no Docker engine answers, and no "
        "PostgreSQL answers as wom/wom at 127.0.0.1:5432/wom_test (scripts/bootstrap sets one up when "
        "run as root)"
    )
    assert local.asked == 1


def test_a_blank_variable_names_nothing() -> None:
    chosen, _, _ = choose({"KAFKA_BOOTSTRAP_SERVERS": " ", "WOM_TEST_POSTGRES_URL": ""}, local=False)
    assert (chosen.kafka.kind, chosen.postgres.kind) == ("embedded", "absent")


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_a_containers_flag_it_does_not_take_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match=f"WOM_TESTCONTAINERS must be 1 .* or 0, not '{value}'"):
        choose({"WOM_TESTCONTAINERS": value}, engine=True)


def test_the_report_line_names_the_source_without_its_password() -> None:
    line = Source("configured", "WOM_TEST_POSTGRES_URL is set", DATABASE).describe()
    assert (
        line
        == "configured postgresql+asyncpg://ci:***@db.example:5432/wom_test (WOM_TEST_POSTGRES_URL is set)"
    )
    assert Source("configured", "set", KAFKA).describe() == f"configured {KAFKA} (set)"
    assert Source("embedded", "why").describe() == "embedded (why)"


def test_the_url_of_a_named_or_local_postgresql_starts_nothing() -> None:
    with ExitStack() as containers:
        assert (
            sources.postgres_url(Source("local", "why", LOCAL_POSTGRES_URL), containers) == LOCAL_POSTGRES_URL
        )
        assert sources.postgres_url(Source("absent", "why"), containers) is None


def test_a_postgresql_container_lives_until_the_run_closes_its_containers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []

    @contextmanager
    def container() -> Iterator[str]:
        events.append("started")
        yield "postgresql+asyncpg://wom:wom@localhost:32768/wom_test"
        events.append("stopped")

    monkeypatch.setattr(sources, "postgres_container", container)
    with ExitStack() as containers:
        url = sources.postgres_url(Source("container", "why"), containers)
        assert url == "postgresql+asyncpg://wom:wom@localhost:32768/wom_test" and events == ["started"]
    assert events == ["started", "stopped"]


def test_an_engine_that_does_not_answer_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
    assert sources.docker_engine_answers() is False
