"""Every service's HTTP API answers as its OpenAPI document says: schemathesis generates requests
from the document (seeded, a few examples an operation) and checks each answer against it.

The app runs in process on its own SQLite database and FastStream's in-memory broker; requests
reach it through a `requests` adapter that drives the ASGI app on one event loop, the loop the
database's connections belong to, so no port is opened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import urllib3
from feedback.app import create_app as create_feedback
from feedback.rules import DEFAULT_RULES_FILE as FEEDBACK_RULES
from feedback.settings import FeedbackSettings
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from outreach.app import create_app as create_outreach
from outreach.rules import DEFAULT_RULES_FILE as OUTREACH_RULES
from outreach.settings import OutreachSettings
from referrals.app import create_app as create_referrals
from referrals.rules import DEFAULT_RULES_FILE as REFERRALS_RULES
from referrals.settings import ReferralsSettings
from rewards.app import create_app as create_rewards
from rewards.rules import DEFAULT_RULES_FILE as REWARDS_RULES
from rewards.settings import RewardsSettings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.transport import requests as requests_transport
from wom_chassis import Service
from wom_testkit import free_port, in_memory_service, rules_file

TOKEN = "secret-token"
_PERIOD = "`from` after `to`, or a period over 366 days, is a 422 the schema cannot say (two parameters)"
ACCEPTS_LESS_THAN_DOCUMENTED: dict[tuple[str, str], str] = {
    # (service, "METHOD /path"): why a schema-valid request may be refused
    ("rewards", "POST /customers/{customer_id}/redemptions"): "the minimum, the step and the currencies "
    "that redeem are the rules file's, not the schema's: a 422 that names the rule",
    ("referrals", "GET /analytics"): _PERIOD,
    ("referrals", "GET /analytics/summary"): _PERIOD,
    ("referrals", "GET /analytics/funnel/daily"): _PERIOD,
    ("referrals", "GET /analytics/funnel/advocates"): _PERIOD,
    ("referrals", "GET /analytics/leaderboard"): _PERIOD,
    ("feedback", "GET /analytics/summary"): _PERIOD,
    ("feedback", "GET /analytics/nps/daily"): _PERIOD,
    ("feedback", "GET /analytics/cases/daily"): _PERIOD,
}
"""Operations excluded from schemathesis' positive_data_acceptance check, each with its reason;
every other check runs on them."""
EXAMPLES = 5
BASE_URL = "http://wom.test"


def _rewards(url: str, rules: Path) -> Service:
    return create_rewards(RewardsSettings(database_url=url, api_token=TOKEN, rewards_rules_file=rules))


def _referrals(url: str, rules: Path) -> Service:
    return create_referrals(ReferralsSettings(database_url=url, api_token=TOKEN, referrals_rules_file=rules))


def _outreach(url: str, rules: Path) -> Service:
    return create_outreach(
        OutreachSettings(
            database_url=url,
            api_token=TOKEN,
            outreach_rules_file=rules,
            outreach_public_url="https://mail.example.com",
            outreach_unsubscribe_secret="test-key",
            smtp_port=free_port(),
        )
    )


def _feedback(url: str, rules: Path) -> Service:
    return create_feedback(
        FeedbackSettings(
            database_url=url,
            api_token=TOKEN,
            feedback_rules_file=rules,
            feedback_intake_secret="survey-tool-secret",
            feedback_session_secret="test-secret-key",
        )
    )


SERVICES: dict[str, tuple[Callable[[str, Path], Service], Path]] = {
    "rewards": (_rewards, REWARDS_RULES),
    "referrals": (_referrals, REFERRALS_RULES),
    "outreach": (_outreach, OUTREACH_RULES),
    "feedback": (_feedback, FEEDBACK_RULES),
}


class _InProcess(requests.adapters.BaseAdapter):
    """Sends each request to the ASGI app on `runner`'s loop and answers as `requests` does."""

    def __init__(self, runner: asyncio.Runner, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.runner = runner
        self.client = client

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:  # type: ignore[override]
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.runner.run(
            self.client.request(
                request.method or "GET", request.url or "/", headers=dict(request.headers), content=body
            )
        )
        response = requests.Response()
        response.status_code = answer.status_code
        headers = urllib3.HTTPHeaderDict()
        for name, value in answer.headers.multi_items():
            headers.add(name, value)
        response.raw = urllib3.HTTPResponse(headers=headers, status=answer.status_code, version=11)
        response.headers = requests.structures.CaseInsensitiveDict(headers)
        response.elapsed = answer.elapsed
        response._content = answer.content
        response.url = request.url or ""
        response.request = request
        response.reason = answer.reason_phrase
        return response

    def close(self) -> None:
        pass


@pytest.fixture(scope="module", params=list(SERVICES))
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """(name, service, a `requests` adapter reaching its app in process) on a fresh SQLite database."""
    build, shipped_rules = SERVICES[request.param]
    directory = tmp_path_factory.mktemp(request.param)
    rules = rules_file(directory, shipped_rules, None)
    service = build(f"sqlite+aiosqlite:///{directory / 'db.sqlite'}", rules)
    with asyncio.Runner() as runner:
        running = in_memory_service(service)
        runner.run(running.__aenter__())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url=BASE_URL)
        try:
            yield request.param, service, _InProcess(runner, client)
        finally:
            runner.run(client.aclose())
            runner.run(running.__aexit__(None, None, None))


def _check(operation: Any, mode: GenerationMode, excluded: list[Any]) -> None:
    """Requests valid (positive) or not (negative) for `operation`, each answer checked."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=BASE_URL, headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded
        )

    check()


def test_every_operation_answers_as_documented(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name, service, adapter = served

    class InProcessSession(requests_transport.SameHostRedirectsSession):
        def __init__(self) -> None:
            super().__init__()
            self.mount(BASE_URL, adapter)

    # every session schemathesis opens, its probes' without credentials too, reaches the app
    monkeypatch.setattr(requests_transport, "SameHostRedirectsSession", InProcessSession)
    schema = schemathesis.openapi.from_dict(service.http.openapi())
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        excluded = [positive_data_acceptance] if (name, label) in ACCEPTS_LESS_THAN_DOCUMENTED else []
        for mode in GenerationMode:
            try:
                _check(operation, mode, excluded)
            except Unsatisfiable:  # nothing to get wrong: an operation that takes no input
                assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body, label
            except BaseExceptionGroup as group:  # schemathesis' FailureGroup: one per distinct failure
                found = "\n".join(f"  - {type(error).__name__}: {error}" for error in group.exceptions)
                failures.append(f"{label} ({mode.value}):\n{found}")
    assert not failures, "\n\n".join(failures)
