# Every target bootstraps .venv itself: a fresh clone needs only `make serve` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed
BENCH_NODE_DIR := bench/node
BENCH_NODE_STAMP := $(BENCH_NODE_DIR)/node_modules/.installed

.PHONY: serve test soak lint bench mutate docs docs-serve image clean catalogue

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,docs]'
	touch $(STAMP)

# The pinned @fal-ai/client for the JS client tests (git-ignored; reinstalled when the pin moves).
$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the @fal-ai/client tests will be skipped"; fi

# The pinned load generator (autocannon) and Prism for the benchmarks (git-ignored; reinstalled
# when the pins move).
$(BENCH_NODE_STAMP): $(BENCH_NODE_DIR)/package.json $(BENCH_NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "make bench needs npm (Node.js) for autocannon and Prism"; exit 1; }
	cd $(BENCH_NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

serve: $(STAMP)
	$(BIN)/ray2-mock serve $(ARGS)

test: $(STAMP) $(JS_STAMP)
	@sh scripts/ensure-chromium.sh
	@sh scripts/ensure-podman.sh
	@sh scripts/ensure-redis.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Longer reliability runs: 10x the load, fresh random fuzzing, longer stalls (not part of test).
soak: $(STAMP)
	RAY2_SOAK=1 $(BIN)/python -m pytest tests/reliability $(PYTEST_ARGS)

# Proves every fidelity-ledger row can fail: each row's source mutants against its named tests
# (tests/mutation; ARGS="--row Cancel" for some rows). Slow, so not part of test.
mutate: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m tests.mutation $(ARGS)

# The documentation site, strictly: a broken link or anchor, or a page left out of the
# navigation, fails the build. `make test` runs the same build (tests/docs/).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve $(ARGS)

# The container image, ray2-mock:latest (Containerfile): wheels prepared here, an offline build.
# IMAGE_BASE=... builds on another base (the tests use one made by scripts/base-image.sh).
image: $(STAMP)
	IMAGE_BASE="$(IMAGE_BASE)" sh scripts/build-image.sh

lint: $(STAMP)
	$(BIN)/ruff check mockserver contracts tests bench scripts
	$(BIN)/ruff format --check mockserver contracts tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_layers.py -k circles  # no import circle

# fal's endpoint catalogue (contracts/schemas/catalogue.json.gz), regenerated from the pinned
# @fal-ai/client by the pinned TypeScript tools of contracts/catalogue/tools (npm ci on first use).
# ARGS=--check only compares; the type-drift test does the same on every make test.
catalogue: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m contracts.catalogue.generate $(ARGS)

bench: $(STAMP) $(BENCH_NODE_STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) site build .ray2-mock .pytest_cache .hypothesis bench/results.json $(JS_DIR)/node_modules \
		$(BENCH_NODE_DIR)/node_modules
