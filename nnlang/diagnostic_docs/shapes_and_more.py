"""Diagnostic reference entries: shapes (E3xx, W3xx), imports (E4xx), evaluation (E5xx), targets (W6xx)."""

from __future__ import annotations

from .codedoc import LIB_HEAD, USES_HEAD, CodeDoc

DOCS: dict[str, CodeDoc] = {
    # ---------------------------------------------------------------- shapes
    "E301": CodeDoc(
        "Tensors whose shapes must agree do not: the inputs of `Add`, `Mul` or a residual connection, the "
        "other dims of a `Concat`, a declared block input. The message names both shapes and where each "
        "came from.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, padding=1)
    z = (x, y) -> Add
    output z
}
""",
        "Make the shapes agree: here, project the skip path to 8 channels (or give the convolution 3).",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, padding=1)
    s = x -> Conv2d(8, 1)
    z = (s, y) -> Add
    output z
}
"""),
    "E302": CodeDoc(
        "A layer got an input of a rank it does not take: `BatchNorm2d` and `Conv2d` want `[N, C, H, W]`, "
        "`BatchNorm1d` `[N, C]` or `[N, C, L]`.",
        """network Net {
    input x: [N, 16]
    y = x -> BatchNorm2d
    output y
}
""",
        "Use the layer of the input's rank (or reshape the input first).",
        """network Net {
    input x: [N, 16]
    y = x -> BatchNorm1d
    output y
}
"""),
    "E303": CodeDoc(
        "A size that must be a number is symbolic: `Linear` needs its in-features known to count its "
        "weights, and `x.channels` of `[N, C, H, W]` has no value at compile time.",
        """network Net {
    input x: [N, F]
    y = x -> Linear(4)
    output y
}
""",
        "Give that input dim a number (or `--set F=16` on the command line).",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
    "E304": CodeDoc(
        "A shape that cannot exist: a dim of 0, or a layer that would produce one (a kernel larger than its "
        "padded input, a pooling window past the end).",
        """network Net {
    input x: [N, 3, 8, 8]
    y = x -> Conv2d(8, 3) -> MaxPool2d(2) -> Conv2d(8, 5)
    output y
}
""",
        "Shrink the kernel, pad, or take a larger input. The message gives the size the layer received.",
        """network Net {
    input x: [N, 3, 8, 8]
    y = x -> Conv2d(8, 3) -> MaxPool2d(2) -> Conv2d(8, 3)
    output y
}
"""),
    "E305": CodeDoc(
        "A tensor of a dtype the layer does not take: `Embedding` wants integer indices (`i64`), a loss "
        "wants its class targets as `i64`. A network input is `f32` unless declared otherwise.",
        """network Net {
    input tokens: [N, 12]
    y = tokens -> Embedding(1000, 64)
    output y
}
""",
        "Declare the input's dtype after its shape.",
        """network Net {
    input tokens: [N, 12] i64
    y = tokens -> Embedding(1000, 64)
    output y
}
"""),
    "W306": CodeDoc(
        "Two sizes that must be equal are symbolic expressions equal only for some inputs: after a 2x2 "
        "pool and a 2x upsample, a height `H` becomes `(H // 2) * 2`, which equals `H` only when `H` is "
        "even. A warning: the network works for the inputs that meet the condition, the message says which.",
        """network Net {
    input x: [N, 8, H, 32]
    up = x -> MaxPool2d(2) -> ConvTranspose2d(8, 2, stride=2)
    y = (x, up) -> Concat(axis=1)
    output y
}
""",
        "Declare the input so the condition holds (`2 * H` is even for every `H`), or give the sizes numbers "
        "(`--set H=64`).",
        """network Net {
    input x: [N, 8, 2 * H, 32]
    up = x -> MaxPool2d(2) -> ConvTranspose2d(8, 2, stride=2)
    y = (x, up) -> Concat(axis=1)
    output y
}
"""),
    # ---------------------------------------------------------------- imports
    "E401": CodeDoc(
        "`use \"path\"` names no file: the path is relative to the importing file, the `.nns` suffix is "
        "optional, and `std/NAME` names a file of the shipped library (`std/resnet`, `std/transformer`).",
        USES_HEAD,
        "Fix the path, or create the file: here, `lib.nns` next to `net.nns` with the block.",
        USES_HEAD, fixed_files=(("lib.nns", LIB_HEAD),)),
    "E402": CodeDoc(
        "Files that `use` each other in a loop (the message shows the chain). Imports are transitive: a "
        "file may not import, directly or not, a file that imports it.",
        USES_HEAD,
        "Delete the `use` that closes the loop (here `use \"net\"` in `lib.nns`), or move what both files "
        "need into a third file they both use.",
        USES_HEAD, files=(("lib.nns", 'use "net"\n\n' + LIB_HEAD),), fixed_files=(("lib.nns", LIB_HEAD),)),
    "E403": CodeDoc(
        "A `use`d file has errors of its own, reported once at the `use` (with the first as a related "
        "location); check that file to see them all.",
        USES_HEAD,
        "Fix the imported file (here, the missing `,` in `lib.nns`).",
        USES_HEAD,
        files=(("lib.nns", LIB_HEAD.replace("Flatten -> Linear(classes)", "Flatten -> Linear(classes bias=false)")),),
        fixed_files=(("lib.nns", LIB_HEAD),)),
    # ---------------------------------------------------------------- compile-time evaluation
    "E501": CodeDoc(
        "A compile-time expression cannot be evaluated: a division by zero, `range` of a non-int, a "
        "repeat count below 1, a function given the wrong arguments.",
        """network Net(width: int = 64, groups: int = 0) {
    input x: [N, 3, 32, 32]
    let per_group = width // groups
    y = x -> Conv2d(per_group, 3)
    output y
}
""",
        "Make the expression valid for the values it gets (here, a non-zero default).",
        """network Net(width: int = 64, groups: int = 4) {
    input x: [N, 3, 32, 32]
    let per_group = width // groups
    y = x -> Conv2d(per_group, 3)
    output y
}
"""),
    "E502": CodeDoc(
        "An `if` condition that is not `true` or `false`: there is no truthiness, so an int or a string is "
        "not a condition.",
        """network Net(use_bn: int = 1) {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3)
    if use_bn {
        y = y -> BatchNorm2d
    }
    output y
}
""",
        "Compare, or make the parameter a `bool`.",
        """network Net(use_bn: bool = true) {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3)
    if use_bn {
        y = y -> BatchNorm2d
    }
    output y
}
"""),
    "E503": CodeDoc(
        "The network expands past a limit that keeps analysis fast: more than 25,000 layers, more "
        "compile-time work than its text accounts for (200,000 steps plus 6 per character of the network and "
        "of the blocks it expands; a statement or an expression node is a step, a layer 40), a layer with more "
        "than 4,096 outputs, or blocks nested more than 48 deep. Almost always a repeat count or loop bound "
        "that is far too large. The networks of a file also share one budget (200,000 steps plus 6 per "
        "character of the file and of the blocks it imports), spent in file order: the network that meets it "
        "is cut, and each network after it is reported once, at its name, and not analysed.",
        """network Net {
    input x: [N, 16]
    y = x
    for i in range(30000) {
        y = y -> Linear(16)
    }
    output y
}
""",
        "Use a count of the size you mean.",
        """network Net {
    input x: [N, 16]
    y = x
    for i in range(3) {
        y = y -> Linear(16)
    }
    output y
}
"""),
    "E504": CodeDoc(
        "A block that uses itself, directly or through other blocks (the message shows the chain): "
        "expansion would never end. Repeat a block with `Block * n` or `for` instead.",
        """block Tower(c: int) {
    input x
    y = x -> Conv2d(c, 3, padding=1) -> Tower(c)
    output y
}

network Net {
    input x: [N, 3, 32, 32]
    y = x -> Tower(8)
    output y
}
""",
        "Repeat the block instead of recursing.",
        """block Tower(c: int) {
    input x
    y = x -> Conv2d(c, 3, padding=1)
    output y
}

network Net {
    input x: [N, 3, 32, 32]
    y = x -> Tower(8) * 4
    output y
}
"""),
    "E505": CodeDoc(
        "An override does not fit the network: `--set NAME=VALUE` for a name that is neither a parameter "
        "of the network nor a symbol of its input shapes, a value of the wrong type, a size that is not a "
        "positive int, or an `--input` shape that does not match the declared one. It is the code of "
        "`analyze(text, overrides=..., inputs=...)` (Python API); on the command line it is a usage error: "
        "the message on standard error and exit status 2.",
        """network Net(classes: int = 10) {
    input x: [N, 16]
    y = x -> Linear(classes)
    output y
}
""",
        "Set a parameter the network has (its header lists them): `nnlang check net.nns --set classes=100`.",
        args=("--set", "num_classes=100"), fixed_args=("--set", "classes=100")),
    # ---------------------------------------------------------------- targets
    "W601": CodeDoc(
        "With `--target` (or the editor's target setting), a layer that target cannot express: ONNX at "
        "the chosen opset has no form for it. A warning: the network is valid, that target cannot write it.",
        """network Net {
    input x: [N, 16], label: [N] i64
    logits = x -> Linear(4)
    loss = (logits, label) -> CrossEntropyLoss
    output logits, loss
}
""",
        "Target an opset that has the operator (the message names it: `--opset 12`), or use another layer.",
        args=("--target", "onnx", "--opset", "11"), fixed_args=("--target", "onnx", "--opset", "12")),
}
