# wom: `make test` and `make up` work on a fresh clone (they install uv and dependencies first).
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >/dev/null 2>&1; command -v uv 2>/dev/null || echo python3 -m uv)
endif

.PHONY: install test lint format up demo publish-sample schemas bench chaos clean

install:
	$(UV) sync --frozen

test: install lint
	$(UV) run pytest

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy contracts/src chassis/src
	$(UV) run mypy services/referrals/src services/rewards/src services/outreach/src services/feedback/src deploy/womctl/src

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

up: install
	$(UV) run womctl up

demo: install
	$(UV) run womctl demo

publish-sample: install
	$(UV) run womctl publish-sample

schemas: install
	$(UV) run python -m wom_contracts.schemas

bench: install
	$(UV) run python -m tests.bench

chaos: install
	$(UV) run python -m tests.chaos

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
