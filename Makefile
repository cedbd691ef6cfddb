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

# After installing, compile the Numba kernels once (about 40 s of CPU), so a
# user's first command loads them from the cache instead of compiling.
$(VENV)/.installed: pyproject.toml $(BIN)/activate
	$(BIN)/python -m pip install -q -e . --group dev
	$(BIN)/python -m territory.services.warm
	touch $@

install: $(VENV)/.installed

# The main job, end to end on the shipped real data (a fresh store each run):
# load the Southeast's counties, sample accounts and reps, design territories,
# size, staff, set quotas, track, compare a redesign, turn the plan into rules
# with overlays, assign and explain, and write the report.
TERRITORY = $(BIN)/territory --db $(DB)
MODEL ?= SE 2027
SCENARIO ?= SE 2027 rebalanced
SEED ?= 7

demo: install
	rm -rf $(OUT) && mkdir -p $(OUT)
	$(TERRITORY) data load-us --states $(STATES)
	$(TERRITORY) data sample-accounts --n 1800 --seed $(SEED) --states $(STATES)
	$(TERRITORY) data sample-reps --n 18 --seed $(SEED) --states $(STATES)
	$(TERRITORY) data summary
	$(TERRITORY) design --model "$(MODEL)" --levels 3,15 --states $(STATES) \
	  --balance population=0.05 --balance workload=0.10 \
	  --seed $(SEED) --max-iterations 100000 --time-limit 120 --out $(OUT)/design
	$(TERRITORY) rules from-design --model "$(MODEL)"
	$(TERRITORY) rules import examples/overlays.yaml --model "$(MODEL)"
	$(TERRITORY) assign --model "$(MODEL)" --opportunities
	$(TERRITORY) explain SAMPLE-000001 --model "$(MODEL)"
	$(TERRITORY) model activate "$(MODEL)"
	$(TERRITORY) size --model "$(MODEL)"
	$(TERRITORY) staff --model "$(MODEL)" --capacity-slack 0.2
	$(TERRITORY) quota --model "$(MODEL)" --total 21000000 --period 2026
	$(TERRITORY) quota --model "$(MODEL)" --total 23000000 --period 2027
	$(TERRITORY) metrics --model "$(MODEL)" --level region --period 2026
	$(TERRITORY) metrics --model "$(MODEL)" --level rep --period 2026 --out $(OUT)/metrics-reps.csv
	$(TERRITORY) metrics --model "$(MODEL)" --period 2026 --out $(OUT)/metrics.csv
	$(TERRITORY) design --model "$(SCENARIO)" --territories 15 --states $(STATES) \
	  --from "$(MODEL)" --max-disruption 0.20 \
	  --balance population=0.05 --balance workload=0.10 --balance labor_force=0.05 \
	  --seed $(SEED) --max-iterations 100000 --time-limit 120 --out $(OUT)/scenario
	$(TERRITORY) compare "$(MODEL)" "$(SCENARIO)" --period 2026 --out $(OUT)/compare
	$(TERRITORY) report --model "$(MODEL)" --metric potential --period 2026 --out $(OUT)/report
	@echo
	@echo "Done. Open $(OUT)/report/report.html (one file, works offline);"
	@echo "maps: $(OUT)/design/map.png, $(OUT)/scenario/map.png, $(OUT)/compare/changes.png;"
	@echo "store: $(DB)"

test: install
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(OUT) $(VENV)
