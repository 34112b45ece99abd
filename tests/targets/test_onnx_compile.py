"""`nnlang compile --to onnx`: what is written, and that a failed compile writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _onnx_harness as oh
import pytest

from nnlang.targets.onnx import CompileError, compile_to_dir
from nnlang.targets.onnx.emit import build_model

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "examples" / "lenet5.nns"
LOSS_NET = ("network Head {\n    input x: [N, 8]\n    input label: [N] i64\n"
            "    logits = x -> fc: Linear(4)\n"
            "    loss = (logits, label) -> ce: CrossEntropyLoss(label_smoothing=0.1)\n"
            "    output logits, loss\n}\n")


def lenet():
    return oh.analysed(LENET.read_text(), path=str(LENET))


def cli(*args):
    env = dict(os.environ, ORT_DISABLE_TELEMETRY="1")
    return subprocess.run([sys.executable, "-m", "nnlang", "compile", *map(str, args)], capture_output=True,
                          text=True, env=env, check=False)


def test_compile_writes_one_checked_file_deterministically(tmp_path):
    first = compile_to_dir(lenet(), str(tmp_path / "a"))
    second = compile_to_dir(lenet(), str(tmp_path / "b"))
    assert [Path(p).name for p in first] == ["LeNet5.onnx"]
    assert sorted(os.listdir(tmp_path / "a")) == ["LeNet5.onnx"]  # no temporary file left behind
    assert Path(first[0]).read_bytes() == Path(second[0]).read_bytes()
    onnx.checker.check_model(first[0], full_check=True)
    assert oct(os.stat(first[0]).st_mode & 0o777) == "0o644"


def test_seed_and_weights_file_give_the_initializers_torch_has(tmp_path):
    from nnlang.targets.torch.weights import save

    g = lenet().graph
    module, _ = oh.torch_reference(g, seed=5)
    save(module, tmp_path / "w.safetensors")
    (written,) = compile_to_dir(lenet(), str(tmp_path / "out"), seed=0, weights=str(tmp_path / "w.safetensors"))
    model = onnx.load(written)
    state = module.state_dict()
    for init in model.graph.initializer:
        assert (onnx.numpy_helper.to_array(init) == state[init.name].numpy()).all(), init.name
    assert {p.key: p.value for p in model.metadata_props}["nnlang_weights"] == "w.safetensors"
    x = torch.randn(3, 1, 28, 28)
    ref, got = oh.compare(g, 17, [x], module=module, model=written)
    oh.assert_same(ref, got, 1e-5)
    (seeded,) = compile_to_dir(lenet(), str(tmp_path / "seeded"), seed=5)
    assert {i.name: i.raw_data for i in onnx.load(seeded).graph.initializer} == \
        {i.name: i.raw_data for i in model.graph.initializer}


def test_unexpressible_layers_are_reported_together_and_nothing_is_written(tmp_path):
    text = ("network Head {\n    input x: [N, 8]\n    input label: [N] i64\n"
            "    h = x -> fc: Linear(4)\n"
            "    logits = (h, h) -> bil: Bilinear(4)\n"
            "    loss = (logits, label) -> ce: CrossEntropyLoss\n"
            "    output logits, loss\n}\n")
    a = oh.analysed(text, path="head.nns")
    out = tmp_path / "out"
    with pytest.raises(CompileError) as e:
        compile_to_dir(a, str(out), opset=11)
    message = str(e.value)
    assert message.startswith("2 layers cannot be written as ONNX:")
    assert "head.nns:5:" in message and "bil (Bilinear)" in message
    assert "head.nns:6:" in message and "ce (CrossEntropyLoss)" in message
    assert message.count("needs --opset 12 or newer (chosen: 11)") == 2
    assert not out.exists()
    assert compile_to_dir(a, str(out), opset=12) == [str(out / "Head.onnx")]


def test_a_failing_compile_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    old = out / "LeNet5.onnx"
    old.write_bytes(b"previous")
    from nnlang.targets.torch.weights import WeightsError

    bad = tmp_path / "bad.safetensors"
    from safetensors.torch import save_file

    save_file({"fc.weight": torch.zeros(2, 2)}, str(bad))
    with pytest.raises(WeightsError):
        compile_to_dir(lenet(), str(out), weights=str(bad))
    assert old.read_bytes() == b"previous" and os.listdir(out) == ["LeNet5.onnx"]

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        compile_to_dir(lenet(), str(out))
    assert old.read_bytes() == b"previous" and os.listdir(out) == ["LeNet5.onnx"]


def test_large_weights_go_to_external_data(tmp_path):
    """Above the threshold (2 GB by default; here every byte) the weights go to <network>.onnx.data."""
    written = compile_to_dir(lenet(), str(tmp_path), external_data_above=0)
    assert [Path(p).name for p in written] == ["LeNet5.onnx", "LeNet5.onnx.data"]
    assert sorted(os.listdir(tmp_path)) == ["LeNet5.onnx", "LeNet5.onnx.data"]
    g = lenet().graph
    assert os.path.getsize(written[1]) > 0.95 * 4 * g.total_params > 10 * os.path.getsize(written[0])
    onnx.checker.check_model(written[0], full_check=True)
    model = onnx.load(written[0], load_external_data=False)
    sizes = {f"{n.path}.{w.name}": 4 * w.size for n in g.nodes for w in n.weights}
    external = {i.name for i in model.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL}
    assert external == {k for k, v in sizes.items() if v >= 1024}  # tiny biases stay inline
    module, _ = oh.torch_reference(g, seed=0)
    ref, got = oh.compare(g, 17, [torch.randn(2, 1, 28, 28)], module=module, model=written[0])
    oh.assert_same(ref, got, 1e-5)


def test_inputs_given_back_and_tensors_under_two_names_get_their_own_outputs():
    g = oh.analysed("network T {\n  input x: [2, 3]\n  y = x -> r: ReLU\n  z = y\n  output y, z, x\n}\n").graph
    model = build_model(g, 17, {})
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["y", "z", "x_1"]
    x = torch.randn(2, 3)
    got = oh.run_onnx(model, {"x": x.numpy()})
    assert all((r == e).all() for r, e in zip(got, [x.relu().numpy(), x.relu().numpy(), x.numpy()]))


def test_names_and_strings_from_the_file_are_data_only():
    """Doc strings and file names reach the protobuf only as strings, byte for byte."""
    doc = 'quote " \' back\\slash {0} }} \n newline \t tab ${x} <!-- --> \u2028'
    text = f"network Odd {{\n    {json.dumps(doc)}\n    input x: [2, 3]\n    y = x -> ReLU\n    output y\n}}\n"
    a = oh.analysed(text, path="we'ird \"dir\"/n\x01.nns")
    assert a.graph.doc == doc
    model = build_model(a.graph, 17, {}, document=a.path)
    again = onnx.load_from_string(model.SerializeToString())
    assert again.graph.doc_string == doc and again.doc_string == doc
    assert again.graph.node[0].doc_string == "we'ird \"dir\"/n\x01.nns:4:14"
    onnx.checker.check_model(again, full_check=True)


# ---- dynamic batch -------------------------------------------------------------------------------

FIXED = "network Fixed {\n    input x: [4, 3, 8, 8]\n    y = x -> c: Conv2d(5, 3, padding=1) -> GlobalAvgPool -> fc: Linear(2)\n" \
        "    output y\n}\n"


def test_dynamic_batch_runs_with_any_batch_size():
    g = oh.analysed(FIXED).graph
    module, state = oh.torch_reference(g)
    static = build_model(g, 17, state)
    assert oh.onnx_shape(static.graph.input[0]) == [4, 3, 8, 8]
    dynamic = build_model(g, 17, state, dynamic_batch=True)
    assert oh.onnx_shape(dynamic.graph.input[0]) == ["N", 3, 8, 8]
    assert oh.onnx_shape(dynamic.graph.output[0]) == ["N", 2]
    assert {v.name: oh.onnx_shape(v) for v in dynamic.graph.value_info}["c"] == ["N", 5, 8, 8]
    for batch in (1, 3):
        x = torch.randn(batch, 3, 8, 8)
        ref, got = oh.compare(g, 17, [x], module=module, model=dynamic)
        oh.assert_same(ref, got, 1e-5)
    with pytest.raises(Exception, match="(?i)invalid|dimension"):
        oh.run_onnx(static, {"x": torch.randn(3, 3, 8, 8).numpy()})


def test_dynamic_batch_is_refused_where_a_layer_needs_the_batch_size():
    g = oh.analysed("network T {\n    input x: [4, 3]\n    y = x -> Transpose(0, 1) -> fc: Linear(5)\n"
                    "    output y\n}\n").graph
    assert build_model(g, 17, oh.torch_reference(g)[1]) is not None
    with pytest.raises(CompileError) as e:
        build_model(g, 17, {}, dynamic_batch=True)
    ((node, why),) = e.value.problems
    assert node.path == "fc" and "--dynamic-batch" in why and "must be known" in why


# ---- command line --------------------------------------------------------------------------------

def test_cli_compiles_to_onnx_with_opset_and_dynamic_batch(tmp_path):
    src = tmp_path / "fixed.nns"
    src.write_text(FIXED)
    r = cli(src, "--to", "onnx", "-o", tmp_path / "out", "--opset", "13", "--dynamic-batch")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "out" / "Fixed.onnx")
    model = onnx.load(r.stdout.strip())
    assert model.opset_import[0].version == 13 and oh.onnx_shape(model.graph.input[0])[0] == "N"


def test_cli_reports_unexpressible_layers_and_bad_options(tmp_path):
    src = tmp_path / "head.nns"
    src.write_text(LOSS_NET)
    r = cli(src, "--to", "onnx", "-o", tmp_path / "out", "--opset", "11")
    assert r.returncode == 1
    assert f"{src}:5:" in r.stderr and "ce (CrossEntropyLoss)" in r.stderr and "needs --opset 12" in r.stderr
    assert not (tmp_path / "out").exists()
    r = cli(src, "--to", "onnx", "-o", tmp_path / "out", "--opset", "7")
    assert r.returncode == 2 and "--opset: opset 7 is not supported: choose 11 to" in r.stderr
    r = cli(src, "--to", "torch", "-o", tmp_path / "out", "--opset", "13")
    assert r.returncode == 2 and "--to onnx only" in r.stderr
    assert not (tmp_path / "out").exists()
    r = cli(src, "--to", "onnx", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
