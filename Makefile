# make run  : set up, then check every example and print ResNet-50's summary
# make test : set up, then run the whole test suite (the VS Code extension's too)
# make vsix : build the VS Code extension (vscode-extension/nnlang.vsix)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test setup sysdeps diagram-assets vsix bench docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch is pinned: 2.13.0 is the CPU wheel these machines carry; anything else pulls a CUDA build.
	$(PIP) install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed sysdeps diagram-assets

# graphviz renders diagrams; chromium runs the HTML viewer tests; npm builds the viewer's renderer;
# neovim is the independent editor of the language server tests (tests/lsp/test_neovim.py).
sysdeps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v nvim >/dev/null 2>&1 || missing="$$missing neovim"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "note: could not install$$missing"; \
	  else echo "note: not found:$$missing (graphviz: rendered diagrams; chromium: viewer tests; npm: HTML diagrams; neovim: editor tests)"; fi; \
	fi

# The Graphviz WebAssembly renderer inlined into HTML diagrams: built from the committed lock file,
# kept out of git, shipped in the wheel (package-data).
DIAGRAM_JS := nnlang/diagram/js
DIAGRAM_BUNDLE := nnlang/diagram/assets/graphviz.js

diagram-assets: $(DIAGRAM_BUNDLE)

$(DIAGRAM_BUNDLE): $(DIAGRAM_JS)/package.json $(DIAGRAM_JS)/package-lock.json $(DIAGRAM_JS)/entry.mjs \
                   $(DIAGRAM_JS)/build.mjs | sysdeps
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(DIAGRAM_JS) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs; \
	else echo "note: npm not found: HTML diagrams (nnlang graph -o X.html) need $@"; fi

# The VS Code extension from its committed lock file: vscode-extension/nnlang.vsix
# (code --install-extension vscode-extension/nnlang.vsix). `make test` runs its tests and lint
# through tests/test_vscode_extension.py.
vsix: | sysdeps
	cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run compile && npm run package

run: setup
	$(PY) -m nnlang check examples/*.nns
	$(PY) -m nnlang summary examples/resnet50.nns

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run.py

docs: setup
	$(PY) -m nnlang layers --format markdown > docs/layers.md
	$(PY) -c "from nnlang.diagnostics import render_code_reference as r; open('docs/diagnostics.md', 'w').write(r())"

clean:
	rm -rf $(VENV) build dist *.egg-info
