"""The VS Code extension (vscode-extension/): its own tests (`npm test`: node --test unit tests, the
TextMate grammar's assertion and snapshot tests, the preview's), its lint, the bundle, the .vsix
(`vsce ls` and the manifest inside the zip), and its snippets checked as nnlang.

npm installs the committed package-lock.json (`npm ci`) when node_modules is missing or older than
the lock file. Without npm the tests skip -- except in CI (CI=1), where `make sysdeps` installs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from nnlang.analyze import analyze

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "vscode-extension"
VSIX = EXT / "nnlang.vsix"

# What the .vsix must hold (vsce ls), and nothing from the sources, tests or node_modules.
EXPECTED = {"package.json", "README.md", "LICENSE.txt", "language-configuration.json", "dist/extension.js",
            "syntaxes/nns.tmLanguage.json", "snippets/nns.json"}


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is missing: `make setup` (sysdeps) should have installed it")
        pytest.skip("npm is missing (run `make setup`)")
    return npm


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    return subprocess.run(list(args), cwd=EXT, capture_output=True, text=True, timeout=timeout, env=env)


def _check(proc: subprocess.CompletedProcess, what: str) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


@pytest.fixture(scope="module")
def npm() -> str:
    npm = _npm()
    lock = EXT / "package-lock.json"
    installed = EXT / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _check(_run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"), "npm ci")
    return npm


@pytest.fixture(scope="module")
def compiled(npm) -> Path:
    _check(_run(npm, "run", "compile"), "npm run compile")
    return EXT / "dist" / "extension.js"


def test_npm_test(npm):
    out = _check(_run(npm, "test"), "npm test")
    # node --test's summary: every unit test passed, none skipped for want of the project's Python.
    passed = [int(n) for n in re.findall(r"^\S* ?pass (\d+)$", out, re.M)]
    failed = [int(n) for n in re.findall(r"^\S* ?fail (\d+)$", out, re.M)]
    assert passed and passed[0] >= 60 and not any(failed), out[-3000:]
    # vscode-tmgrammar-test / -snap: the hand-written assertions and a snapshot of every example.
    assert "basics.test.nns run successfuly" in out and "control.test.nns run successfuly" in out, out[-3000:]
    examples = sorted(p.name for p in (ROOT / "examples").glob("*.nns"))
    for name in examples:
        assert f"snapshots/{name} run successfully" in out, f"no grammar snapshot test for examples/{name}"


def test_npm_lint(npm):
    _check(_run(npm, "run", "lint"), "npm run lint")


def test_bundle_loads_with_a_stub_vscode(compiled):
    """dist/extension.js is complete (vscode-languageclient bundled, only "vscode" external) and
    exports activate / deactivate."""
    script = r"""
const Module = require("module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "vscode" ? "vscode" : resolve.call(this, request, ...rest);
};
const stub = () => new Proxy(function () {}, {
  get: (_t, p) => (p === "then" ? undefined : stub()),
  apply: () => stub(),
  construct: () => stub(),
});
require.cache["vscode"] = { id: "vscode", filename: "vscode", loaded: true, exports: stub() };
const ext = require(process.argv[1]);
console.log(JSON.stringify({ activate: typeof ext.activate, deactivate: typeof ext.deactivate }));
"""
    node = shutil.which("node")
    assert node, "node comes with npm"
    proc = _check(subprocess.run([node, "-e", script, str(compiled)], capture_output=True, text=True, timeout=60), "load")
    assert json.loads(proc.strip().splitlines()[-1]) == {"activate": "function", "deactivate": "function"}
    bundle = compiled.read_text(encoding="utf-8")
    assert 'require("vscode")' in bundle and "vscode-languageclient" not in re.findall(r'require\("([^"]+)"\)', bundle)


def test_vsce_ls_and_the_vsix_manifest(npm, compiled):
    listed = set(_check(_run(npm, "exec", "--", "vsce", "ls", "--no-dependencies"), "vsce ls").split())
    listed = {f for f in listed if "/" in f or "." in f and not f.startswith("npm")}
    assert EXPECTED <= listed, EXPECTED - listed
    leaked = [f for f in listed if f.startswith(("src/", "test/", "node_modules/", "out/")) or f.endswith((".ts", ".map"))]
    assert not leaked, leaked

    if VSIX.exists():
        VSIX.unlink()
    _check(_run(npm, "run", "package"), "npm run package")
    with zipfile.ZipFile(VSIX) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
        vsixmanifest = z.read("extension.vsixmanifest").decode("utf-8")
    assert {f"extension/{f}" for f in EXPECTED - {"README.md"}} | {"extension/readme.md"} <= names, sorted(names)
    assert not [n for n in names if "/node_modules/" in n or n.endswith((".ts", ".map"))]
    assert manifest["name"] == "nnlang" and manifest["publisher"] == "nnlang"
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["main"] == "./dist/extension.js" and manifest["engines"]["vscode"] == "^1.91.0"
    assert manifest["dependencies"] == {"vscode-languageclient": manifest["dependencies"]["vscode-languageclient"]}
    lang = manifest["contributes"]["languages"][0]
    assert lang["id"] == "nns" and lang["extensions"] == [".nns"]
    assert {c["command"] for c in manifest["contributes"]["commands"]} == {
        "nnlang.openPreview", "nnlang.compile", "nnlang.showSummary", "nnlang.restartServer", "nnlang.showLogs"}
    settings = manifest["contributes"]["configuration"]["properties"]
    for key in ("nnlang.server.command", "nnlang.server.pythonPath", "nnlang.inlayHints.shapes", "nnlang.inlayHints.params",
                "nnlang.inlayHints.macs", "nnlang.trace.server", "nnlang.target", "nnlang.targetOpset",
                "nnlang.preview.throttleMs"):
        assert key in settings, key
    assert 'Id="nnlang"' in vsixmanifest and f'Version="{manifest["version"]}"' in vsixmanifest
    # Every file the manifest points at is in the zip.
    for path in [manifest["main"], lang["configuration"], *(g["path"] for g in manifest["contributes"]["grammars"]),
                 *(s["path"] for s in manifest["contributes"]["snippets"])]:
        assert "extension/" + path.removeprefix("./") in names, path


def _expand(body: list[str]) -> str:
    """A snippet's text with every placeholder at its default."""
    text = "\n".join(body).replace("\t", "    ")
    for _ in range(3):
        text = re.sub(r"\$\{\d+:([^${}]*(?:\{[^{}]*\}[^${}]*)*)\}", r"\1", text)
    return re.sub(r"\$\{\d+\}|\$\d+", "", text)


def test_snippets_are_valid_nnlang():
    snippets = {k: _expand(v["body"]) for k, v in json.loads((EXT / "snippets" / "nns.json").read_text()).items()}
    chains = "\n".join("        " + snippets[k] for k in ("conv-bn-relu", "conv-relu-pool"))
    text = f"""{snippets["residual block"]}

{snippets["block"]}

network Uses(classes: int = 10, n: int = 2) {{
    {snippets["input"]}
    x = x
{chains}
    x = x -> Residual(64, stride=2) -> Name(64)
    {snippets["for"].replace(chr(10), chr(10) + "    ")}
    {snippets["if"].replace("condition", "n > 1").replace(chr(10), chr(10) + "    ")}
    logits = x
        {snippets["classifier head"]}
    output logits
}}

network Mlp(classes: int = 10) {{
    input x: [N, 3, 8, 8]
    y = x
        {snippets["mlp head"]}
    output y
}}

{snippets["network"]}
"""
    for network in ("Uses", "Mlp", "Net"):
        a = analyze(text, path=str(ROOT / "snippets.nns"), network=network)
        errors = [f"{d.code} {d.message}" for d in a.diagnostics if d.is_error]
        assert not errors and a.graph is not None and a.graph.name == network, "\n".join(errors) + "\n\n" + text
