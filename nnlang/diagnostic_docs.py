"""The diagnostic reference (docs/diagnostics.md): for every code of nnlang.diagnostics.CODES, what it
means, a minimal file that triggers it, what `nnlang check` prints for it, and the fix.

CODES stays the one list of codes and their short titles; this module holds, per code, the rest as
data (`DOCS`). `render()` generates the reference and runs every trigger through the real command
line (`check`), so the output shown is what nnlang prints today; tests/test_diagnostic_docs.py
checks that every trigger gives its code, that every fix removes it, and that docs/diagnostics.md is
current (`make docs` writes it).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

MAIN = "net.nns"  # the name of every example's file
PROJECT_DIR = "/home/me/project"  # the directory the examples are checked in, as the reference shows it


@dataclass(frozen=True)
class CodeDoc:
    meaning: str  # what the code means (Markdown, one paragraph)
    trigger: str  # net.nns: a complete file that gives the code
    fix: str  # the change to make (Markdown)
    fixed: Optional[str] = None  # net.nns corrected: a whole file without the code, and without errors
    files: tuple = ()  # (name, text) of other files next to net.nns (imports)
    fixed_files: Optional[tuple] = None  # the other files of the fix (default: `files`)
    args: tuple = ()  # options after `nnlang check net.nns` (--network, --set, --target)
    fixed_args: Optional[tuple] = None  # the options of the fix (default: `args`)
    shown: Optional[str] = None  # the trigger as the reference shows it, where the real one is generated


def _deep(levels: int) -> str:
    return ("network Deep {\n    input x: [N, 4]\n    y = x -> Linear(" + "(" * levels + "4" + ")" * levels
            + ")\n    output y\n}\n")


_LIB_HEAD = """block Head(classes: int) {
    input x
    y = x -> Flatten -> Linear(classes)
    output y
}
"""

_USES_HEAD = """use "lib"

network Net {
    input x: [N, 8, 4, 4]
    y = x -> Head(10)
    output y
}
"""

DOCS: dict[str, CodeDoc] = {
    # ---------------------------------------------------------------- syntax
    "E001": CodeDoc(
        "The parser met a token that cannot come where it stands: most often a missing `->` between two "
        "layers, a missing `,` between arguments, or a Python statement (`return y`, `def`). The message says "
        "what was expected; the rest of the file is still checked.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3) ReLU
    output y
}
""",
        "Put the missing `->` between the two layers.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3) -> ReLU
    output y
}
"""),
    "E002": CodeDoc(
        "A character that is no part of the language, such as `;`, `$` or `@`. Statements end at the end "
        "of the line, so C-style semicolons are not needed.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4);
    output y
}
""",
        "Delete the character.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
    "E003": CodeDoc(
        "The file ends while a `{`, `(` or `[` is still open. The message names the bracket left open.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
""",
        "Close the bracket: here, add the network's closing `}`.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
    "E004": CodeDoc(
        "A string (`\"...\"`, `'...'`) runs to the end of its line without its closing quote. A string "
        "spanning lines needs triple quotes (`\"\"\"...\"\"\"`).",
        """network Net {
    "A small classifier
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
""",
        "Add the closing quote.",
        """network Net {
    "A small classifier"
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
    "E005": CodeDoc(
        "Brackets nested more than 64 levels deep. No real network needs that; it usually means generated "
        "text went wrong. The parser stops there, so the rest of the file is not read.",
        _deep(70),
        "Write the expression with fewer brackets (`Linear(4)`).",
        _deep(0),
        shown="""network Deep {
    input x: [N, 4]
    y = x -> Linear(((( ... 70 opening brackets ... 4 ... 70 closing brackets ... ))))
    output y
}
"""),
    # ---------------------------------------------------------------- names and parameters
    "E101": CodeDoc(
        "A step of a chain names no layer of the registry (`docs/layers.md`) and no block of the file or "
        "of its imports. Names are case-sensitive; the message suggests the nearest name.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3) -> Relu
    output y
}
""",
        "Use the suggested name (the editor's quick fix writes it in), or define or `use` the block.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3) -> ReLU
    output y
}
"""),
    "E102": CodeDoc(
        "A keyword argument the layer or block does not have. `docs/layers.md` lists every layer's "
        "parameters; the message suggests the nearest one.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, strid=2)
    output y
}
""",
        "Spell the parameter as the layer names it.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, stride=2)
    output y
}
"""),
    "E103": CodeDoc(
        "A parameter without a default was not given: a convolution needs its kernel, `Linear` its output "
        "features, a block every parameter that has no default.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8)
    output y
}
""",
        "Give the parameter.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3)
    output y
}
"""),
    "E104": CodeDoc(
        "An argument of the wrong type: a number where a bool is expected (`bias=1`), a string for a size, "
        "a float for a count, a tensor where a value is needed.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, bias=1)
    output y
}
""",
        "Give a value of the parameter's type (`docs/layers.md` lists the types): bools are `true` and `false`.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, bias=false)
    output y
}
"""),
    "E105": CodeDoc(
        "An argument of the right type outside the range the layer accepts: a probability above 1, a zero "
        "or negative size, a negative stride.",
        """network Net {
    input x: [N, 16]
    y = x -> Dropout(1.5) -> Linear(4)
    output y
}
""",
        "Give a value in range.",
        """network Net {
    input x: [N, 16]
    y = x -> Dropout(0.5) -> Linear(4)
    output y
}
"""),
    "E106": CodeDoc(
        "More positional arguments than the layer takes. A layer takes only its obvious leading parameters "
        "by position (the output size, the kernel, a probability); the others go by name. Where the call "
        "reads as PyTorch's argument order, the message shows the `.nns` call.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> MaxPool2d(3, 2)
    output y
}
""",
        "Pass the extra arguments by name.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> MaxPool2d(3, stride=2)
    output y
}
"""),
    "E107": CodeDoc(
        "The same parameter is given twice: by position and again by keyword, or under two of its names "
        "(`kernel` and its alias `kernel_size`).",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3, kernel=3)
    output y
}
""",
        "Give it once.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, kernel=3)
    output y
}
"""),
    "E108": CodeDoc(
        "An unknown parameter type (the types are `int`, `float`, `bool`, `str`, `tuple` and `any`), a "
        "parameter with neither a type nor a default, or an unknown input dtype (`f32`, `f16`, `bf16`, "
        "`f64`, `i64`, `i32`, `i16`, `i8`, `u8`, `bool`).",
        """network Net(width: integer = 16) {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(width, 3)
    output y
}
""",
        "Use one of the types.",
        """network Net(width: int = 16) {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(width, 3)
    output y
}
"""),
    "E109": CodeDoc(
        "A layer name (`name: Layer`) that cannot be a weight-name component: names become `conv1.weight`, "
        "so a name, or what a name template like `\"conv{i}\"` gives, must be made of letters, digits and `_`.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> "conv-1": Conv2d(8, 3)
    output y
}
""",
        "Use letters, digits and `_` only.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> conv_1: Conv2d(8, 3)
    output y
}
"""),
    "E110": CodeDoc(
        "A call written in PyTorch's argument order, with the input size first (`Conv2d(3, 32, 3)`, "
        "`Linear(512, 10)`, `BatchNorm2d(32)`). Input sizes are inferred in `.nns`, so reading such a call "
        "positionally would build another network; it is an error whose message shows the `.nns` call.",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(3, 32, 3)
    output y
}
""",
        "Write the call the message shows (the editor's quick fix writes it in).",
        """network Net {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(32, kernel=3)
    output y
}
"""),
    # ---------------------------------------------------------------- tensors and graph structure
    "E201": CodeDoc(
        "A tensor name that is defined nowhere in the network or block (not an input, not assigned).",
        """network Net {
    input x: [N, 16]
    y = (x, skip) -> Add
    output y
}
""",
        "Define the tensor (or use one that is defined).",
        """network Net {
    input x: [N, 16]
    skip = x -> Linear(16)
    y = (x, skip) -> Add
    output y
}
"""),
    "E202": CodeDoc(
        "A tensor is used in a statement above the one that defines it. Statements run in order; the "
        "related location points at the definition.",
        """network Net {
    input x: [N, 16]
    y = h -> Linear(4)
    h = x -> Linear(8)
    output y
}
""",
        "Move the use after the definition.",
        """network Net {
    input x: [N, 16]
    h = x -> Linear(8)
    y = h -> Linear(4)
    output y
}
"""),
    "E203": CodeDoc(
        "Tensors that depend on each other in a loop: a graph must be acyclic. A recurrence is written "
        "with a recurrent layer (`LSTM`, `GRU`), not with tensors that feed back.",
        """network Net {
    input x: [N, 8]
    a = (x, b) -> Add
    b = a -> Linear(8)
    output b
}
""",
        "Break the loop: feed the layer from tensors defined before it.",
        """network Net {
    input x: [N, 8]
    b = x -> Linear(8)
    a = (x, b) -> Add
    output a
}
"""),
    "W204": CodeDoc(
        "A tensor that is computed and never used, nor given as an output: its layers add nothing to the "
        "network (a warning; editors fade it out).",
        """network Net {
    input x: [N, 16]
    h = x -> Linear(8)
    y = x -> Linear(4)
    output y
}
""",
        "Use the tensor (or output it), or delete the statement.",
        """network Net {
    input x: [N, 16]
    h = x -> Linear(8)
    y = h -> Linear(4)
    output y
}
"""),
    "E205": CodeDoc(
        "A name is bound again before the value it held was used, so that value is lost. Rebinding is "
        "fine (`x = x -> Block`) once the old value has been read.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(8)
    y = x -> Linear(4)
    output y
}
""",
        "Use the first value (here, chain from it), or give the second a new name.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(8)
    y = y -> Linear(4)
    output y
}
"""),
    "E206": CodeDoc(
        "Two layers of the same scope with the same name: their weights would have the same names "
        "(`fc.weight`). Unnamed layers are named by position and never collide with each other.",
        """network Net {
    input x: [N, 16]
    a = x -> fc: Linear(8)
    b = a -> fc: Linear(4)
    output b
}
""",
        "Give each layer its own name.",
        """network Net {
    input x: [N, 16]
    a = x -> fc1: Linear(8)
    b = a -> fc2: Linear(4)
    output b
}
"""),
    "E207": CodeDoc(
        "A network or block without `input` or `output`, or a network input without a shape (a network's "
        "inputs need one; a block's take what the caller passes).",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
}
""",
        "Add the missing `output` (or `input`, or the shape).",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
    "E208": CodeDoc(
        "A name in an expression that is no parameter, `let` constant, loop variable or function: "
        "usually a typo, or a parameter the network or block does not declare.",
        """network Net {
    input x: [N, 16]
    y = x -> Linear(classes)
    output y
}
""",
        "Declare it (here, as a network parameter) or spell it as declared.",
        """network Net(classes: int = 10) {
    input x: [N, 16]
    y = x -> Linear(classes)
    output y
}
"""),
    "E209": CodeDoc(
        "A layer or block fed a number of tensors it does not take: `Add` and `Concat` take several "
        "(`(a, b) -> Add`), most layers one.",
        """network Net {
    input x: [N, 16]
    y = x -> Add
    output y
}
""",
        "Feed it the tensors it takes, as a tuple.",
        """network Net {
    input x: [N, 16]
    h = x -> Linear(16)
    y = (x, h) -> Add
    output y
}
"""),
    "E210": CodeDoc(
        "Destructuring names a different number of tensors than the chain gives: `(a, b) = ...` needs a "
        "layer or block with two outputs (`Split(2)`, `LSTM(return_state=true)`).",
        """network Net {
    input x: [N, 16]
    (a, b) = x -> Linear(8)
    output a, b
}
""",
        "Name as many tensors as the chain gives (`_` discards one).",
        """network Net {
    input x: [N, 16]
    (a, b) = x -> Linear(8) -> Split(2)
    output a, b
}
"""),
    "E211": CodeDoc(
        "Two networks, or two blocks, with the same name in one file; the related location points at the "
        "first.",
        """block Unit {
    input x
    y = x -> ReLU
    output y
}

block Unit {
    input x
    y = x -> Sigmoid
    output y
}

network Net {
    input x: [N, 16]
    y = x -> Unit
    output y
}
""",
        "Rename one of them (or delete the copy).",
        """block Unit {
    input x
    y = x -> ReLU
    output y
}

block Gate {
    input x
    y = x -> Sigmoid
    output y
}

network Net {
    input x: [N, 16]
    y = x -> Unit -> Gate
    output y
}
"""),
    "E212": CodeDoc(
        "The network asked for names no network of the file; the message lists the networks there are. "
        "It is the code of `analyze(text, network=NAME)` (Python API); on the command line, where "
        "`--network NAME` (on `check`, `summary`, `compile`, `graph`) asks, it is a usage error: the message "
        "on standard error and exit status 2.",
        """network Small {
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
""",
        "Pass the name of a network of the file (or leave `--network` out: the last one is used): "
        "`nnlang check net.nns --network Small`.",
        args=("--network", "Large"), fixed_args=("--network", "Small")),
    "W213": CodeDoc(
        "A statement that does nothing, like a string that is not the doc string (only the first "
        "statement of a network or block is). A warning; editors fade it out.",
        """network Net {
    input x: [N, 16]
    "Projects to 4 features."
    y = x -> Linear(4)
    output y
}
""",
        "Make the string the first statement (the doc string, shown on hover), or use a `#` comment.",
        """network Net {
    "Projects to 4 features."
    input x: [N, 16]
    y = x -> Linear(4)
    output y
}
"""),
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
        _USES_HEAD,
        "Fix the path, or create the file: here, `lib.nns` next to `net.nns` with the block.",
        _USES_HEAD, fixed_files=(("lib.nns", _LIB_HEAD),)),
    "E402": CodeDoc(
        "Files that `use` each other in a loop (the message shows the chain). Imports are transitive: a "
        "file may not import, directly or not, a file that imports it.",
        _USES_HEAD,
        "Delete the `use` that closes the loop (here `use \"net\"` in `lib.nns`), or move what both files "
        "need into a third file they both use.",
        _USES_HEAD, files=(("lib.nns", 'use "net"\n\n' + _LIB_HEAD),), fixed_files=(("lib.nns", _LIB_HEAD),)),
    "E403": CodeDoc(
        "A `use`d file has errors of its own, reported once at the `use` (with the first as a related "
        "location); check that file to see them all.",
        _USES_HEAD,
        "Fix the imported file (here, the missing `,` in `lib.nns`).",
        _USES_HEAD,
        files=(("lib.nns", _LIB_HEAD.replace("Flatten -> Linear(classes)", "Flatten -> Linear(classes bias=false)")),),
        fixed_files=(("lib.nns", _LIB_HEAD),)),
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
        "The network expands past a limit that keeps analysis fast: more than 25,000 layers, more than "
        "400,000 compile-time steps, a layer with more than 4,096 outputs, or blocks nested more than 48 "
        "deep. Almost always a repeat count or loop bound that is far too large.",
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


# ---------------------------------------------------------------- running the examples

def _example(doc: CodeDoc, fixed: bool) -> tuple[str, tuple, tuple]:
    """(net.nns, other files, options) of the trigger, or with `fixed` of the fix."""
    if not fixed:
        return doc.trigger, doc.files, doc.args
    return (doc.fixed or doc.trigger, doc.files if doc.fixed_files is None else doc.fixed_files,
            doc.args if doc.fixed_args is None else doc.fixed_args)


@contextlib.contextmanager
def _project(text: str, files: tuple):
    """A fresh directory holding net.nns and `files`; yields its path."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in ((MAIN, text), *files):
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(body)
        yield tmp


def diagnose(doc: CodeDoc, fixed: bool = False) -> list:
    """The diagnostics of the example (nnlang.analyze, then the target's W601s), with its options as the
    Python API takes them: `--network` -> network=, `--set` -> overrides=, `--target` / `--opset`."""
    from .analyze import analyze
    from .api import parse_overrides

    text, files, args = _example(doc, fixed)
    opts = dict(zip(args[::2], args[1::2]))
    with _project(text, files) as tmp:
        a = analyze(text, path=os.path.join(tmp, MAIN), network=opts.get("--network"),
                    overrides=parse_overrides([opts["--set"]] if "--set" in opts else []))
        diags = list(a.diagnostics)
        if "--target" in opts:
            from .targets.capability import target_warnings

            opset = int(opts["--opset"]) if "--opset" in opts else None
            diags += target_warnings(a, opts["--target"], opset)
    return diags


def run_check(doc: CodeDoc, fixed: bool = False, fmt: str = "text") -> tuple[int, str]:
    """The exit status and the output (standard error, then standard output) of `nnlang check net.nns
    OPTIONS`, run in-process in a fresh directory holding the example's files: its trigger, or with
    `fixed` its fix. (It changes the working directory for the call.)"""
    from .cli import main

    text, files, args = _example(doc, fixed)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    with _project(text, files) as tmp:
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(["check", MAIN, *args, "--format", fmt])
        finally:
            os.chdir(here)
        printed = err.getvalue() + out.getvalue()
        # messages that name the directory show it as PROJECT_DIR (the longer spelling first)
        for d in sorted({os.path.realpath(tmp), tmp}, key=len, reverse=True):
            printed = printed.replace(d, PROJECT_DIR)
    return status, printed.rstrip("\n")


def command(doc: CodeDoc, fixed: bool = False) -> str:
    args = (doc.args if doc.fixed_args is None else doc.fixed_args) if fixed else doc.args
    return " ".join(["nnlang", "check", MAIN, *args])


# ---------------------------------------------------------------- rendering

def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def _fence(tag: str, text: str) -> list[str]:
    return [f"```{tag}", text.rstrip("\n"), "```"]


def _files(files: tuple, changed_only: tuple = ()) -> list[str]:
    out = []
    for name, body in files:
        if name in changed_only or not changed_only:
            out += [f"`{name}`:", ""] + _fence("text", body) + [""]
    return out


def render_section(code: str, title: str, doc: CodeDoc) -> list[str]:
    lines = [f'<a id="{code.lower()}"></a>', "", f"### {code}: {title}", "", _wrap(doc.meaning), ""]
    status, output = run_check(doc)
    if doc.files:
        lines += _files(doc.files)
    if doc.files or doc.fixed_files:
        lines += [f"`{MAIN}`:", ""]
    lines += _fence("nns-error", doc.shown or doc.trigger) + [""]
    if doc.shown:  # a generated trigger: its source line is too long to show
        output = output.splitlines()[0]
    lines += _fence("text", f"$ {command(doc)}\n{output}") + [""]
    lines += [_wrap(f"**Fix.** {doc.fix}"), ""]
    fixed_files = doc.fixed_files if doc.fixed_files is not None else ()
    changed = tuple(name for name, body in fixed_files if (name, body) not in doc.files)
    if changed:
        lines += _files(fixed_files, changed)
    if doc.fixed is not None and doc.fixed != doc.trigger:
        if changed:
            lines += [f"`{MAIN}`:", ""]
        # a fix that needs no other file is a complete .nns file (tests/test_docs.py analyses it)
        lines += _fence("text" if fixed_files else "nns", doc.fixed) + [""]
    return lines


def render() -> str:
    """docs/diagnostics.md: the index of codes, then a section per code with its anchor (`#e301`), which
    editors link every diagnostic to."""
    from .diagnostics import CODES, code_group

    lines = ["# Diagnostic codes", "",
             "Generated from `nnlang/diagnostics.py` (the codes) and `nnlang/diagnostic_docs.py` (the examples) by",
             "`make docs`; do not edit by hand. Codes are never reused; E is an error (the network cannot be",
             "built), W a warning. Every example below is a complete file `net.nns`, and the output shown is",
             f"what `nnlang check` prints for it, run in `{PROJECT_DIR}` (the tests run each one).", ""]
    title = None
    for code, meaning in CODES.items():
        group = code_group(code)
        if group != title:
            lines += ["", f"**{group}**", "", "| code | meaning |", "|---|---|"]
            title = group
        lines.append(f"| [`{code}`](#{code.lower()}) | {meaning} |")
    title = None
    for code, meaning in CODES.items():
        group = code_group(code)
        if group != title:
            lines += ["", f"## {group}", ""]
            title = group
        lines += render_section(code, meaning, DOCS[code])
    return "\n".join(lines).replace("\n\n\n", "\n\n").rstrip("\n") + "\n"
