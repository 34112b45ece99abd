# make run  : install what running needs (nnlang with its runtime extras, Graphviz), then check every
#             example and print ResNet-50's summary
# make test : install everything the tests need too (dev tools, chromium, npm, neovim, the HTML
#             viewer's bundle), then run the whole test suite (the VS Code extension's too)
# make vsix : build the VS Code extension (vscode-extension/nnlang.vsix)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test setup setup-run sysdeps sysdeps-run sysdeps-npm diagram-assets dist vsix bench docs zoo clean

# torch is pinned: 2.13.0 is the CPU wheel these machines carry; anything else pulls a CUDA build.
# all = the runtime extras (torch, onnx, lsp, diagram); dev = all + the test tool chain.
$(VENV)/.installed-run: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-run

setup-run: $(VENV)/.installed-run sysdeps-run

setup: $(VENV)/.installed-dev sysdeps diagram-assets

# $(call apt_need,COMMAND:PACKAGE ...,WHY): apt-get install (as root) the packages whose command is missing;
# elsewhere say what is missing and why it matters.
define apt_need
	@missing=""; for pair in $(1); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "note: could not install$$missing"; \
	  else echo "note: not found:$$missing ($(2))"; fi; \
	fi
endef

# graphviz renders diagrams (the one system package running needs).
sysdeps-run:
	$(call apt_need,dot:graphviz,graphviz: rendered diagrams)

sysdeps-npm:
	$(call apt_need,npm:npm,npm: builds the HTML viewer's renderer and the VS Code extension)

# For the tests: chromium runs the HTML viewer tests; npm builds the viewer's renderer; neovim is the
# independent editor of the language server tests (tests/lsp/test_neovim.py).
sysdeps:
	$(call apt_need,dot:graphviz chromium:chromium npm:npm nvim:neovim,graphviz: rendered diagrams; chromium: \
	viewer tests; npm: HTML diagrams; neovim: editor tests)

# The Graphviz WebAssembly renderer inlined into HTML diagrams: built from the committed lock file,
# kept out of git, shipped in the wheel (package-data).
DIAGRAM_JS := nnlang/diagram/js
DIAGRAM_BUNDLE := nnlang/diagram/assets/graphviz.js

diagram-assets: $(DIAGRAM_BUNDLE)

$(DIAGRAM_BUNDLE): $(DIAGRAM_JS)/package.json $(DIAGRAM_JS)/package-lock.json $(DIAGRAM_JS)/entry.mjs \
                   $(DIAGRAM_JS)/build.mjs | sysdeps-npm
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(DIAGRAM_JS) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs; \
	else echo "note: npm not found: HTML diagrams (nnlang graph -o X.html) need $@"; fi

# The VS Code extension from its committed lock file: vscode-extension/nnlang.vsix
# (code --install-extension vscode-extension/nnlang.vsix). `make test` runs its tests and lint
# through tests/test_vscode_extension.py.
vsix: | sysdeps-npm
	cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run compile && npm run package

# The wheel and the sdist, both with the HTML viewer's bundle:
# pip install dist/nnlang-0.1.0-py3-none-any.whl (or the .tar.gz) anywhere, with [extras] as needed.
dist: $(VENV)/.installed-dev diagram-assets
	rm -rf dist
	$(PY) -m build --outdir dist .

run: setup-run
	$(PY) -m nnlang check examples/
	$(PY) -m nnlang summary examples/resnet50.nns

# Every core (-n auto); a file's tests stay on one worker (--dist loadfile) so module fixtures are built once.
test: setup
	$(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=30

bench: setup
	$(PY) benchmarks/run.py

# docs/zoo.md: every example x every target, measured in each target's runtime (a few minutes)
zoo: setup
	$(PY) tests/zoo_table.py --write docs/zoo.md

docs: setup
	$(PY) -m nnlang layers --format markdown > docs/layers.md
	$(PY) -c "from nnlang.diagnostics import render_code_reference as r; open('docs/diagnostics.md', 'w').write(r())"

clean:
	rm -rf $(VENV) build dist *.egg-info
