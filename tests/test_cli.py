"""The command line, end to end, as a user runs it (subprocesses, exit codes, both formats)."""

import json
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
    assert r.returncode == 1 and "no network named 'Nope'" in r.stderr


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
