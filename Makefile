# carekey — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= var
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint unit lock typecheck format bench clean i18n i18n-check
# `make test` and `make typecheck` type-check the whole package: strict on domain, policy, audit, services, crypto
# and errors, the normal checks elsewhere (pyproject.toml [tool.mypy]); the cache (.mypy_cache) keeps a re-run fast.
MYPY_PACKAGES ?= -p carekey

# requirements.lock pins every package (all extras) for reproducible CI; `make lock` refreshes it after a
# change of pyproject.toml's dependencies. `pip install carekey` alone installs only what `serve` needs.
$(BIN)/.installed: pyproject.toml requirements.lock
	@echo "==> [1/3] creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "==> [3/3] installing carekey with its dev extra (tests, bench, postgres, demo, ray), pinned by requirements.lock"
	$(BIN)/python -m pip install --progress-bar off -c requirements.lock -e '.[dev]'
	touch $@
	@echo "==> installed: $$($(BIN)/carekey --version)"

install: $(BIN)/.installed

## Set up the venv, initialize the embedded (SQLite) database under ./var, seed the demo, serve.
run: install
	@echo "==> initializing $(DATA) (SQLite database and key files), seeding the demo if empty, then serving"
	$(BIN)/carekey init --data $(DATA) --if-missing
	$(BIN)/carekey demo --data $(DATA) --if-empty
	$(BIN)/carekey serve --data $(DATA) --host $(HOST) --port $(PORT)

## Rewrite the code in the house format (ruff format); `make test` fails on unformatted files.
format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy $(MYPY_PACKAGES)

# pytest-xdist: one worker per CPU ("logical"; `make test PYTEST_WORKERS=0` runs in one process). Each worker has
# its own temp folders and, under CAREKEY_TEST_PG_URL, its own PostgreSQL database (tests/conftest.py,
# worker_database); `--dist loadgroup` keeps the browser tests (one shared server and Chromium) on one worker and
# the tests of a module with a module-scoped fixture together (tests/conftest.py, pytest_xdist_make_scheduler).
PYTEST_WORKERS ?= logical
XDIST = -n $(PYTEST_WORKERS) --dist loadgroup
# Python's bytecode cache on even where the environment turns it off (PYTHONDONTWRITEBYTECODE): every worker and
# every `carekey` subprocess of the tests would otherwise recompile the sources and re-rewrite the asserts.
PYTEST = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(XDIST)

## The whole test suite: lint, layer contracts, unit, integration (SQLite, and PostgreSQL when
## CAREKEY_TEST_PG_URL is set), end-to-end (API, CLI, web UI in headless Chromium).
test: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy $(MYPY_PACKAGES)
	$(PYTEST)

## The fast unit tests (no slow image pipelines; well under a minute).
unit: install
	$(PYTEST) tests/unit -m "not slow" -q

## Re-pin requirements.lock from pyproject.toml (all extras, Python 3.11), with uv's resolver.
lock:
	$(PYTHON) -m pip install -q --user uv 2>/dev/null || $(PYTHON) -m pip install -q uv
	$(PYTHON) -m uv pip compile pyproject.toml --all-extras --python-version 3.11 --quiet -o requirements.lock

## Translations: extract every marked string (templates, web Python, messages of errors) into messages.pot,
## merge it into each catalog (EN and FR), fill the English catalog with the source text, compile the .mo files
## (committed, so an install has them). Translate the new empty msgstr of locale/fr/.../messages.po, then run again.
LOCALE := src/carekey/interfaces/web/locale
## marked strings (N_, msg) and the constant message of each error people may read, taken from the raising call
I18N_KEYWORDS := -k N_ -k msg -k _deny -k InvalidInput -k OutOfRange -k CaptureRejected -k NotAuthenticated \
	-k Forbidden -k RefusedPurpose -k ConsentMissing -k PresenceRequired -k RateLimited -k NotFound -k Conflict \
	-k PossibleDuplicate -k BudgetExhausted -k TemplateError
i18n: install
	$(BIN)/pybabel extract -F babel.cfg $(I18N_KEYWORDS) --no-location --sort-output --omit-header \
		-o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m carekey.interfaces.web.catalogs fill-source $(LOCALE)/en/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile -d $(LOCALE) -D messages --statistics

## Fails when a catalog is missing a translation or its .mo is older than its .po.
i18n-check: install
	$(BIN)/python -m carekey.interfaces.web.catalogs check $(LOCALE)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
