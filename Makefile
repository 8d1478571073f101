# Parley developer commands. The README's two set-up commands are `make serve` and `make test`;
# both install everything first (Debian packages and a virtual environment in .venv).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install serve test lint protos proto-baseline clean

install: $(VENV)/.installed clients/node/node_modules/.package-lock.json

# The Node client's packages (clients/node), pinned by its package-lock.json.
clients/node/node_modules/.package-lock.json: clients/node/package-lock.json
	npm ci --prefix clients/node --no-audit --no-fund

$(VENV)/.installed: pyproject.toml scripts/install-system.sh scripts/requirements-no-deps.txt
	bash scripts/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,neural,coqui,tracing]'
	$(BIN)/python -m pip install --quiet --no-deps -r scripts/requirements-no-deps.txt
	# PyPI's torchaudio is a CUDA build whose extensions cannot load beside CPU torch; without
	# them it runs in pure-Python mode, all that Coqui's inference needs.
	rm -f $$($(BIN)/python -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("torchaudio").origin).parent)')/lib/*.so
	touch $@

# For local use: authentication is explicitly disabled and the server says so at start. See
# docs/security.md to run it with API keys and TLS.
serve: install
	$(BIN)/parley serve --auth disabled

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/buf lint

protos: install
	$(BIN)/python -m tools.genproto

# Only after a deliberate, announced breaking change to the v1 contract.
proto-baseline: install
	$(BIN)/buf build --exclude-source-info -o protos/baseline.binpb

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
