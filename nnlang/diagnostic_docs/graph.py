"""Diagnostic reference entries: tensors and graph structure (E2xx, W2xx)."""

from __future__ import annotations

from .codedoc import CodeDoc

DOCS: dict[str, CodeDoc] = {
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
}
