# wom: `make test` and `make up` work on a fresh clone (they install uv and dependencies first).
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >/dev/null 2>&1; command -v uv 2>/dev/null || echo python3 -m uv)
endif

.PHONY: install test lint format up demo publish-sample schemas bench chaos clean

# --compile-bytecode: every process the tests and `make up` start would otherwise compile its
# imports from source (all of them when PYTHONDONTWRITEBYTECODE is set), about 5 s of CPU each
install:
	$(UV) sync --frozen --compile-bytecode

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
	$(UV) run womctl dev up

demo: install
	$(UV) run womctl dev demo

publish-sample: install
	$(UV) run womctl dev publish-sample

schemas: install
	$(UV) run python -m wom_contracts.schemas

bench: install
	$(UV) run python -m tests.bench

chaos: install
	$(UV) run python -m tests.chaos

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
