"""The command line, end to end, as a user runs it (subprocesses, exit codes, both formats)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def nnlang(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "nnlang", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_check_clean_file_exits_0_silently():
    r = nnlang("check", DATA / "lenet.nns")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_check_text_format_has_location_code_source_line_and_caret():
    r = nnlang("check", "tests/data/broken.nns")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "tests/data/broken.nns:3:30: error[E101]: unknown layer 'Relu'; did you mean 'ReLU'?"
    assert lines[1] == "        y = x -> Conv2d(8, 3) -> Relu"
    assert lines[2] == "    " + " " * 29 + "^^^^"


def test_check_json_format():
    r = nnlang("check", "--format", "json", "tests/data/broken.nns", "tests/data/lenet.nns")
    assert r.returncode == 1
    diags = json.loads(r.stdout)["diagnostics"]
    assert diags == [{
        "path": "tests/data/broken.nns", "line": 3, "column": 30, "end_line": 3, "end_column": 34,
        "severity": "error", "code": "E101", "message": "unknown layer 'Relu'; did you mean 'ReLU'?",
        "related": [],
    }]


def test_check_warnings_only_exit_0(tmp_path):
    f = tmp_path / "warn.nns"
    f.write_text("network W {\n  input x: [N, 4]\n  u = x -> ReLU\n  y = x -> ReLU\n  output y\n}\n")
    r = nnlang("check", f)
    assert r.returncode == 0
    assert "warning[W204]: tensor 'u' is never used" in r.stdout


def test_unreadable_file_exits_2(tmp_path):
    r = nnlang("check", tmp_path / "missing.nns")
    assert r.returncode == 2
    assert "no such file" in r.stderr


def test_usage_errors_exit_2():
    assert nnlang("check").returncode == 2
    assert nnlang("summary", DATA / "lenet.nns", "--set", "classes").returncode == 2
    r = nnlang("summary", DATA / "lenet.nns", "--network", "Nope")
    assert r.returncode == 2 and "no network named 'Nope'" in r.stderr


def test_summary_json_and_overrides():
    r = nnlang("summary", DATA / "lenet.nns", "--format", "json", "--set", "classes=7")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["network"] == "LeNet"
    assert s["total_params"] == s["trainable_params"] == 61706 - 850 + (84 * 7 + 7)
    last = s["layers"][-1]
    assert last == {"name": "fc3", "type": "Linear", "output_shape": ["N", 7], "params": 84 * 7 + 7,
                    "macs": 84 * 7}
    assert s["total_macs"] == sum(layer["macs"] for layer in s["layers"])


def test_summary_picks_the_last_network_or_the_named_one():
    last = json.loads(nnlang("summary", DATA / "two_networks.nns", "--format", "json").stdout)
    assert last["network"] == "Big"
    small = json.loads(nnlang("summary", DATA / "two_networks.nns", "--network", "Small", "--format",
                              "json").stdout)
    assert small["network"] == "Small" and small["total_params"] == 8 * 4 + 4


def test_summary_text_table():
    r = nnlang("summary", DATA / "lenet.nns")
    assert r.returncode == 0
    assert "conv1 (Conv2d)  [N, 6, 28, 28]" in r.stdout
    assert "Total params: 61,706" in r.stdout
    assert "Total MACs: 416,520" in r.stdout


def test_layers_reference_is_generated_and_docs_are_current():
    r = nnlang("layers", "--format", "json")
    layers = json.loads(r.stdout)
    names = {entry["name"] for entry in layers}
    assert {"Conv2d", "Linear", "LSTM", "MultiheadAttention", "Concat", "CrossEntropyLoss"} <= names
    md = nnlang("layers", "--format", "markdown").stdout
    assert (ROOT / "docs" / "layers.md").read_text() == md, "docs/layers.md is stale: run `make docs`"


def test_check_imports_no_framework():
    # `nnlang check` must start without torch, onnx, keras, numpy, protobuf or graphviz.
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnlang", "check", str(DATA / "lenet.nns")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0
    modules = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
    heavy = modules & {"torch", "onnx", "onnxruntime", "keras", "numpy", "tensorflow", "google", "graphviz"}
    assert not heavy


@pytest.mark.parametrize("network", ["LeNet"])
def test_python_api_matches_cli(network):
    from nnlang import api

    s = api.summary(str(DATA / "lenet.nns"), network=network)
    cli = json.loads(nnlang("summary", DATA / "lenet.nns", "--format", "json").stdout)
    assert s == cli


# Issue 13: what a newcomer hit in the first hour.

def test_check_takes_directories_sorted_and_says_when_one_has_no_nns_file(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.nns").write_text((DATA / "broken.nns").read_text())
    (tmp_path / "a.nns").write_text((DATA / "broken.nns").read_text())
    (tmp_path / "notes.txt").write_text("not a network")
    r = nnlang("check", tmp_path)
    assert r.returncode == 1
    located = [line.split(":")[0] for line in r.stdout.splitlines() if "error[E101]" in line]
    assert located == [str(tmp_path / "a.nns"), str(tmp_path / "b" / "two.nns")]
    assert nnlang("check", "examples/").returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    r = nnlang("check", empty)
    assert (r.returncode, r.stderr) == (2, f"nnlang: error: {empty}: no .nns files in this directory or below it\n")


def test_targets_offered_are_the_targets_that_exist():
    from nnlang.targets import TARGETS

    assert TARGETS == ("torch", "onnx", "caffe", "keras")
    help_text = nnlang("compile", "--help").stdout
    assert "{torch,onnx,caffe,keras}" in help_text and "mxnet" not in help_text
    assert "{torch,onnx,caffe,keras}" in nnlang("check", "--help").stdout
    r = nnlang("compile", DATA / "lenet.nns", "--to", "mxnet")
    assert r.returncode == 2 and "invalid choice: 'mxnet'" in r.stderr


def test_graph_expand_takes_one_value_so_the_path_is_never_swallowed(tmp_path):
    out = tmp_path / "r.dot"
    r = nnlang("graph", "--expand", "layer2.0", "examples/resnet18.nns", "-o", out, "--depth", "1")
    assert r.returncode == 0, r.stderr
    one = out.read_text()
    assert nnlang("graph", "examples/resnet18.nns", "-o", out, "--depth", "1", "--expand", "layer2.0,layer3.0",
                  "--collapse", "layer1").returncode == 0
    comma = out.read_text()
    assert nnlang("graph", "examples/resnet18.nns", "-o", out, "--depth", "1", "--expand", "layer2.0", "--expand",
                  "layer3.0", "--collapse", "layer1").returncode == 0
    assert out.read_text() == comma != one


@pytest.mark.parametrize("args", [("layers",), ("layers", "Conv2d"), ("summary", "examples/densenet121.nns"),
                                  ("check", "examples/", "--format", "json")])
def test_a_closed_pipe_ends_quietly_with_141(args):
    p = subprocess.Popen([sys.executable, "-m", "nnlang", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=ROOT)
    p.stdout.close()  # as `| head` does once it has its lines
    err = p.stderr.read().decode()
    assert (p.wait(), err) == (141, "")


def test_bare_nnlang_prints_help_and_exits_0():
    r = nnlang()
    assert r.returncode == 0 and r.stdout.startswith("usage: nnlang") and "check" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("value, message", [
    ("classes", "--set expects name=value"),
    ("classes=abc", "--set classes: 'abc' is not a value"),
    ("classes=1.5", "--set classes: expected an int, got float 1.5"),
    ('classes="x"', "--set classes: expected an int"),
    ("nope=3", "--set nope: network LeNet has no parameter 'nope' (parameters: classes)"),
])
def test_bad_set_values_exit_2_with_one_line(value, message):
    for command in ("check", "summary"):
        r = nnlang(command, DATA / "lenet.nns", "--set", value)
        assert r.returncode == 2 and r.stdout == "", (command, r)
        assert len(r.stderr.splitlines()) == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_layers_one_layer_reference():
    r = nnlang("layers", "Conv2d")
    assert r.returncode == 0
    assert r.stdout.startswith("# Conv2d\n\n2-D convolution")
    assert "y = x -> Conv2d(" in r.stdout and "Inputs: 1" in r.stdout
    assert "By position: `out_channels`, `kernel`; the rest by name." in r.stdout
    assert "| `stride` | int &#124; (int, int) | 1 |" in r.stdout
    assert r.stdout in (ROOT / "docs" / "layers.md").read_text().replace("### Conv2d", "# Conv2d")
    j = json.loads(nnlang("layers", "Conv2d", "--format", "json").stdout)
    assert j["name"] == "Conv2d" and j["inputs"] == [1, 1]
    assert [(p["name"], p["positional"]) for p in j["params"][:3]] == [("out_channels", True), ("kernel", True),
                                                                       ("stride", False)]
    assert j == next(e for e in json.loads(nnlang("layers", "--format", "json").stdout) if e["name"] == "Conv2d")
    r = nnlang("layers", "conv2d")
    assert (r.returncode, r.stdout) == (2, "")
    assert "no layer named 'conv2d'; did you mean 'Conv2d'?" in r.stderr


def test_summary_json_of_a_broken_file_is_json():
    r = nnlang("summary", "tests/data/broken.nns", "--format", "json")
    assert r.returncode == 1
    diags = json.loads(r.stdout)["diagnostics"]
    assert [(d["code"], d["line"]) for d in diags] == [("E101", 3)]


def test_check_json_reports_an_unreadable_file(tmp_path):
    missing = tmp_path / "missing.nns"
    r = nnlang("check", missing, DATA / "broken.nns", "--format", "json")
    assert r.returncode == 2
    diags = json.loads(r.stdout)["diagnostics"]
    assert diags[0]["code"] == "E101"
    assert diags[1] == {"path": str(missing), "line": None, "column": None, "end_line": None, "end_column": None,
                        "severity": "error", "code": None, "message": "no such file", "related": []}
    assert r.stderr == f"nnlang: error: {missing}: no such file\n"


def test_readme_fmt_commands_are_true():
    readme = (ROOT / "README.md").read_text()
    lines = [line.split("#")[0].split() for line in readme.splitlines() if line.startswith("nnlang fmt ")]
    assert len(lines) == 3
    for words in lines:
        args = words[1:] if {"--check", "--diff"} & set(words) else ["fmt", "--check", *words[2:]]
        r = nnlang(*args)  # the checkout is formatted: nothing to change
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), words


def test_compile_writes_to_build_by_default(tmp_path):
    pytest.importorskip("torch")
    r = nnlang("compile", DATA / "lenet.nns", "--to", "torch", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["build/LeNet.py", "build/LeNet.safetensors"]
    assert (tmp_path / "build" / "LeNet.py").is_file()
    assert "default: build/" in nnlang("compile", "--help").stdout


# A sitecustomize that makes the modules named in NNLANG_TEST_MISSING unimportable, as if not installed.
_SHIM = """
import os, sys
_gone = set(os.environ["NNLANG_TEST_MISSING"].split(","))
class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _gone:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Missing())
"""


@pytest.mark.parametrize("missing, extra, args", [
    ("torch", "torch", ("compile", DATA / "lenet.nns", "--to", "torch")),
    ("safetensors", "torch", ("compile", DATA / "lenet.nns", "--to", "torch")),
    ("onnx", "onnx", ("compile", DATA / "lenet.nns", "--to", "onnx")),
    ("onnx", "onnx", ("check", DATA / "lenet.nns", "--target", "onnx")),
    ("torch", "torch", ("import", "model.py:Net", "--input", "x: [N, 4]", "-o", "out.nns")),
    ("graphviz", "diagram", ("graph", DATA / "lenet.nns", "-o", "out.svg")),
    ("pygls", "lsp", ("lsp",)),
])
def test_a_missing_optional_dependency_is_one_line_naming_its_extra(tmp_path, missing, extra, args):
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(_SHIM)
    (tmp_path / "model.py").write_text("class Net: pass\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shim"), "NNLANG_TEST_MISSING": missing}
    r = subprocess.run([sys.executable, "-m", "nnlang", *map(str, args)], capture_output=True, text=True,
                       cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"needs {missing}" in r.stderr or f"`{missing}` is missing" in r.stderr
    assert f"(the '{extra}' extra): pip install -e '{ROOT}[{extra}]'" in r.stderr
    assert not list(tmp_path.glob("build/*")) and not (tmp_path / "out.svg").exists()  # nothing written


# The dot binary and the viewer's bundle missing (exit 2): tests/diagram/test_cli_graph.py, test_html.py.


def test_install_command_without_a_checkout_names_the_extras_packages(monkeypatch):
    from nnlang import deps

    monkeypatch.setattr(deps, "checkout", lambda: None)
    assert deps.install_command("torch") == "pip install 'torch==2.13.0' 'safetensors>=0.4'"
    assert deps.extra_of("onnxruntime.capi") == "onnx" and deps.extra_of("numpy") is None


EXIT_ROW = re.compile(r"^\| (\d+) \| .* \| `(nnlang [^`]*)` \|$")


def test_readme_exit_code_table_matches_real_runs():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Exit codes"):]
    rows = [m.groups() for m in map(EXIT_ROW.match, table.splitlines()) if m]
    assert [code for code, _ in rows] == ["0", "1", "2", "141"]
    for code, command in rows:
        shell = command.replace("\\|", "|").replace("nnlang ", f"{sys.executable} -m nnlang ", 1)
        # in a pipe the shell reports the last command's status: ask for nnlang's
        r = subprocess.run(["/bin/bash", "-c", shell + "; exit ${PIPESTATUS[0]}"], capture_output=True, text=True,
                           cwd=ROOT)
        # 141 only if nnlang was still writing when `head` left: a race the output's size decides
        assert r.returncode == int(code) or (code == "141" and r.returncode == 0), (command, r.stderr)
        assert "Traceback" not in r.stderr
