# The two commands a newcomer needs: `make serve` and `make test`.
# Each does all of its own set-up (virtualenv, install, migrations, site build).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

# A development secret, made once per checkout and read at run time (so it is
# never echoed); production sets CAPTURE_SECRET_KEY.
DEV_SECRET = $$(cat var/secret_key)
WITH_SECRET = CAPTURE_SECRET_KEY=$${CAPTURE_SECRET_KEY:-$(DEV_SECRET)}
# Links in emails point where `make serve` listens (PORT), unless CAPTURE_PUBLIC_URL says otherwise.
PUBLIC_URL = CAPTURE_PUBLIC_URL=$${CAPTURE_PUBLIC_URL:-http://127.0.0.1:$(PORT)}

.PHONY: serve test test-fast test-weekend site docs migrate leads install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

var/secret_key:
	mkdir -p var
	$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

# Material 9.8 prints an end-of-life banner (and ProperDocs a notice) on every build; see
# handbook/development.md, "The site".
site: $(STAMP)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict --quiet

# The command-line reference, written again from every command's own --help (cog runs the
# commands in a throw-away environment; tests/test_handbook.py fails when the file is stale).
docs: $(STAMP)
	$(BIN)/cog -r handbook/reference/cli.md

migrate: $(STAMP) var/secret_key
	$(WITH_SECRET) $(BIN)/flask --app capture db upgrade

# The newest leads in the local database (what `make serve` stored).
leads: $(STAMP) var/secret_key
	@$(WITH_SECRET) $(BIN)/flask --app capture leads list

serve: $(STAMP) var/secret_key site migrate
	@$(WITH_SECRET) $(PUBLIC_URL) CAPTURE_SITE_DIR=site \
	  $(BIN)/flask --app capture check
	@echo "Serving the site and the API at http://127.0.0.1:$(PORT)/ (Ctrl+C stops)"
	$(WITH_SECRET) $(PUBLIC_URL) CAPTURE_SITE_DIR=site \
	CAPTURE_EMBEDDED_WORKER=$${CAPTURE_EMBEDDED_WORKER:-1} \
	  $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile - \
	  --logger-class capture.ops.accesslog.RedactingLogger 'capture:create_app()'

# axe-core for the accessibility checks (tests/e2e), pinned by tests/e2e/package-lock.json.
# Installed when missing or when the lockfile changes; without npm those checks skip.
NPM := $(shell command -v npm 2>/dev/null)
E2E_NODE := tests/e2e/node_modules/.installed

$(E2E_NODE): tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: $(STAMP) $(if $(NPM),$(E2E_NODE))
	$(BIN)/python -m pytest

# The quick loop while coding (under a minute on two cores): SQLite only, no site builds, no
# browsers, nothing marked slow (over about 3 s), on every core. `make test` still runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not site and not e2e and not slow and not postgres"

# The most date-sensitive tests once more, as if it were a Saturday evening (handbook/development.md,
# "Time in tests").
WEEKEND_TESTS := tests/intake/test_openapi.py tests/reports/test_digest.py tests/booking/test_appointments.py \
                 tests/pipeline/test_stages.py tests/booking/test_slots.py tests/schema/test_worktime.py \
                 tests/schema/test_forms.py tests/schema/test_validation.py
test-weekend: $(STAMP)
	CAPTURE_TEST_NOW=2026-12-05T19:30:00+00:00 $(BIN)/python -m pytest -q $(WEEKEND_TESTS)

clean:
	rm -rf site .pytest_cache
