# Two entry points: `make run` (the workbench on its default project) and `make test`.
# Both create .venv and install what is missing; `make test` also installs the ARM toolchain.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint toolchain bench mutate compare-tf clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/qnn-tui

toolchain:
	@./scripts/ensure-toolchain

test: $(STAMP) toolchain
	$(BIN)/python -m pytest -n 2 -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP) toolchain
	$(BIN)/python bench/bench_sim.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_m0.py
	$(BIN)/python bench/bench_tflite.py

# Mutation testing of the modules whose bugs would be silent (slow, not in CI): see docs/mutation.md.
# Mutation testing, group by group (pyproject.toml [tool.qnn-mutate]; docs/mutation.md).
# One group: scripts/mutate GROUP. Slow (15-45 min on 2 cores), so not in CI.
mutate: $(STAMP)
	$(BIN)/pip install -q -e '.[mutate]'
	$(BIN)/python scripts/mutate --max-children 2
	$(BIN)/python scripts/mutation-report -v

# TensorFlow side by side (bench/compare_tf.py): TensorFlow in its own .venv-tf, created there;
# scikit-learn (the bundled diabetes data) into the product's .venv.
compare-tf: $(STAMP)
	$(BIN)/pip install -q -e '.[compare]'
	$(BIN)/python bench/compare_tf.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache mutants
