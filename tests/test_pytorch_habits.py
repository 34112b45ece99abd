"""What a user fluent in PyTorch writes first: never a different network in silence, always one located
diagnostic that shows the .nns way, with the rewrite as its quick fix (issue: the language meets what
users bring)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.ide.actions import apply, quick_fixes
from nnlang.ide.hover import Context
from nnlang.layers import registry

ROOT = Path(__file__).resolve().parent.parent


def net(*lines: str, inputs: str = "x: [N, 3, 32, 32]") -> str:
    body = "\n".join(f"    {line}" for line in lines)
    return f"network A {{\n    input {inputs}\n{body}\n    output y\n}}\n"


def diags(text: str):
    return [(d.code, d.span.line, d.span.column, d.message) for d in analyze(text).diagnostics]


# ---- the table of the issue: each row built something else before ----------------------------------

TABLE = [
    # (the call, the input, its code, the message it must contain, the rewrite)
    ("BatchNorm2d(32)", "x: [N, 32, 8, 8]", "E110", "input channels are inferred here (32 from `x`)", "BatchNorm2d"),
    ("GroupNorm(32, 64)", "x: [N, 64, 8, 8]", "E110", "input channels are inferred here (64 from `x`)",
     "GroupNorm(32)"),
    ("LSTM(64, 128)", "x: [N, T, 64]", "E110", "input features are inferred here (64 from `x`)", "LSTM(128)"),
    ("Conv2d(3, 32, 3)", "x: [N, 3, 32, 32]", "E110", "input channels are inferred here (3 from `x`)",
     "Conv2d(32, kernel=3)"),
    ("Linear(512, 10)", "x: [N, 512]", "E110", "input features are inferred here (512 from `x`)", "Linear(10)"),
    ("MultiheadAttention(64, 4)", "x: [N, T, 64]", "E110", "embedding size is inferred here (64 from `x`)",
     "MultiheadAttention(4)"),
]


@pytest.mark.parametrize("call, inputs, code, says, rewrite", TABLE, ids=[row[0] for row in TABLE])
def test_pytorch_order_is_one_located_diagnostic_with_its_rewrite(call, inputs, code, says, rewrite):
    text = net(f"y = x -> {call}", inputs=inputs)
    a = analyze(text)
    assert [(d.code, d.span.line, d.span.column) for d in a.diagnostics] == [(code, 3, 14)]
    d = a.diagnostics[0]
    assert d.message == f"`{call}`: {says}: write `{rewrite}`"
    assert text[d.span.start:d.span.end] == call
    assert d.suggestions == (rewrite,)
    # the quick fix writes the rewrite, and the network then checks clean
    (fix,) = quick_fixes(Context(a), [(d.code, d.span.start, d.span.end, d.message)])
    assert analyze(apply(text, fix.edits)).diagnostics == []


def test_the_written_size_differs_from_the_inferred_one():
    (d,) = analyze(net("y = x -> Conv2d(4, 32, 3)")).diagnostics
    assert d.message == "`Conv2d(4, 32, 3)`: input channels are inferred here (`x` has 3, not 4): " \
                        "write `Conv2d(32, kernel=3)`"
    (d,) = analyze(net("y = x -> Flatten -> Linear(512, 10)")).diagnostics
    assert d.message == "`Linear(512, 10)`: input features are inferred here (its input has 3072, not 512): " \
                        "write `Linear(10)`"


def test_the_inferred_size_as_a_keyword():
    (d,) = analyze(net("y = x -> MultiheadAttention(embed_dim=64, num_heads=4)", inputs="x: [N, T, 64]")).diagnostics
    assert (d.code, d.span.column) == ("E110", 14)
    assert d.message == "`MultiheadAttention(embed_dim=64, num_heads=4)`: embedding size is inferred here " \
                        "(64 from `x`): write `MultiheadAttention(4)`"
    (d,) = analyze(net("y = x -> Conv2d(in_channels=3, out_channels=8, kernel_size=3)")).diagnostics
    assert d.suggestions == ("Conv2d(8, kernel=3)",)


def test_inside_a_block_never_instantiated_the_static_message_stays():
    text = "block B {\n    input x\n    y = x -> BatchNorm2d(16)\n    output y\n}\n" + net("y = x -> ReLU")
    (d,) = analyze(text).diagnostics
    assert (d.code, d.span.line, d.message) == (
        "E110", 3, "`BatchNorm2d(16)`: input channels are inferred here, not written: write `BatchNorm2d`")


def test_check_exits_1_and_prints_the_rewrite(tmp_path):
    path = tmp_path / "habits.nns"
    path.write_text(net("a = x -> BatchNorm2d(3)", "y = x -> Conv2d(3, 16, 3, padding=1)"))
    r = subprocess.run([sys.executable, "-m", "nnlang", "check", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{path}:3:14: error[E110]: `BatchNorm2d(3)`: input channels are inferred here (3 from `x`): " \
           "write `BatchNorm2d`" in r.stdout
    assert "error[E110]: `Conv2d(3, 16, 3, padding=1)`: input channels are inferred here (3 from `x`): " \
           "write `Conv2d(16, kernel=3, padding=1)`" in r.stdout


# ---- positional arguments: only the leading, obvious ones --------------------------------------------

@pytest.mark.parametrize("layer, positional", [
    ("Conv2d", ["out_channels", "kernel"]), ("ConvTranspose2d", ["out_channels", "kernel"]),
    ("Linear", ["out_features"]), ("LSTM", ["hidden_size"]), ("GRU", ["hidden_size"]),
    ("MaxPool2d", ["kernel"]), ("AvgPool2d", ["kernel"]), ("BatchNorm2d", []), ("LayerNorm", []),
    ("GroupNorm", ["num_groups"]), ("MultiheadAttention", ["num_heads"]), ("Embedding",
                                                                           ["num_embeddings", "embedding_dim"]),
    ("Upsample", []), ("Dropout", ["p"]), ("LeakyReLU", ["negative_slope"]), ("GELU", []),
    ("Reshape", ["shape"]), ("Concat", ["axis"]), ("CrossEntropyLoss", []),
])
def test_positional_parameters_per_layer(layer, positional):
    assert [p.name for p in registry.get(layer).params if p.positional] == positional


def test_every_layer_has_positional_parameters_first_and_none_optional_beyond_its_count():
    for spec in registry.all_layers():
        flags = [p.positional for p in spec.params]
        assert flags == sorted(flags, reverse=True), spec.name  # a positional prefix, then keyword-only


@pytest.mark.parametrize("call, message", [
    ("MaxPool2d(3, 2)", "`MaxPool2d(3, 2)`: MaxPool2d takes 1 positional argument (kernel); in PyTorch's order "
                        "this is `MaxPool2d(3, stride=2)`"),
    ("Upsample(2)", "`Upsample(2)`: Upsample takes no positional arguments; in PyTorch's order this is "
                    "`Upsample(size=2)`"),
    ("Reshape(3, 1024)", "`Reshape(3, 1024)`: Reshape takes its shape as one tuple: write `Reshape((3, 1024))`"),
    ("Reshape(-1, 3, 1024)", "`Reshape(-1, 3, 1024)`: Reshape takes its shape as one tuple after the batch dim, "
                             "which is kept and not written: write `Reshape((3, 1024))`"),
    ("Permute(0, 2, 3, 1)", "`Permute(0, 2, 3, 1)`: Permute takes its dims as one tuple: "
                            "write `Permute((0, 2, 3, 1))`"),
])
def test_surplus_positional_arguments_show_the_call_by_name(call, message):
    (d,) = analyze(net(f"y = x -> {call}")).diagnostics
    assert (d.code, d.span.line, d.span.column, d.message) == ("E106", 3, 14, message)


def test_surplus_arguments_that_are_no_pytorch_call_get_the_plain_message():
    assert diags(net("y = x -> Flatten -> Linear(10, true, 3)")) == [
        ("E106", 3, 36, "Linear takes at most 1 positional argument; name the rest (e.g. bias=...)")]


def test_linear_with_bias_by_position_was_misread_now_named():
    (d,) = analyze(net("y = x -> Flatten -> Linear(10, false)")).diagnostics
    assert d.code == "E106" and "name the rest (e.g. bias=...)" in d.message


# ---- the messages of part 1 ---------------------------------------------------------------------------

def test_module_prefix():
    text = net("y = x -> nn.Conv2d(8, 3) -> torch.nn.ReLU")
    assert diags(text) == [
        ("E001", 3, 14, "`nn.Conv2d`: layers are written without a module prefix: write `Conv2d`"),
        ("E001", 3, 33, "`torch.nn.ReLU`: layers are written without a module prefix: write `ReLU`")]


def test_a_layer_called_on_a_tensor():
    assert diags(net("y = Conv2d(16, 3)(x)")) == [
        ("E001", 3, 9, "`Conv2d(16, 3)(x)`: layers are not called on tensors; a chain starts from its input: "
                       "write `x -> Conv2d(16, 3)`")]  # and no "input 'x' is never used"
    assert [d[0] for d in diags(net("(a, b) = Split(2)(x)", "y = (a, b) -> Add"))] == ["E001"]


def test_an_unclosed_parenthesis_points_where_it_opened():
    text = net("y = x -> Conv2d(16, 3 -> ReLU")
    a = analyze(text)
    (d,) = a.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E001", 3, 20)
    assert d.message == "missing ')': this '(' is not closed before '->'"
    assert [(r.span.line, r.span.column, r.message) for r in d.related] == [(3, 27, "')' expected here")]
    (d,) = analyze("network A {\n    input x: [N, 3]\n    y = x -> Linear(4\n").diagnostics
    assert (d.code, d.message) == ("E003", "unexpected end of file: missing ')' to close the '(' after 'Linear'")
    assert [(r.span.line, r.span.column) for r in d.related] == [(3, 20)]


def test_return_is_read_as_output_one_error():
    text = "network A {\n    input x: [N, 4]\n    out = x -> ReLU\n    return out\n}\n"
    assert diags(text) == [("E001", 4, 5, "'return' is not part of the language: a network names its results "
                                          "with `output out`")]


def test_a_missing_output_suggests_the_last_unused_tensor():
    text = "network A {\n    input x: [N, 4]\n    feat = x -> ReLU\n    logits = feat -> Linear(2)\n}\n"
    (d, _) = analyze(text).diagnostics
    assert (d.code, d.message) == ("E207", "network A has no output: add `output logits` (its last unused tensor)")


def test_a_misspelt_use_path():
    text = 'use "std/resnt"\n' + net("y = x -> BasicBlock(64) -> Bottleneck(16)", inputs="x: [N, 64, 8, 8]")
    a = analyze(text, path=str(ROOT / "x.nns"))
    (d,) = a.diagnostics  # the blocks it brings are found: no unknown layers one by one
    assert (d.code, d.span.line, d.span.column) == ("E401", 1, 5)
    assert d.message.endswith("did you mean 'std/resnet'?") and d.suggestions == ('"std/resnet"',)
    assert a.graph.total_params > 0  # analysed with the file meant
    text = 'use "std/nothing_like_it"\n' + net("y = x -> BasicBlock(64) -> Bottleneck(16)")
    (d,) = analyze(text, path=str(ROOT / "x.nns")).diagnostics
    assert d.code == "E401" and d.message.endswith("so BasicBlock, Bottleneck are unknown here")
    assert [(r.span.line, r.span.column) for r in d.related] == [(4, 14), (4, 32)]


def test_a_note_in_the_shipped_library_is_named_std(tmp_path):
    path = tmp_path / "n.nns"
    path.write_text('use "std/resnet"\n' + net("y = x -> BasicBlock(64)", inputs="x: [N, 3, 32]"))
    r = subprocess.run([sys.executable, "-m", "nnlang", "check", str(path)], capture_output=True, text=True)
    assert "in block BasicBlock (std/resnet.nns:13:19)" in r.stdout
    assert "  std/resnet.nns:13:19: note: in block BasicBlock" in r.stdout
    assert str(ROOT / "nnlang") not in r.stdout
    r = subprocess.run([sys.executable, "-m", "nnlang", "check", "--format", "json", str(path)],
                       capture_output=True, text=True)
    assert '"path": "std/resnet.nns"' in r.stdout and str(ROOT / "nnlang") not in r.stdout


def test_a_kernel_larger_than_what_is_left_of_the_input():
    stages = " -> ".join(["Conv2d(16, 3) -> MaxPool2d(2)"] * 3)
    (d,) = analyze(net(f"y = x -> {stages} -> Conv2d(16, 3)")).diagnostics
    assert d.code == "E304" and d.span.line == 3
    assert "the input has shrunk to 2 here (a downsampling stage too many for this input size?)" in d.message
    assert "AdaptiveAvgPool2d" in d.message
    assert [r.message for r in d.related] == ["the input [N, 16, 2, 2] comes from here"]


def test_linear_on_a_size_that_is_not_known_names_the_dims_and_why():
    (d,) = analyze(net("y = x -> Conv2d(16, 3) -> Flatten -> Linear(10)", inputs="x: [N, 3, H, W]")).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E303", 3, 42)
    assert d.message.startswith("Linear: in_features must be known, but the last dim of its input [N, ")
    assert d.message.endswith("which depends on the input sizes H, W; give them a value (`--set H=...`) or make "
                              "the size fixed before Linear (e.g. AdaptiveAvgPool2d(1) -> Flatten)")
    fixed = net("y = x -> Conv2d(16, 3) -> AdaptiveAvgPool2d(1) -> Flatten -> Linear(10)", inputs="x: [N, 3, H, W]")
    assert analyze(fixed).diagnostics == []


def test_the_language_reference_shows_real_output(tmp_path):
    """docs/language.md's `text` block of these errors is what `nnlang check` prints."""
    doc = (ROOT / "docs" / "language.md").read_text()
    shown = [line for line in doc.splitlines() if line.startswith("net.nns:")]
    assert len(shown) == 3
    path = tmp_path / "net.nns"
    path.write_text("network Net {\n    input x: [N, 3, 32, 32], y: [N, 16, 8, 8]\n    a = x -> Conv2d(3, 32, 3)\n"
                    "    b = y -> BatchNorm2d(32)\n    c = x -> MaxPool2d(3, 2)\n    output a, b, c\n}\n")
    r = subprocess.run([sys.executable, "-m", "nnlang", "check", "net.nns"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert [line for line in r.stdout.splitlines() if line.startswith("net.nns:")] == shown
