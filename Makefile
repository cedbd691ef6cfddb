# territory — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= demo-output
DB ?= sqlite:///$(OUT)/territory.db
STATES ?= AL,FL,GA,MS,NC,SC,TN

.PHONY: demo test install lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/activate
	$(BIN)/python -m pip install -q -e . --group dev
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p $(OUT)
	$(BIN)/territory --db $(DB) demo --states $(STATES) --out $(OUT)

test: install
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(OUT) $(VENV)
