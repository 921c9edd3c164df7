# wom: `make test` and `make up` work on a fresh clone: scripts/bootstrap installs what is missing.
# uv, or python3's module when pip put uv where PATH does not look (evaluated at each use).
UV = $(or $(shell command -v uv 2>/dev/null),python3 -m uv)

.PHONY: bootstrap install test lint audit format up demo publish-sample schemas bench chaos clean

bootstrap:
	scripts/bootstrap

# --compile-bytecode: every process the tests and `make up` start would otherwise compile its
# imports from source (all of them when PYTHONDONTWRITEBYTECODE is set), about 5 s of CPU each
install:
	scripts/bootstrap uv
	$(UV) sync --frozen --compile-bytecode

# two workers (pytest-xdist): the tests that start processes on one, one at a time, the rest
# shared (conftest.py); `uv run pytest` alone runs everything in one process
test: bootstrap lint audit
	$(UV) run pytest -n 2 --dist loadgroup

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy contracts/src chassis/src testkit/src
	$(UV) run mypy services/referrals/src services/rewards/src services/outreach/src services/feedback/src deploy/womctl/src

# every pin of uv.lock against an OSV service (tests/audit): exit 1 on a vulnerability with a fixed
# release; where no advisory service answers it says NOT AUDITED and fails only with WOM_AUDIT_REQUIRED=1
audit: install
	$(UV) run python -m tests.audit

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
	$(UV) run womctl contracts asyncapi

bench: install
	$(UV) run python -m tests.bench

chaos: install
	$(UV) run python -m tests.chaos

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
