# Everything a fresh machine needs, from a plain Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench topics catalog clean

$(BIN)/vasscm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## The main job: a simulated port supervised live (broker, worker, dashboard).
run: $(BIN)/vasscm
	$(BIN)/vasscm demo

## The whole test suite, as CI runs it (first the Debian packages the tests need:
## installed when run as root, else named in one line).
test: $(BIN)/vasscm
	bash tests/tools.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vasscm topics check
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint: $(BIN)/vasscm
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## Benchmarks print figures; they are not tests.
bench: $(BIN)/vasscm
	$(BIN)/python benchmarks/replay_bench.py
	$(BIN)/python benchmarks/metrics_bench.py
	$(BIN)/python benchmarks/live_bench.py

## Regenerate topics/ after changing a model in vasscm/events.py.
topics: $(BIN)/vasscm
	$(BIN)/vasscm topics export

## Bring the Vietnamese catalog up to date after adding or changing a text marked
## _("...") or N_("..."); then fill in the new msgstr lines (tests/test_language.py).
catalog: $(BIN)/vasscm
	$(BIN)/pybabel extract -F vasscm/locale/babel.cfg -k N_ --no-location -o $(VENV)/vasscm.pot vasscm
	$(BIN)/pybabel update -i $(VENV)/vasscm.pot -d vasscm/locale -D vasscm -l vi \
		--no-fuzzy-matching --ignore-obsolete --no-wrap

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
