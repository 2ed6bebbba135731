# Two commands matter: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck check bench faults clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/fraudwatch demo

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy .
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

bench: $(BIN)/.installed
	$(BIN)/python -m bench.backtest_throughput
	$(BIN)/python -m bench.alert_latency
	$(BIN)/python -m bench.notify_latency

# The fault suite at full size: 100 000 fuzzed messages (about 15 minutes on 2 cores), crash runs of 6 000.
faults: $(BIN)/.installed
	FRAUDWATCH_FUZZ_MESSAGES=100000 FRAUDWATCH_FUZZ_ONE_MIB=20 FAULT_TRANSACTIONS=6000 FAULT_KILL_AFTER_S=10 \
		$(BIN)/pytest -q -s --timeout=3600 tests/faults

clean:
	rm -rf $(VENV) .fraudwatch .pytest_cache .mypy_cache .ruff_cache
