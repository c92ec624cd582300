# Two commands do all set-up on a fresh machine (Python, pip, gcc, git; root for apt-get):
#   make plan   -> offline plan of the dev stack in out/dev
#   make test   -> the full test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: deps plan test bench clean

$(BIN)/agentic: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# graphviz renders graph.svg; the plan still writes graph.dot without it.
deps:
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q graphviz >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q graphviz >/dev/null)) || echo "graphviz missing: install it for graph.svg"; }

plan: $(BIN)/agentic deps
	$(BIN)/agentic plan --stack $(STACK)

test: $(BIN)/agentic deps
	$(BIN)/python -m pytest

bench: $(BIN)/agentic
	$(BIN)/python bench/synth.py

clean:
	rm -rf out .pytest_cache
