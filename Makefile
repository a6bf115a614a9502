# The habits of this project. `make run` and `make test` work on a fresh machine: they create the
# virtual environment and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=
# make test runs the test files on this many processes (pytest-xdist; each file stays on one, so
# a module's stack starts once); 0 runs them in this process, one after another.
PYTEST_WORKERS ?= 2

.PHONY: run test lint format generate checkgenerate bench fuzz clean install-run install-test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch==2.13.0 is the CPU build these machines carry; see README for a CUDA host.
$(VENV)/.installed-run: pyproject.toml clients/python/pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[worker,embedded]" -e ./clients/python
	touch $@

# The browser tests drive Debian's Chromium (never a downloaded browser).
$(VENV)/.installed-test: pyproject.toml clients/python/pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[worker,embedded,cli,test]" -e ./clients/python
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: the browser tests will skip" >&2
	touch $@

# The libraries the engine benchmark's references run (bench/library_references.py), at the
# versions of their parity fixtures (tests/fixtures/schedules). timm, fvcore and
# pytorch-transformers go in without their dependencies (torchvision, iopath, boto3,
# sentencepiece, ...): the modules the references load need torch only. keras, optax and jax
# bring their own (no torch, no numpy); the constraint keeps pip from ever replacing the venv's
# torch or numpy for them.
REFERENCE_LIBS_NO_DEPS := timm==1.0.31 fvcore==0.1.5.post20221221 pytorch-transformers==1.2.0
REFERENCE_LIBS := keras==3.15.1 optax==0.2.8 jax==0.10.2

$(VENV)/.installed-references: Makefile | $(VENV)/.installed-test
	$(PIP) install --quiet --no-deps $(REFERENCE_LIBS_NO_DEPS)
	$(PIP) freeze | grep -iE '^(torch|numpy)==' > $(VENV)/.reference-constraints.txt
	$(PIP) install --quiet -c $(VENV)/.reference-constraints.txt $(REFERENCE_LIBS)
	touch $@

install-run: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test $(VENV)/.installed-references

run: install-run
	$(VENV)/bin/warmstep dev

test: install-test checkgenerate
	@mkdir -p test-output
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) --junitxml=test-output/junit.xml; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: install-test
	$(VENV)/bin/ruff check warmstep service worker tests scripts bench
	$(VENV)/bin/ruff format --check warmstep service worker scripts bench tests
	$(VENV)/bin/mypy warmstep service worker bench

format: install-test
	$(VENV)/bin/ruff format warmstep service worker scripts bench tests
	$(VENV)/bin/ruff check --fix warmstep service worker tests scripts bench

generate: install-test
	$(PY) scripts/generate_protos.py
	$(PY) scripts/gen_kinds_doc.py

# Regenerate into a temporary folder and fail on any difference with the committed code.
checkgenerate: install-test
	@tmp=$$(mktemp -d); $(PY) scripts/generate_protos.py $$tmp/v1 && \
	diff -r $$tmp/v1 clients/python/src/warmstep_client/v1 >/dev/null || \
	{ echo "generated code is stale: run make generate" >&2; rm -rf $$tmp; exit 1; }; \
	rm -rf $$tmp; echo "generated code is up to date"

# A longer fuzzing run than the bounded one in `make test`.
fuzz: install-test
	WARMSTEP_FUZZ_EXAMPLES=500 $(PY) -m pytest tests/security/test_api_fuzz.py tests/security/test_grpc_fuzz.py

# The REST rows use Debian's wrk when it is there; without it a slower Python load generator.
# install-test brings the reference libraries of the engine rows (REFERENCE_LIBS above).
bench: install-test
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "wrk could not be installed: the REST rows use the Python load generator" >&2
	$(PY) -m bench

clean:
	rm -rf $(VENV) test-output .pytest_cache .mypy_cache .ruff_cache
