"""Capability warnings (W601): where the chosen target cannot express a layer, at its place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nnlang.analyze import analyze
from nnlang.targets.capability import target_warnings, warnings_for_text

pytest.importorskip("onnx")

BILINEAR = "network T {\n    input a: [N, 8]\n    input b: [N, 6]\n    y = (a, b) -> Bilinear(4)\n    output y\n}\n"


def test_a_layer_onnx_cannot_express_at_the_opset_is_a_located_warning():
    a = analyze(BILINEAR, "t.nns")
    (w,) = target_warnings(a, "onnx", 11)
    assert (w.code, w.severity.value, w.span.line, w.span.column, w.span.end_column) == ("W601", "warning", 4, 19, 30)
    assert "needs --opset 12" in w.message
    assert target_warnings(a, "onnx", 12) == [] and target_warnings(a, "torch") == []


def test_a_network_with_errors_gets_no_capability_warnings_and_unknown_targets_are_refused():
    assert target_warnings(analyze(BILINEAR.replace("Bilinear(4)", "Bilinear(4, nope=1)"), "t.nns"), "onnx", 11) == []
    with pytest.raises(ValueError):
        target_warnings(analyze(BILINEAR, "t.nns"), "mxnet")


def test_plain_data_for_a_worker_process_reads_unsaved_buffers(tmp_path):
    (tmp_path / "b.nns").write_text("block B {\n    input x\n    y = x -> ReLU\n    output y\n}\n")
    text = 'use "b"\n\nnetwork N {\n    input a: [N, 8]\n    input c: [N, 6]\n    y = (a, c) -> Bilinear(4)\n' \
           "    output y\n}\n"
    path = str(tmp_path / "n.nns")
    (item,) = warnings_for_text(text, path, "onnx", 11)
    assert (item["code"], item["line"], item["column"]) == ("W601", 6, 19)
    buffers = {str(tmp_path / "b.nns"): "block B {\n    input x\n    y = x -> (\n    output y\n}\n"}
    assert warnings_for_text(text, path, "onnx", 11, buffers) == []  # the unsaved b.nns has a syntax error: no warnings


def test_check_command_with_a_target(tmp_path):
    path = tmp_path / "t.nns"
    path.write_text(BILINEAR)
    run = subprocess.run([sys.executable, "-m", "nnlang", "check", str(path), "--target", "onnx", "--opset", "11"],
                         capture_output=True, text=True)
    assert run.returncode == 0  # a warning
    assert f"{path}:4:19: warning[W601]: not expressible in ONNX at opset 11" in run.stdout
