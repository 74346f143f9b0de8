# make serve [PORT=8080]   run the service on http://127.0.0.1:$(PORT) (development settings)
# make test                run the test suite
# Both create .venv with `python3 -m venv` on first use. `serve` installs only what serving needs
# (requirements.lock, hash-checked, and the package without its dependencies); `test` adds the
# development tools. Each install is redone only when its inputs change (the stamp file's name
# carries a checksum of them). The installs go through uv (pinned, installed by pip into the
# venv): measured on this 2-core machine, pip took 25-35 s for the runtime alone, uv 3-5 s.

PORT ?= 8080
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.lock pyproject.toml | cksum | cut -d ' ' -f 1)
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d ' ' -f 1)

# The integration tests run against a real FHIR server (sekmet-fhir), in its own venv so its
# dependencies (FastAPI, uvicorn) never mix with the service's.
FHIR_VENV := .venv-fhir
FHIR_STAMP := $(FHIR_VENV)/.installed-$(shell cksum < tests/integration/sekmet-requirements.txt | cut -d ' ' -f 1)

.PHONY: serve test install lint

install: $(STAMP)

$(FHIR_STAMP): tests/integration/sekmet-requirements.txt
	test -x $(FHIR_VENV)/bin/python || $(PYTHON) -m venv $(FHIR_VENV)
	$(FHIR_VENV)/bin/python -m pip install --quiet -r tests/integration/sekmet-requirements.txt
	rm -f $(FHIR_VENV)/.installed-*
	touch $@

# The venv is made without pip (ensurepip alone took 12 s here) and uv is put in it by the
# system's pip; where there is none, by a venv's own pip.
$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet uv==$(UV_VERSION) \
	  || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); }

$(RUNTIME_STAMP): $(BIN)/uv
	$(UV) --require-hashes -r requirements.lock
	$(UV) --no-deps -e .
	rm -f $(VENV)/.runtime-*
	touch $@

$(STAMP): $(RUNTIME_STAMP)
	$(UV) -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Development defaults (no authentication, requests may pin "today"); each yields to the same
# variable set in the environment. The store is the default SQLite file in the user's state
# directory, which `cds-service report` reads from any directory.
serve: $(RUNTIME_STAMP)
	CDS_AUTH="$${CDS_AUTH:-off}" \
	CDS_CLOCK_OVERRIDE="$${CDS_CLOCK_OVERRIDE:-on}" \
	$(BIN)/cds-service serve --host 127.0.0.1 --port $(PORT)

# The FHIR server is required here (not skipped when missing): `make test` installs it.
test: $(STAMP) $(FHIR_STAMP)
	CDS_TEST_REQUIRE_FHIR_SERVER=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check cds_service tests bench
	$(BIN)/ruff format --check cds_service tests bench
	$(BIN)/mypy
