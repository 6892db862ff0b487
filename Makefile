# VAS Task Portal. `make run` to try it, `make test` to prove it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8900

.PHONY: install run test lint format bench browser clean

install: $(STAMP)

# Reinstalls only when pyproject.toml changes (or the venv is missing).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# A development .env (DEBUG on, plain http, loopback simulator allowed), never committed.
.env:
	@$(BIN)/python -c "import secrets; from cryptography.fernet import Fernet; \
	print('DEBUG=true'); print('PORTAL_HTTPS=false'); \
	print('SECRET_KEY=' + secrets.token_urlsafe(50)); \
	print('PORTAL_CREDENTIALS_KEYS=' + Fernet.generate_key().decode()); \
	print('PORTAL_UPSTREAM_ALLOWED_HOSTS=.myhuaweicloud.com,127.0.0.1,localhost')" > .env
	@echo "wrote a development .env"

run: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo --simulator-url http://$(HOST):$(SIM_PORT)
	@trap 'kill 0' INT TERM EXIT; export PORTAL_BASE_URL=$${PORTAL_BASE_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/python manage.py runsimulator --host $(HOST) --port $(SIM_PORT) & \
	$(BIN)/python manage.py runworker --threads 2 & \
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

# System packages from Debian: Chromium for the browser tests (never `playwright install`), a CJK
# font so Chinese text renders in screenshots, gettext for the translation catalogues.
SYSTEM_PACKAGES := chromium fonts-wqy-zenhei gettext
browser:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# mypy with the django-stubs plugin, which imports the settings: DEBUG=true so that no production
# secret is needed to type-check.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	@for script in bench/bench_*.py bench/resilience_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache
