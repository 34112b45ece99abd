"""Diagnostic reference entries: syntax (E0xx), names and parameters (E1xx)."""

from __future__ import annotations

from .codedoc import CodeDoc, deep

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
        deep(70),
        "Write the expression with fewer brackets (`Linear(4)`).",
        deep(0),
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
}
