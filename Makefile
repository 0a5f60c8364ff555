# The two commands of the README: `make demo` and `make test`. Both set up .venv on a fresh machine.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet
CONSTRAINTS := -c requirements/constraints.txt

.PHONY: demo test test-fast lint bench-judge bench-dashboard bench-export bench-polling

$(VENV)/.installed: pyproject.toml requirements/constraints.txt requirements/embedded.txt
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install $(CONSTRAINTS) -e ".[worker]"
	$(PIP) install --no-deps -r requirements/embedded.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install $(CONSTRAINTS) -e ".[worker,test]"
	touch $@

# Prepare the aligned base (first time only), start the API and a worker, run examples/demo.yaml.
demo: $(VENV)/.installed
	$(PY) scripts/demo.py

# Everything but GPU tests and the demos end to end, the slow ones (real worker, real browser) included;
# spread over the machine's cores, at most 4 (each e2e test runs its own workers and browser).
test: $(VENV)/.installed-test
	scripts/ensure-chromium.sh
	$(PY) -m pytest -n auto --maxprocesses 4 --dist worksteal -m "not gpu and not demo"

# The examples end to end on the embedded models (the aligned base is prepared first: CPU-minutes).
test-demo: $(VENV)/.installed-test
	$(PY) -m pytest -m demo

# The quick loop while developing: no worker processes, no browser.
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check backend worker tests bench scripts migrations
	$(VENV)/bin/ruff format --check backend worker tests bench scripts migrations
	$(VENV)/bin/mypy

bench-judge: $(VENV)/.installed
	$(PY) bench/judge_validation.py

# Needs PostgreSQL on 127.0.0.1:5432 (creates and drops a scratch database).
bench-dashboard: $(VENV)/.installed
	$(PY) bench/dashboard_latency.py

# Peak memory and time of the streamed export against loading every row at once (PostgreSQL, as above).
bench-export: $(VENV)/.installed
	$(PY) bench/export_memory.py

# Server CPU per open dashboard: the old page's refreshes against the new page's 304 polls, and Chromium.
bench-polling: $(VENV)/.installed-test
	$(PY) bench/dashboard_polling.py
