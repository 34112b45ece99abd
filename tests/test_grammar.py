"""The grammar: LALR(1) without conflicts, one copy, and the syntax of every construct."""

from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import GrammarError

from nnlang.syntax import nodes as n
from nnlang.syntax import parse
from nnlang.syntax.grammar import grammar_path

GRAMMAR = grammar_path().read_text()


def test_grammar_is_lalr_without_conflicts():
    # strict=True turns every shift/reduce or reduce/reduce conflict (and terminal collision) into an error.
    Lark(GRAMMAR, parser="lalr", lexer="basic", strict=True, maybe_placeholders=True)


def test_strict_mode_does_catch_a_conflict():
    # Negative control: the check above would fail on an ambiguous grammar.
    ambiguous = 'start: e\ne: e "+" e | "x"\n'  # a shift/reduce conflict
    Lark(ambiguous, parser="lalr")  # resolved silently by default ...
    with pytest.raises(GrammarError):
        Lark(ambiguous, parser="lalr", strict=True)  # ... but not in strict mode


def test_only_one_copy_of_the_grammar():
    root = Path(__file__).resolve().parent.parent
    copies = [p for p in root.rglob("*.lark") if ".venv" not in p.parts and "build" not in p.parts]
    assert [p.relative_to(root).as_posix() for p in copies] == ["grammar/nns.lark"]


def parse_ok(text):
    r = parse(text)
    assert r.diagnostics == [], [(d.code, d.message) for d in r.diagnostics]
    return r.module


def test_every_construct_parses():
    mod = parse_ok('''
use "std/resnet"
block B(channels: int, stride: int = 1, act: str = "relu", t: tuple = (1, 2)) {
    "Doc of B."
    input x, skip: [N, _, H, W]
    let c = channels * 4 // 2 + -1
    y = x -> conv1: Conv2d(channels, 3, stride=stride, padding=1, bias=false)
          -> bn1: BatchNorm2d -> ReLU
    if stride != 1 or channels != x.channels and not false {
        x = x -> downsample: Sequential { Conv2d(channels, 1, stride=stride) -> BatchNorm2d }
    } else if c > 3 {
        let z = x.shape[1] ** 2
    } else {
        let z = 0
    }
    for i in range(2) {
        y = y -> "extra{i + 1}": Identity
    }
    (a, b) = y -> Split(2, axis=1)
    out = (a, b, skip) -> Concat(axis=1) -> [ReLU, Identity] -> Identity * 2
    output out
}
network Net(classes: int = 10) {
    input image: [N, 3, 224, 224], tokens: [N, T] i64
    f = image -> layer1: B(64) * 2 -> layer2: [B(128, stride=2), B(128)]
    output f, tokens
}
''')
    assert [u.path for u in mod.uses] == ["std/resnet"]
    block, net = mod.definitions
    assert block.kind == "block" and block.doc == "Doc of B." and net.kind == "network"
    kinds = [type(s).__name__ for s in block.body]
    assert kinds == ["DocStmt", "InputStmt", "LetStmt", "AssignStmt", "IfStmt", "ForStmt", "AssignStmt",
                     "AssignStmt", "OutputStmt"]
    step = net.body[1].chain.steps[0]
    assert step.name.id == "layer1" and isinstance(step.repeat, n.Literal) and step.repeat.value == 2
    assert isinstance(net.body[1].chain.steps[1].term, n.LayerSeq)


def test_chains_continue_across_lines_and_statements_end_at_newlines():
    mod = parse_ok("network A {\n input x: [1, 2]\n y = x\n   -> ReLU\n   -> ReLU\n z = (y,\n  y\n ) -> Add\n output z\n}\n")
    body = mod.definitions[0].body
    assert len(body[1].chain.steps) == 2
    assert len(body) == 4


def test_spans_are_exact():
    text = "network A {\n  input x: [1, 4]\n  y = x -> fc: Linear(3)\n  output y\n}\n"
    mod = parse_ok(text)
    step = mod.definitions[0].body[1].chain.steps[0]
    assert (step.name.span.line, step.name.span.column) == (3, 12)
    assert text[step.term.span.start:step.term.span.end] == "Linear(3)"
    assert (step.term.span.end_line, step.term.span.end_column) == (3, 25)  # end is exclusive


def test_layer_names_are_not_keywords():
    # A tensor or layer may be called like a layer type; only the few statement words are reserved.
    parse_ok("network A {\n input x: [1]\n Linear = x -> ReLU: ReLU\n output Linear\n}\n")


@pytest.mark.parametrize("text, code, line, column", [
    ("network A {\n input x: [1]\n y = x -> ReLU ReLU\n output y\n}\n", "E001", 3, 16),
    ("network A {\n input x: [1]\n y = x -> Linear(3\n output y\n}\n", "E001", 3, 17),  # at the open (
    ("network A {\n input x: [1]\n y = x -> $\n output y\n}\n", "E002", 3, 11),
    ('network A {\n input x: [1]\n y = x -> Foo("abc)\n output y\n}\n', "E004", 3, 15),
    ("network A {\n input x: [1]\n", "E003", 3, 1),
])
def test_syntax_errors_are_located(text, code, line, column):
    r = parse(text)
    assert [(d.code, d.span.line, d.span.column) for d in r.diagnostics][:1] == [(code, line, column)]


def test_recovery_reports_every_broken_line_and_keeps_the_rest():
    # An unclosed bracket swallows the lines after it up to the next statement keyword.
    text = ("network A {\n input x: [1, 4]\n a = x -> ReLU ReLU\n b = x -> (\n let k = 1\n c = x -> Linear(2)\n"
            " d = x -> = \n output c\n}\n")
    r = parse(text)
    assert [d.span.line for d in r.diagnostics] == [3, 4, 7]
    stmts = r.module.definitions[0].body
    assert any(isinstance(s, n.AssignStmt) and s.targets[0].id == "c" for s in stmts)
    assert isinstance(stmts[-1], n.OutputStmt)


def test_deep_nesting_is_an_error_not_a_crash():
    r = parse("network A {\n let z = " + "(" * 5000 + "1" + ")" * 5000 + "\n}\n")
    assert any(d.code == "E005" for d in r.diagnostics)


@pytest.mark.parametrize("source", [
    "1 + 2 * 3", "-2 ** 2", "2 ** 3 ** 2", "not 1 == 2", "not True and False", "(1 + 2) * 3", "10 // 3 % 2",
    "1 < 2 and 3 >= 3 or False", "-(3)", "max(1, 2 + 3) * -1", "7 - 2 - 1", "2 * 3 // 4", "1 + -2 * +3",
    "not not True", "True or False and False", "(1, 2) + (3,)", "min((4, 2, 9)) + len((1, 2))", "3 != 3 or 2 <= 1",
])
def test_expressions_follow_python_precedence(source):
    from nnlang.ir.evaluate import evaluate
    from nnlang.syntax.parser import parse_expression

    expr, errors = parse_expression(source.replace("True", "true").replace("False", "false"))
    assert not errors
    assert evaluate(expr, None) == eval(source)  # the literals here are Python's too
