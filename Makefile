# make run  : set up, then check every example and print ResNet-50's summary
# make test : set up, then run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test setup sysdeps bench docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch is pinned: 2.13.0 is the CPU wheel these machines carry; anything else pulls a CUDA build.
	$(PIP) install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed sysdeps

sysdeps:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || echo "note: graphviz not installed"; \
	  else echo "note: graphviz (dot) not found; install it for rendered diagrams"; fi; }

run: setup
	$(PY) -m nnlang check examples/*.nns
	$(PY) -m nnlang summary examples/resnet50.nns

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run.py

docs: setup
	$(PY) -m nnlang layers --format markdown > docs/layers.md

clean:
	rm -rf $(VENV) build dist *.egg-info
