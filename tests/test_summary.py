"""`nnlang summary`'s torchinfo controls: --depth, --columns, the memory lines, block types as read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnlang import summary
from nnlang.api import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(*args):
    return subprocess.run([sys.executable, "-m", "nnlang", "summary", *map(str, args)], capture_output=True,
                          text=True)


def table_rows(text: str) -> list:
    lines = text.splitlines()
    seps = [k for k, line in enumerate(lines) if line.startswith("=")]
    return lines[seps[1] + 1:seps[2]]


def test_depth_folds_rows_into_their_block():
    a = load(str(EXAMPLES / "densenet121.nns"))
    everything = [r for r in summary.rows(a.graph)]
    assert len(everything) > 490
    three = table_rows(summary.render_text(a.graph))  # torchinfo's default depth, 3
    assert len(three) == sum(1 for r in everything if r.depth < 3) < 160
    one = table_rows(summary.render_text(a.graph, depth=1))
    assert [line.split()[0:2] for line in one] == [["features", "(Sequential)"], ["1", "(ReLU)"],
                                                    ["2", "(AdaptiveAvgPool2d)"], ["3", "(Flatten)"],
                                                    ["classifier", "(Linear)"]]
    # folded rows still count: the top rows' params add up to the total
    top = [r for r in everything if r.depth == 0]
    assert sum(r.params for r in top) == a.graph.total_params == 7_978_856
    assert len(table_rows(summary.render_text(a.graph, depth=None))) == len(everything)


def test_a_repetition_shows_its_block_type_never_repeat():
    a = load(str(EXAMPLES / "resnet18.nns"))
    text = summary.render_text(a.graph, depth=1)
    assert "layer1 (BasicBlock \u00d72)" in text and "Repeat" not in text


def test_columns():
    r = run(EXAMPLES / "resnet18.nns", "--depth", "1", "--columns", "input,shape,kernel,params,trainable")
    assert r.returncode == 0, r.stderr
    header = table_rows(r.stdout)
    lines = r.stdout.splitlines()
    assert [c.strip() for c in lines[1].split("  ") if c.strip()] == ["Layer (type)", "Input shape", "Output shape",
                                                                       "Kernel", "Params", "Trainable"]
    conv1 = next(line for line in header if line.startswith("conv1 "))
    assert "[N, 3, 224, 224]" in conv1 and "[N, 64, 112, 112]" in conv1 and "7\u00d77" in conv1
    assert conv1.rstrip().endswith("9,408  yes")
    relu = next(line for line in header if line.startswith("relu "))
    assert relu.rstrip().endswith("0")  # no weights: nothing in the trainable column


@pytest.mark.parametrize("args, message", [
    (("--depth", "0"), "expected a positive int or 'all'"),
    (("--columns", "shape,flops"), "unknown column flops; choose from input, shape, kernel, params, macs, trainable"),
])
def test_bad_controls_are_usage_errors(args, message):
    r = run(EXAMPLES / "lenet5.nns", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_memory_lines_with_a_concrete_input_are_exact():
    r = run(EXAMPLES / "resnet50.nns", "--input", "image=[1,3,224,224]")
    assert r.returncode == 0, r.stderr
    a = load(str(EXAMPLES / "resnet50.nns"))
    t = summary.totals(a.graph)
    assert t["input_bytes"] == 3 * 224 * 224 * 4
    assert t["param_bytes"] == 25_557_032 * 4
    assert t["total_bytes"] == t["input_bytes"] + t["activation_bytes"] + t["param_bytes"] + t["buffer_bytes"]
    assert "Input size: 0.60 MB" in r.stdout
    assert f"Params + buffers size: {(t['param_bytes'] + t['buffer_bytes']) / 1e6:,.2f} MB" in r.stdout
    assert "Estimated total size:" in r.stdout and "symbolic dims count as 1)" not in r.stdout.split("Estimated")[1]
    js = json.loads(run(EXAMPLES / "resnet50.nns", "--format", "json").stdout)
    assert js["input_bytes"] == t["input_bytes"] and js["total_bytes"] == t["total_bytes"]
