# The two commands of the README: `make run` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QUESTION ?= Do I need to file export information for a shipment worth $$2,000?

.PHONY: install run ask ingest test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on this machine's disk; any other spec downloads CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,llm]'
	touch $(STAMP)

install: $(STAMP)

# Serves the chat at http://127.0.0.1:8080 (ASSISTANT_HOST / ASSISTANT_PORT). The server
# indexes the shipped corpus itself: keyword search within seconds of a fresh clone,
# vectors in the background (progress in the log and on the page); only what changed
# is indexed again at the next start.
run: install
	$(BIN)/python -m assistant serve

# Without the server: build the index (a second run takes seconds; exit status 1 means
# some file was skipped), then answer one question on the command line.
ask: install
	$(BIN)/python -m ingest || [ $$? -eq 1 ]
	$(BIN)/python -m assistant ask "$(QUESTION)"

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench.ingest
