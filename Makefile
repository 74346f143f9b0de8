# make serve [PORT=8080]   run the service on http://127.0.0.1:$(PORT) (development settings)
# make test                run the test suite
# Both create .venv with `python3 -m venv` and install the package on first use; the install is
# redone only when pyproject.toml changes (the stamp file's name carries a checksum of it).

PORT ?= 8080
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d ' ' -f 1)

# The integration tests run against a real FHIR server (sekmet-fhir), in its own venv so its
# dependencies (FastAPI, uvicorn) never mix with the service's.
FHIR_VENV := .venv-fhir
FHIR_STAMP := $(FHIR_VENV)/.installed-$(shell cksum < tests/integration/sekmet-requirements.txt | cut -d ' ' -f 1)

.PHONY: serve test install

install: $(STAMP)

$(FHIR_STAMP): tests/integration/sekmet-requirements.txt
	test -x $(FHIR_VENV)/bin/python || $(PYTHON) -m venv $(FHIR_VENV)
	$(FHIR_VENV)/bin/python -m pip install --quiet -r tests/integration/sekmet-requirements.txt
	rm -f $(FHIR_VENV)/.installed-*
	touch $@

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Development defaults (no authentication, requests may pin "today", SQLite under var/);
# each yields to the same variable set in the environment.
serve: $(STAMP)
	mkdir -p var
	CDS_AUTH="$${CDS_AUTH:-off}" \
	CDS_CLOCK_OVERRIDE="$${CDS_CLOCK_OVERRIDE:-on}" \
	CDS_DATABASE_URL="$${CDS_DATABASE_URL:-sqlite:///var/cds-service.sqlite3}" \
	$(BIN)/cds-service serve --host 127.0.0.1 --port $(PORT)

# The FHIR server is required here (not skipped when missing): `make test` installs it.
test: $(STAMP) $(FHIR_STAMP)
	CDS_TEST_REQUIRE_FHIR_SERVER=1 $(BIN)/python -m pytest
