"""Symbolic sizes through a whole network: the U-Net on [N, 1, H, W], the W306 warning, --set H=... and
--input x=[...] (issue 12, part 2)."""

from __future__ import annotations

import json
from pathlib import Path

from nnlang import summary
from nnlang.analyze import analyze
from nnlang.cli import main

ROOT = Path(__file__).resolve().parent.parent
UNET = (ROOT / "examples" / "unet.nns").read_text()
DECL = "input image: [N, 1, 256, 256]"


def unet(decl: str) -> str:
    assert DECL in UNET
    return UNET.replace(DECL, decl)


def concat_inputs(a):
    g = a.graph
    return [[g.tensors[t].type.shape for t in n.inputs] for n in g.nodes if n.op == "Concat"]


def test_unet_on_multiples_of_16_is_verified_symbolically():
    a = analyze(unet("input image: [N, 1, 16 * H, 16 * W]"))
    assert a.diagnostics == []
    pairs = concat_inputs(a)
    assert len(pairs) == 4
    for skip, up in pairs:  # every skip connection: the same expressions on both sides
        assert skip[2:] == up[2:]
        assert all(d is not None for d in skip)
    assert [str(skip[2]) for skip, _ in pairs] == ["2 * H", "4 * H", "8 * H", "16 * H"]
    out = a.graph.tensors[a.graph.outputs[0][1]].type.shape
    assert [str(d) for d in out] == ["N", "2", "16 * H", "16 * W"]


def test_unet_on_any_size_warns_with_the_condition():
    text = unet("input image: [N, 1, H, W]")
    a = analyze(text)
    assert not a.errors
    warnings = [d for d in a.diagnostics if d.code == "W306"]
    concat_line = next(i for i, line in enumerate(text.splitlines(), 1) if "Concat(axis=1)" in line)
    assert {d.span.line for d in warnings} == {concat_line}  # at the Concat, inside block Up
    messages = sorted(d.message for d in warnings)
    assert "Concat: dim 2 of [N, 64, H, W] and [N, 64, (H // 2) * 2, (W // 2) * 2] are equal only when H is even" \
        in messages
    assert any(m.endswith("are equal only when H // 8 is even") for m in messages)
    assert len(messages) == 8  # 4 skips x 2 spatial dims, each once


def test_an_odd_skip_is_located_at_its_layer():
    text = """network Skip {
    input x: [N, 3, H, W]
    a = x -> Conv2d(8, 3, padding=1)
    b = a -> MaxPool2d(2) -> Upsample(scale_factor=2)
    c = (a, b) -> Add
    output c
}
"""
    a = analyze(text)
    (w, w2) = [d for d in a.diagnostics if d.code == "W306"]
    assert (w.span.line, w.span.column) == (5, 19)
    assert w.message == ("Add: dim 2 of [N, 8, H, W] and [N, 8, (H // 2) * 2, (W // 2) * 2] are equal only when "
                         "H is even")
    assert w2.message.endswith("only when W is even")
    bad = analyze(text.replace("MaxPool2d(2) -> Upsample(scale_factor=2)", "Conv2d(8, 3)"))
    assert [d.code for d in bad.diagnostics] == ["E301"]  # H - 2 is never H: an error, as with ints


def test_summary_with_input_equals_the_concrete_example(capsys, tmp_path):
    path = tmp_path / "unet_hw.nns"
    path.write_text(unet("input image: [N, 1, H, W]"))
    concrete = summary.to_json_obj(analyze(UNET).graph)
    assert main(["summary", str(path), "--input", "image=[1,1,256,256]", "--format", "json"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert given["total_macs"] == concrete["total_macs"] == 48_096_083_968
    assert given["total_params"] == concrete["total_params"]
    assert [x["output_shape"][1:] for x in given["layers"]] == [x["output_shape"][1:] for x in concrete["layers"]]
    assert given["layers"][-1]["output_shape"] == [1, 2, 256, 256]


def test_set_gives_an_input_symbol_a_size(capsys, tmp_path):
    path = tmp_path / "unet_hw.nns"
    path.write_text(unet("input image: [N, 1, H, W]"))
    assert main(["summary", str(path), "--set", "H=224", "--set", "W=224", "--set", "base=32"]) == 0
    out = capsys.readouterr().out
    assert "[N, 2, 224, 224]" in out and "(H" not in out
    assert main(["check", str(path), "--set", "H=224", "--set", "W=224"]) == 0  # no warning: all concrete
    assert capsys.readouterr().out == ""
    assert main(["check", str(path), "--set", "H=100", "--set", "W=224"]) == 1  # 100 / 8 is odd: an error
    assert "E301" in capsys.readouterr().out
    a = analyze(path.read_text(), overrides={"H": 0})
    assert [d.message for d in a.errors] == ["--set H: a size must be a positive int, got 0"]


def test_bad_input_is_a_usage_error(capsys, tmp_path):
    path = tmp_path / "unet_hw.nns"
    path.write_text(unet("input image: [N, 1, H, W]"))
    for arg, words in [("image=[1,1,256]", "3 dims given"), ("image=[1,2,256,256]", "dim 1 is declared 1, 2 given"),
                       ("label=[1,1,8,8]", "no input 'label'"), ("image=1,1,8,8", "name=[dims]"),
                       ("image=[1,1,0,8]", "positive int")]:
        assert main(["summary", str(path), "--input", arg]) == 2, arg
        err = capsys.readouterr().err
        assert err.startswith("nnlang: error: ") and words in err, (arg, err)


SMALL = """network Small {
    input x: [N, 3, H, W]
    y = x -> Conv2d(8, 3) -> MaxPool2d(2) -> Flatten
    output y
}
"""


def test_every_view_shows_the_expressions(tmp_path):
    """Hover, inlay hints, summary, diagram and the ONNX file all show `(H - 2) // 2`, never `?`."""
    from nnlang.diagram import diagram_payload
    from nnlang.ide import steps as st
    from nnlang.ide.hover import Context, hover

    a = analyze(SMALL, path=str(tmp_path / "small.nns"))
    assert a.diagnostics == []
    pooled = "[N, 8, (H - 2) // 2, (W - 2) // 2]"
    flat = "[N, 8 * ((H - 2) // 2) * ((W - 2) // 2)]"
    # inlay hints: one per step, the shape after it
    hints = [st._types_text(info.outputs[0]) for info in st.hint_steps(Context(a).steps)]
    assert hints == ["[N, 8, H - 2, W - 2]", pooled, flat]
    # hover on the pooling layer
    text = hover(Context(a), SMALL.index("MaxPool2d")).markdown
    assert pooled in text and "?" not in text
    # summary rows
    rows = {r.type: r.output_shape for r in summary.rows(a.graph)}
    assert [str(d) for d in rows["MaxPool2d"][0]] == ["N", "8", "(H - 2) // 2", "(W - 2) // 2"]
    # the diagram's boxes
    dot = diagram_payload(a, depth="all", svg=False)["dot"]
    assert "(H - 2) // 2" in dot.replace("&#47;", "/") or "(H - 2) // 2" in dot


def test_onnx_keeps_an_expression_as_dim_param(tmp_path):
    import pytest
    onnx = pytest.importorskip("onnx")
    from nnlang.targets import onnx as nx

    a = analyze(SMALL, path=str(tmp_path / "small.nns"))
    (path,) = nx.compile_to_dir(a, str(tmp_path), opset=17)
    model = onnx.load(path)
    out = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in out] == ["N", "8 * ((H - 2) // 2) * ((W - 2) // 2)"]
    onnx.checker.check_model(model, full_check=True)
