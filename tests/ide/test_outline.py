"""nnlang.ide.outline: document symbols, workspace symbols, folding ranges, semantic tokens."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.ide import highlight as hl
from nnlang.ide import outline as o
from nnlang.ide.hover import Context

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"


def context(text: str, path: str | None = None) -> Context:
    return Context(analyze(text, path))


def tree(sym) -> tuple:
    s, n = sym.span, sym.selection
    return (sym.kind, sym.name, sym.detail, (s.line, s.column, s.end_line, s.end_column),
            (n.line, n.column, n.end_line, n.end_column), [tree(c) for c in sym.children])


# ---- document symbols ------------------------------------------------------------------------------

def test_symbols_of_resnet18():
    path = EXAMPLES / "resnet18.nns"
    syms = o.document_symbols(context(path.read_text(), str(path)))
    assert [tree(s) for s in syms] == [
        ("network", "ResNet18", "11.7M params", (7, 1, 21, 2), (7, 9, 7, 17), [
            ("param", "classes", "int = 1000", (7, 18, 7, 37), (7, 18, 7, 25), []),
            ("tensor", "image", "[N, 3, 224, 224]", (9, 11, 9, 34), (9, 11, 9, 16), []),
            ("tensor", "features", "[N, 512, 7, 7]", (11, 5, 17, 64), (11, 5, 11, 13), []),
            ("layer", "conv1", "Conv2d", (12, 12, 12, 65), (12, 12, 12, 17), []),
            ("layer", "bn1", "BatchNorm2d", (12, 69, 12, 85), (12, 69, 12, 72), []),
            ("layer", "relu", "ReLU", (12, 89, 12, 99), (12, 89, 12, 93), []),
            ("layer", "maxpool", "MaxPool2d", (13, 12, 13, 54), (13, 12, 13, 19), []),
            ("layer", "layer1", "BasicBlock * 2", (14, 12, 14, 38), (14, 12, 14, 18), []),
            ("layer", "layer2", "[BasicBlock, BasicBlock]", (15, 12, 15, 64), (15, 12, 15, 18), []),
            ("layer", "layer3", "[BasicBlock, BasicBlock]", (16, 12, 16, 64), (16, 12, 16, 18), []),
            ("layer", "layer4", "[BasicBlock, BasicBlock]", (17, 12, 17, 64), (17, 12, 17, 18), []),
            ("tensor", "logits", "[N, 1000]", (19, 5, 19, 89), (19, 5, 19, 11), []),
            ("layer", "avgpool", "AdaptiveAvgPool2d", (19, 26, 19, 55), (19, 26, 19, 33), []),
            ("layer", "fc", "Linear", (19, 70, 19, 89), (19, 70, 19, 72), []),
        ]),
    ]


BLOCKS = """\
block Twice(c: int) {
    input x
    let w = c * 2
    y = x -> conv: Conv2d(w, 3, padding=1)
    (a, b) = y -> Split(2, axis=1)
    out = (a, b) -> Concat(axis=1)
    same = out
    output same
}
network Net {
    input image: [N, 3, 32, 32] f32
    logits = image -> one: Twice(8) -> two: Twice(4) -> head: Sequential {
        pool: AdaptiveAvgPool2d(1) -> Flatten
        -> cls: [fc: Linear(10), act: ReLU]
    }
    output logits
}
"""


def test_symbols_blocks_groups_and_instances():
    """A block's tensors show the shapes of all its instances; named groups and sequences hold the
    layers named inside them; a tuple target gives one tensor per name; an alias takes its source's shape."""
    syms = o.document_symbols(context(BLOCKS))
    assert [tree(s) for s in syms] == [
        ("block", "Twice", "(c: int)", (1, 1, 9, 2), (1, 7, 1, 12), [
            ("param", "c", "int", (1, 13, 1, 19), (1, 13, 1, 14), []),
            ("tensor", "x", "", (2, 11, 2, 12), (2, 11, 2, 12), []),
            ("let", "w", "c * 2", (3, 5, 3, 18), (3, 9, 3, 10), []),
            ("tensor", "y", "[N, 16, 32, 32] | [N, 8, 32, 32]", (4, 5, 4, 43), (4, 5, 4, 6), []),
            ("layer", "conv", "Conv2d", (4, 14, 4, 43), (4, 14, 4, 18), []),
            ("tensor", "a", "[N, 8, 32, 32] | [N, 4, 32, 32]", (5, 5, 5, 35), (5, 6, 5, 7), []),
            ("tensor", "b", "[N, 8, 32, 32] | [N, 4, 32, 32]", (5, 5, 5, 35), (5, 9, 5, 10), []),
            ("tensor", "out", "[N, 16, 32, 32] | [N, 8, 32, 32]", (6, 5, 6, 35), (6, 5, 6, 8), []),
            ("tensor", "same", "[N, 16, 32, 32] | [N, 8, 32, 32]", (7, 5, 7, 15), (7, 5, 7, 9), []),
        ]),
        ("network", "Net", "1.7K params", (10, 1, 17, 2), (10, 9, 10, 12), [
            ("tensor", "image", "[N, 3, 32, 32]", (11, 11, 11, 36), (11, 11, 11, 16), []),
            ("tensor", "logits", "[N, 10]", (12, 5, 15, 6), (12, 5, 12, 11), []),
            ("layer", "one", "Twice", (12, 23, 12, 36), (12, 23, 12, 26), []),
            ("layer", "two", "Twice", (12, 40, 12, 53), (12, 40, 12, 43), []),
            ("layer", "head", "Sequential", (12, 57, 15, 6), (12, 57, 12, 61), [
                ("layer", "pool", "AdaptiveAvgPool2d", (13, 9, 13, 35), (13, 9, 13, 13), []),
                ("layer", "cls", "[Linear, ReLU]", (14, 12, 14, 44), (14, 12, 14, 15), [
                    ("layer", "fc", "Linear", (14, 18, 14, 32), (14, 18, 14, 20), []),
                    ("layer", "act", "ReLU", (14, 34, 14, 43), (14, 34, 14, 37), []),
                ]),
            ]),
        ]),
    ]


def test_symbols_std_library_blocks():
    """Each tensor once (its first binding), layers inside `if` bodies, lets with their expression."""
    path = ROOT / "nnlang" / "std" / "resnet.nns"
    syms = o.document_symbols(context(path.read_text(), str(path)))
    assert [(s.kind, s.name, s.detail) for s in syms] == [
        ("block", "BasicBlock", "(channels: int, stride: int = 1)"),
        ("block", "Bottleneck", "(channels: int, stride: int = 1, groups: int = 1, base_width: int = 64)"),
        ("block", "BasicStage", "(channels: int, blocks: int, stride: int = 1)"),
        ("block", "BottleneckStage",
         "(channels: int, blocks: int, stride: int = 1, groups: int = 1, base_width: int = 64)"),
    ]
    assert [(c.kind, c.name, c.detail) for c in syms[1].children] == [
        ("param", "channels", "int"), ("param", "stride", "int = 1"), ("param", "groups", "int = 1"),
        ("param", "base_width", "int = 64"), ("tensor", "x", ""),
        ("let", "width", "int(channels * (base_width / 64)) * groups"), ("let", "expanded", "channels * 4"),
        ("tensor", "y", ""), ("layer", "conv1", "Conv2d"), ("layer", "bn1", "BatchNorm2d"),
        ("layer", "conv2", "Conv2d"), ("layer", "bn2", "BatchNorm2d"), ("layer", "conv3", "Conv2d"),
        ("layer", "bn3", "BatchNorm2d"), ("layer", "downsample", "Sequential"), ("tensor", "out", ""),
    ]


BROKEN = """\
network Net(k: int = 4) {
    input x: [N, 8]
    y = x -> fc: Linear(k, bias=true -> ReLU
    z = y -> Dropout(0.5)
    output z
"""


def test_symbols_of_broken_text():
    """A missing ')' and a missing '}': what the parser kept is still outlined."""
    syms = o.document_symbols(context(BROKEN))
    assert [tree(s) for s in syms] == [
        ("network", "Net", "0 params", (1, 1, 5, 13), (1, 9, 1, 12), [
            ("param", "k", "int = 4", (1, 13, 1, 23), (1, 13, 1, 14), []),
            ("tensor", "x", "[N, 8]", (2, 11, 2, 20), (2, 11, 2, 12), []),
            ("tensor", "y", "", (3, 5, 3, 24), (3, 5, 3, 6), []),
            ("layer", "fc", "Linear", (3, 14, 3, 24), (3, 14, 3, 16), []),
            ("tensor", "z", "?", (4, 5, 4, 26), (4, 5, 4, 6), []),
        ]),
    ]
    assert o.document_symbols(context("")) == []
    assert o.document_symbols(context("network {\n")) == []


# ---- workspace symbols -----------------------------------------------------------------------------

def test_fuzzy_score():
    assert o.fuzzy_score("", "Anything") == 0
    assert o.fuzzy_score("res", "ResNet18") == 0
    assert o.fuzzy_score("net1", "ResNet18") == 1
    assert o.fuzzy_score("rn18", "ResNet18") == 2
    assert o.fuzzy_score("RN", "resnet") == 2
    assert o.fuzzy_score("18rn", "ResNet18") is None
    assert o.fuzzy_score("x", "ResNet18") is None


def test_workspace_symbols_entries_and_order():
    ctx = context(BLOCKS)
    entries = o.document_entries(ctx.analysis)
    assert [(e.kind, e.name, e.container, e.span.line, e.span.column) for e in entries] == [
        ("block", "Twice", "", 1, 7), ("layer", "conv", "Twice", 4, 14), ("network", "Net", "", 10, 9),
        ("layer", "one", "Net", 12, 23), ("layer", "two", "Net", 12, 40), ("layer", "head", "Net", 12, 57),
        ("layer", "pool", "Net.head", 13, 9), ("layer", "cls", "Net.head", 14, 12),
        ("layer", "fc", "Net.head.cls", 14, 18), ("layer", "act", "Net.head.cls", 14, 34),
    ]
    path = EXAMPLES / "resnet18.nns"
    other = o.symbol_entries(analyze(path.read_text(), str(path)).module)
    assert [(src, e.name, e.container) for src, e in o.workspace_symbols([("a", entries), ("b", other)], "conv")] == [
        ("a", "conv", "Twice"), ("b", "conv1", "ResNet18")]
    assert len(o.workspace_symbols([("a", entries), ("b", other)], "")) == len(entries) + len(other) == 21
    assert len(o.workspace_symbols([("a", entries)], "", limit=3)) == 3
    # prefixes first (in source order), then substrings, then subsequences
    span = entries[0].span
    a = [o.SymbolEntry(name, "layer", "A", span) for name in ("deconv", "Conv", "xyz", "c_o")]
    b = [o.SymbolEntry("cOmpact", "block", "", span)]
    assert [(src, e.name) for src, e in o.workspace_symbols([("a", a), ("b", b)], "co")] == [
        ("a", "Conv"), ("b", "cOmpact"), ("a", "deconv"), ("a", "c_o")]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_workspace_files(tmp_path):
    net = "network A {\n    input x: [N, 4]\n    y = x -> fc: Linear(2)\n    output y\n}\n"
    _write(tmp_path / "a.nns", net)
    _write(tmp_path / "sub" / "deeper" / "b.nns", "block B {\n    input x\n    output x\n}\n")
    _write(tmp_path / "sub" / "notes.txt", "network NotThis {}\n")
    _write(tmp_path / ".hidden" / "c.nns", net)
    _write(tmp_path / "node_modules" / "d.nns", net)
    _write(tmp_path / "venv" / "e.nns", net)
    _write(tmp_path / "myenv" / "pyvenv.cfg", "home = /usr/bin\n")
    _write(tmp_path / "myenv" / "f.nns", net)
    files = o.WorkspaceFiles()
    assert files.list([str(tmp_path)]) == [str(tmp_path / "a.nns"), str(tmp_path / "sub" / "deeper" / "b.nns")]
    sources = files.sources([str(tmp_path)])
    assert [(os.path.basename(p), [(e.kind, e.name, e.container) for e in entries]) for p, _, entries in sources] == [
        ("a.nns", [("network", "A", ""), ("layer", "fc", "A")]), ("b.nns", [("block", "B", "")])]
    # open documents are left out (their buffers stand in)
    assert [p for p, _, _ in files.sources([str(tmp_path)], skip=[str(tmp_path / "a.nns")])] == \
        [str(tmp_path / "sub" / "deeper" / "b.nns")]
    # parsed once, again when the file changes
    first = files.entries(str(tmp_path / "a.nns"))
    assert files.entries(str(tmp_path / "a.nns")) is not None
    assert files.entries(str(tmp_path / "a.nns"))[1] is first[1]
    _write(tmp_path / "a.nns", net.replace("network A", "network Renamed"))
    assert [e.name for e in files.entries(str(tmp_path / "a.nns"))[1]] == ["Renamed", "fc"]
    os.remove(tmp_path / "a.nns")
    assert files.entries(str(tmp_path / "a.nns")) is None
    # the listing is reused for `ttl` seconds, and capped
    assert files.list([str(tmp_path)]) == [str(tmp_path / "a.nns"), str(tmp_path / "sub" / "deeper" / "b.nns")]
    assert o.WorkspaceFiles(ttl=0).list([str(tmp_path)]) == [str(tmp_path / "sub" / "deeper" / "b.nns")]
    for k in range(5):
        _write(tmp_path / f"many{k}.nns", net)
    assert len(o.WorkspaceFiles(max_files=3).list([str(tmp_path)])) == 3
    assert o.WorkspaceFiles(max_bytes=10).sources([str(tmp_path)]) == []
    assert o.WorkspaceFiles().list([str(tmp_path / "missing")]) == []


# ---- folding ranges ----------------------------------------------------------------------------------

FOLDS = (DATA / "folds.nns").read_text()  # shared with the end-to-end tests


def test_folding_every_kind():
    ctx = context(FOLDS)
    assert ctx.analysis.diagnostics == []
    assert [(f.start_line, f.end_line, f.kind) for f in o.folding_ranges(ctx)] == [
        (1, 2, "comment"),  # two comment lines
        (3, 4, "imports"),  # the `use` lines
        (6, 7, None),  # the parameter list; its `)` is not first on its line: that line folds too
        (7, 17, None),  # the block's body, up to the line before its `}`
        (8, 9, "comment"),  # the doc string
        (11, 13, None),  # a chain over three lines
        (14, 16, None),  # a chain ending in a group (the group alone would be 14-15: one fold per line)
        (20, 21, None),  # the parameter list up to the line before its `)`
        (22, 29, None),  # the network's body
        (24, 25, "comment"),  # a run of comment lines inside
        (26, 27, None),  # an argument list over two lines (and its chain)
    ]


def test_folding_broken_text():
    # the missing `}`: the body folds to the last code line; the `(` never closed does not fold
    assert [(f.start_line, f.end_line, f.kind) for f in o.folding_ranges(context(BROKEN))] == [(1, 5, None)]
    # a `network` inside a body: that body ends before it
    text = "network A {\n    input x: [N, 4]\n    output x\n\nnetwork B {\n    input y: [N, 4]\n    output y\n}\n"
    assert [(f.start_line, f.end_line) for f in o.folding_ranges(context(text))] == [(1, 3), (5, 7)]
    # stray closers; an unterminated `"""` lexes as `""` and a `"` string unclosed at its line's end
    text = 'network A {\n    )\n    ]\n    }\n}\nnetwork B {\n    """never\n    closed\n'
    assert [(f.start_line, f.end_line, f.kind) for f in o.folding_ranges(context(text))] == [
        (1, 3, None), (6, 8, None)]


# ---- semantic tokens ----------------------------------------------------------------------------------

SMALL = (DATA / "small.nns").read_text()  # shared with the end-to-end tests

D, R, L, DOC = "declaration", "readonly", "defaultLibrary", "documentation"


def test_semantic_tokens_token_by_token(tmp_path):
    ctx = context(SMALL, str(tmp_path / "small.nns"))
    assert ctx.analysis.diagnostics == []
    assert hl.describe(ctx) == [
        (0, 0, "use", "keyword", []),
        (0, 4, '"std/resnet"', "string", []),
        (0, 18, "# BasicBlock", "comment", []),
        (1, 0, "block", "keyword", []),
        (1, 6, "Twice", "type", [D]),
        (1, 12, "c", "parameter", [D]),
        (1, 15, "int", "type", [L]),
        (2, 4, '"Doc."', "string", [DOC]),
        (3, 4, "input", "keyword", []),
        (3, 10, "x", "variable", [D, R]),
        (4, 4, "let", "keyword", []),
        (4, 8, "w", "variable", [D, R]),
        (4, 12, "int", "function", [L]),
        (4, 16, "c", "parameter", []),
        (4, 18, "*", "operator", []),
        (4, 20, "2", "number", []),
        (5, 4, "y", "variable", [D]),
        (5, 8, "x", "variable", [R]),
        (5, 10, "->", "operator", []),
        (5, 13, "conv", "property", [D]),
        (5, 19, "Conv2d", "class", [L]),
        (5, 26, "w", "variable", [R]),
        (5, 29, "3", "number", []),
        (5, 32, "padding", "parameter", []),
        (5, 40, "1", "number", []),
        (5, 43, "->", "operator", []),
        (5, 46, "BasicBlock", "type", [L]),
        (5, 57, "w", "variable", [R]),
        (6, 4, "for", "keyword", []),
        (6, 8, "i", "variable", [D]),
        (6, 10, "in", "keyword", []),
        (6, 13, "range", "function", [L]),
        (6, 19, "2", "number", []),
        (7, 8, "y", "variable", [D]),
        (7, 12, "y", "variable", []),
        (7, 14, "->", "operator", []),
        (7, 17, "ReLU", "class", [L]),
        (9, 4, "if", "keyword", []),
        (9, 7, "x", "variable", [R]),
        (9, 9, "channels", "property", []),
        (9, 18, "!=", "operator", []),
        (9, 21, "w", "variable", [R]),
        (10, 8, "x", "variable", [D]),
        (10, 12, "x", "variable", [R]),
        (10, 14, "->", "operator", []),
        (10, 17, "proj", "property", [D]),
        (10, 23, "Sequential", "class", [L]),
        (10, 36, "Conv2d", "class", [L]),
        (10, 43, "w", "variable", [R]),
        (10, 46, "1", "number", []),
        (12, 4, "out", "variable", [D]),
        (12, 11, "y", "variable", []),
        (12, 14, "x", "variable", []),  # the `x` bound inside the `if`: no longer the input
        (12, 17, "->", "operator", []),
        (12, 20, "Add", "class", [L]),
        (13, 4, "output", "keyword", []),
        (13, 11, "out", "variable", []),
        (15, 0, "network", "keyword", []),
        (15, 8, "Net", "type", [D]),
        (15, 12, "k", "parameter", [D]),
        (15, 15, "int", "type", [L]),
        (15, 21, "10", "number", []),
        (16, 4, "input", "keyword", []),
        (16, 10, "image", "variable", [D, R]),
        (16, 18, "N", "typeParameter", []),
        (16, 21, "3", "number", []),
        (16, 24, "32", "number", []),
        (16, 28, "32", "number", []),
        (17, 4, "logits", "variable", [D]),
        (17, 13, "image", "variable", [R]),
        (17, 19, "->", "operator", []),
        (17, 22, "body", "property", [D]),
        (17, 28, "Twice", "type", []),
        (17, 34, "8", "number", []),
        (17, 37, "*", "operator", []),
        (17, 39, "2", "number", []),
        (17, 41, "->", "operator", []),
        (17, 44, "Flatten", "class", [L]),
        (17, 52, "->", "operator", []),
        (17, 55, "Linear", "class", [L]),
        (17, 62, "k", "parameter", []),
        (18, 4, "output", "keyword", []),
        (18, 11, "logits", "variable", []),
    ]
    # the raw form: (line, column, length, type index, modifier bits)
    assert hl.semantic_tokens(ctx)[:2] == [(0, 0, 3, hl.KEYWORD, 0), (0, 4, 12, hl.STRING, 0)]
    assert hl.semantic_tokens(ctx)[9] == (3, 10, 1, hl.VARIABLE, hl.DECLARATION | hl.READONLY)
    assert hl.TOKEN_TYPES[hl.TYPE_PARAMETER] == "typeParameter" and hl.TOKEN_MODIFIERS[3] == "documentation"


def test_semantic_tokens_range():
    ctx = context(SMALL)
    all_tokens = hl.semantic_tokens(ctx)
    assert hl.semantic_tokens(ctx, 6, 7) == [tok for tok in all_tokens if 6 <= tok[0] <= 7]
    assert [tok[0] for tok in hl.semantic_tokens(ctx, 6, 7)] == [6] * 5 + [7] * 4
    assert hl.semantic_tokens(ctx, 100, 200) == []
    assert hl.semantic_tokens(ctx, None, 0) == all_tokens[:3]


def test_semantic_tokens_multiline_crlf_and_wide_characters():
    text = ('network N {\r\n    """Doc 😀\r\n\r\n    end"""\r\n    input x: [B, 4]\r\n'
            '    y = x -> "é😀": Linear(2)  # ü\r\n    output y\r\n}\r\n')
    assert hl.describe(context(text)) == [
        (0, 0, "network", "keyword", []),
        (0, 8, "N", "type", [D]),
        (1, 4, '"""Doc 😀', "string", [DOC]),  # one token per line, none for the empty line, no `\r`
        (3, 0, '    end"""', "string", [DOC]),
        (4, 4, "input", "keyword", []),
        (4, 10, "x", "variable", [D, R]),
        (4, 14, "B", "typeParameter", []),
        (4, 17, "4", "number", []),
        (5, 4, "y", "variable", [D]),
        (5, 8, "x", "variable", [R]),
        (5, 10, "->", "operator", []),
        (5, 13, '"é😀"', "string", []),  # columns count code points
        (5, 19, "Linear", "class", [L]),
        (5, 26, "2", "number", []),
        (5, 30, "# ü", "comment", []),
        (6, 4, "output", "keyword", []),
        (6, 11, "y", "variable", []),
    ]


def test_semantic_tokens_of_broken_text():
    """The parser dropped `(k, bias=true -> ReLU`: its names are classified by their neighbours (and
    `k` as the network's parameter); the rest of the file by the syntax tree."""
    assert hl.describe(context(BROKEN))[9:] == [
        (2, 4, "y", "variable", [D]),
        (2, 8, "x", "variable", [R]),
        (2, 10, "->", "operator", []),
        (2, 13, "fc", "property", [D]),
        (2, 17, "Linear", "class", [L]),
        (2, 24, "k", "parameter", []),
        (2, 27, "bias", "parameter", []),
        (2, 32, "true", "keyword", []),
        (2, 37, "->", "operator", []),
        (2, 40, "ReLU", "class", [L]),
        (3, 4, "z", "variable", [D]),
        (3, 8, "y", "variable", []),
        (3, 10, "->", "operator", []),
        (3, 13, "Dropout", "class", [L]),
        (3, 21, "0.5", "number", []),
        (4, 4, "output", "keyword", []),
        (4, 11, "z", "variable", []),
    ]
    # a statement dropped whole, a stray character, an unknown layer and block
    text = "network A {\n    input x: [N, 4]\n    return x -> Relu @ 1\n    y = x -> Nope(3) -> Foo\n}\n"
    assert hl.describe(context(text))[6:] == [
        (2, 4, "return", "variable", []),
        (2, 11, "x", "variable", []),
        (2, 13, "->", "operator", []),
        (2, 16, "Relu", "class", []),
        (2, 23, "1", "number", []),
        (3, 4, "y", "variable", [D]),
        (3, 8, "x", "variable", [R]),
        (3, 10, "->", "operator", []),
        (3, 13, "Nope", "class", []),
        (3, 18, "3", "number", []),
        (3, 21, "->", "operator", []),
        (3, 24, "Foo", "class", []),
    ]
    # a header the parser could not read
    assert hl.describe(context("block B(c: int\nnetwork N(k: int = 1) {\n"))[:4] == [
        (0, 0, "block", "keyword", []), (0, 6, "B", "type", [D]), (0, 8, "c", "parameter", [D]),
        (0, 11, "int", "type", [L])]


def _invariants(ctx) -> None:
    lines = ctx.analysis.text.split("\n")
    prev_end = (-1, 0)
    for line, col, length, typ, mods in hl.semantic_tokens(ctx):
        assert (line, col) >= prev_end and length > 0
        assert col + length <= len(lines[line].rstrip("\r"))
        assert 0 <= typ < len(hl.TOKEN_TYPES) and 0 <= mods < 1 << len(hl.TOKEN_MODIFIERS)
        prev_end = (line, col + length)
    for f in o.folding_ranges(ctx):
        assert 1 <= f.start_line < f.end_line <= len(lines)
    for sym in o.document_symbols(ctx):
        stack = [sym]
        while stack:
            s = stack.pop()
            assert s.span.start <= s.selection.start and s.selection.end <= s.span.end
            stack += s.children
    o.document_entries(ctx.analysis)


def test_never_fails_on_mangled_text():
    rng = random.Random(3)
    sources = [p.read_text() for p in sorted(EXAMPLES.glob("*.nns"))] + [SMALL, FOLDS, BLOCKS]
    pieces = ['"""', '"', "{", "(", "[", "}", ")", "->", ": ", "# c", "\n", "\r\n", "é😀", "\\\n", "=", "network ",
              "input ", "x.", "*"]
    for _ in range(60):
        text = rng.choice(sources)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            cut = rng.randrange(30)
            text = text[:at] + (rng.choice(pieces) if rng.random() < 0.7 else "") + text[at + cut:]
        _invariants(context(text))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nns")) + sorted((ROOT / "tests/corpus/broken").glob("*.nns")),
                         ids=lambda p: p.name)
def test_invariants_on_every_example_and_corpus_file(path):
    _invariants(context(path.read_text(), str(path)))


def test_results_are_kept_with_their_context_and_go_with_it():
    import gc

    ctx = context(SMALL)
    tokens = hl.semantic_tokens(ctx)
    assert hl.semantic_tokens(ctx) is tokens and o.folding_ranges(ctx) is o.folding_ranges(ctx)
    assert o.document_symbols(ctx) is o.document_symbols(ctx)
    assert o.document_entries(ctx.analysis) is o.document_entries(ctx.analysis)
    before = len(o._derived)
    del ctx, tokens
    gc.collect()
    assert len(o._derived) == before - 2  # the Context's entry and its Analysis's
