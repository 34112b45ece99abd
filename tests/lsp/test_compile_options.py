"""The language server's nnlang/compile request passes each target's own options (by the descriptor's names:
`layout` for keras, `opset` / flags for onnx) to the compile process, checked by kind; options of another
target and values of the wrong kind are refused before anything runs."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import zipfile
from types import SimpleNamespace

import pytest

from conftest import EXAMPLES
from nnlang_lsp.features.requests import _run_compile, compile_flags


def test_compile_flags_follow_the_target_descriptors():
    assert compile_flags("keras", {"uri": "u", "layout": "channels_first"}) == ["--layout=channels_first"]
    assert compile_flags("keras", {"layout": None}) == []
    assert compile_flags("onnx", {"opset": 13, "dynamic_batch": True, "no_weights": False}) == \
        ["--opset=13", "--dynamic-batch"]
    assert compile_flags("torch", {"weights": "w.safetensors"}) == []
    # the value stays one argument: a leading dash cannot read as another flag
    assert compile_flags("keras", {"layout": "--help"}) == ["--layout=--help"]


@pytest.mark.parametrize("target, params, message", [
    ("torch", {"layout": "channels_last"}, "layout: an option of keras only, not of torch"),
    ("keras", {"opset": 13}, "opset: an option of onnx only, not of keras"),
    ("keras", {"layout": 1}, "layout: a string, got 1"),
    ("onnx", {"opset": "13"}, "opset: a whole number, got '13'"),
    ("onnx", {"opset": True}, "opset: a whole number, got True"),
    ("onnx", {"dynamic_batch": "yes"}, "dynamic_batch: true or false, got 'yes'"),
])
def test_compile_flags_refuse_foreign_options_and_wrong_kinds(target, params, message):
    with pytest.raises(ValueError) as e:
        compile_flags(target, params)
    assert str(e.value) == message


@pytest.mark.slow
def test_compile_request_writes_keras_in_the_layout_asked(tmp_path):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (the keras extra)")
    shutil.copy(EXAMPLES / "lenet5.nns", tmp_path / "lenet5.nns")
    path = tmp_path / "lenet5.nns"
    doc = SimpleNamespace(path=str(path), text=path.read_text())
    formats = {}
    for layout in ("channels_first", "channels_last"):
        out = tmp_path / layout
        result = asyncio.run(_run_compile(doc, "keras", str(out), compile_flags("keras", {"layout": layout}), None))
        assert result["ok"] is True and result["error"] is None, result
        (written,) = result["written"]
        config = json.loads(zipfile.ZipFile(written).read("config.json"))
        formats[layout] = {layer["config"]["data_format"] for layer in config["config"]["layers"]
                           if layer["class_name"] == "Conv2D"}
    assert formats == {"channels_first": {"channels_first"}, "channels_last": {"channels_last"}}
    bad = asyncio.run(_run_compile(doc, "keras", str(tmp_path / "bad"), compile_flags("keras", {"layout": "nhwc"}),
                                   None))
    assert bad["ok"] is False and "--layout 'nhwc': choose channels_last or channels_first" in bad["error"]
