"""The source formatter (nnlang/syntax/format.py) and `nnlang fmt`.

The zoo is written in the canonical style, so every example is a fixed point; a messy variant of an
example (whitespace perturbed everywhere the lexer allows it: spaces and tabs between tokens, wrong
indentation, trailing whitespace, runs of blank lines, CRLF line ends, no final newline) formats back
to exactly the example, and it and its formatted text mean the same as the example (same networks,
same diagnostics). Comments and string literals come through verbatim; a broken file is never touched.
"""

from __future__ import annotations

import functools
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlang.analyze import analyze
from nnlang.cli import main
from nnlang.syntax.format import LineEdit, format_edits, format_range, format_text
from nnlang.syntax.grammar import lark_parser

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "examples").glob("*.nns")) + sorted((ROOT / "nnlang" / "std").glob("*.nns"))
IDS = [p.stem for p in FILES]


# ---- helpers -----------------------------------------------------------------------------------

def lex(text: str) -> list:
    return list(lark_parser().lex(text, dont_ignore=True))


def is_space(tok) -> bool:
    return tok.type.startswith("__IGNORE")


def comments(text: str) -> list[str]:
    """Every comment, as the lexer cuts it (trailing whitespace, a CR of a CRLF line end, removed)."""
    return [t.value.rstrip(" \t\r") for t in lex(text) if t.type == "COMMENT"]


def strings(text: str) -> list[str]:
    return [t.value for t in lex(text) if t.type == "STRING"]


def is_code(tok) -> bool:
    return tok is not None and tok.type not in ("_NL", "COMMENT") and not is_space(tok)


def commented_lines(toks: list) -> list[bool]:
    """Per token: whether it stands on a line that ends in a trailing comment (code, then a comment). The _NL
    token ending a line counts for the next line (it holds that line's indentation)."""
    flags, start, line_has_code = [False] * len(toks), 0, False
    for i, tok in enumerate(toks + [None]):
        if tok is None or tok.type == "_NL":
            if line_has_code and toks[i - 1].type == "COMMENT":
                flags[max(start - 1, 0):i] = [True] * (i - max(start - 1, 0))  # the _NL before it too
            start, line_has_code = i + 1, False
        elif is_code(tok):
            line_has_code = True
    return flags


def messy(text: str, rng: random.Random, crlf: bool = False) -> str:
    """text with its whitespace perturbed wherever that cannot change what it says. Lines with a trailing
    comment keep their spacing: the formatter aligns comments that stand in one column on consecutive lines,
    so moving a comment could line it up with its neighbour's by chance (and the formatter would rightly
    align the two, which the example does not)."""
    toks = lex(text)
    kept = commented_lines(toks)
    nl = "\r\n" if crlf else "\n"

    def ws(k=3):
        return "".join(rng.choice(" \t") for _ in range(rng.randint(1, k)))

    out = []
    if rng.random() < 0.3:
        out.append((ws() + nl) * rng.randint(1, 2))  # leading blank lines
    if rng.random() < 0.3 and not (kept and kept[0]):
        out.append(ws())  # indentation of the first line
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if kept[i] and (tok.type == "_NL" or is_space(tok)):
            out.append(tok.value.replace("\n", nl) if tok.type == "_NL" else tok.value)
            continue
        if tok.type == "_NL":
            n = tok.value.count("\n")
            if n >= 2:
                n += rng.randint(0, 2)  # longer runs of blank lines
            if rng.random() < 0.3:
                out.append(ws())  # trailing whitespace (after a comment: part of the comment)
            for k in range(n):
                out.append(nl)
                if k < n - 1 and rng.random() < 0.3:
                    out.append(ws())  # a blank line with whitespace on it
            out.append(rng.choice(["", " ", "  ", "\t", "      ", " \t ", "            ", "\t\t"]))  # indentation
        elif is_space(tok):
            if tok.value.startswith("\\"):
                out.append("\\" + nl)
            elif nxt is not None and nxt.type == "COMMENT":
                out.append(tok.value)
            else:
                out.append(ws())
        else:
            out.append(tok.value)
            if is_code(tok) and is_code(nxt) and not kept[i] and rng.random() < 0.5:
                out.append(ws())  # a space where there was none (`Conv2d (64 ,3 )`)
    result = "".join(out)
    r = rng.random()
    if r < 0.2:
        result = result.rstrip(" \t\r\n")  # no final newline
    elif r < 0.4:
        result += (nl + ws()) * rng.randint(1, 3)  # trailing blank lines
    return result


def signature(text: str, path: Path) -> tuple:
    """What a file means: per network, every node's path, op, attributes, output types and params,
    the inputs and outputs; and the diagnostic codes."""
    a = analyze(text, path=str(path))
    nets = {}
    for name, g in a.graphs.items():
        nodes = [(n.path, n.op, repr(sorted(n.attrs.items(), key=lambda kv: kv[0])),
                  tuple(repr(g.tensor(t).type) for t in n.outputs), n.params) for n in g.nodes]
        ios = ([(k, repr(g.tensor(t).type)) for k, t in g.inputs], [(k, repr(g.tensor(t).type)) for k, t in g.outputs])
        nets[name] = (nodes, ios)
    return nets, sorted(d.code for d in a.diagnostics)


@functools.cache
def original(path: Path) -> tuple[str, tuple]:
    text = path.read_bytes().decode("utf-8")
    return text, signature(text, path)


def check_messy(path: Path, rng: random.Random, crlf: bool) -> None:
    text, sig = original(path)
    m = messy(text, rng, crlf)
    assert m != text
    first = format_text(m)
    assert first.error is None and first.changed
    assert first.text == text  # back to exactly the example
    assert format_text(first.text) == type(first)(text, False, None)  # idempotent
    assert signature(m, path) == sig  # the perturbation itself was legal ...
    assert signature(first.text, path) == sig  # ... and formatting kept the meaning
    assert comments(first.text) == comments(m) == comments(text)


# ---- the zoo is canonical ----------------------------------------------------------------------

@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_example_and_library_file_is_a_fixed_point(path):
    text, sig = original(path)
    r = format_text(text)
    assert (r.text, r.changed, r.error) == (text, False, None)
    assert sig[1] == []  # and is clean


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_messy_variant_formats_back_to_the_example(path, seed):
    check_messy(path, random.Random(f"{path.name}:{seed}"), crlf=seed == 1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(FILES), rng=st.randoms(use_true_random=False), crlf=st.booleans())
def test_hypothesis_perturbed_whitespace(path, rng, crlf):
    check_messy(path, rng, crlf)


# ---- rules -------------------------------------------------------------------------------------

MESSY = """\


# header   


block B(c:int=1,
   d : float = -1.5 ,) {
\t"doc  #  not a comment"
input x
  let k = (c+1)*2 // 3 ** -1 - -c
    y = x->Conv2d( c , kernel = (3,3), padding=[ 1 ,1 ] )  ->ReLU # trailing
   -> Linear(k)->conv: Sequential {
   Linear(1)
   -> Linear(k * 2) # in group
 }
   if c!=1 and not(c>2) {
        y = y -> ReLU


   } else if c == 1 {
     y = y->Tanh
   }
   else{
   y = y -> GELU
   }
   for i in range(c) { y = y -> "l{i}": Linear(x.shape[1]) * 2 }
   output y
   # end of block
}
network N(
    a: int = 2,
    b: int = 3
) {
  input  image : [N, 3, 8,8] , t: [N, 6]
  (p, q) = t -> Split(2, axis=1)
  z = (p, q,) -> Add \\
      -> ReLU
  w = image->Flatten->B(4)
  output z, w}
# eof comment"""

CANONICAL = """\
# header

block B(c: int = 1,
        d: float = -1.5,) {
    "doc  #  not a comment"
    input x
    let k = (c + 1) * 2 // 3 ** -1 - -c
    y = x -> Conv2d(c, kernel=(3, 3), padding=[1, 1]) -> ReLU  # trailing
          -> Linear(k) -> conv: Sequential {
              Linear(1)
              -> Linear(k * 2)  # in group
          }
    if c != 1 and not (c > 2) {
        y = y -> ReLU
    } else if c == 1 {
        y = y -> Tanh
    }
    else {
        y = y -> GELU
    }
    for i in range(c) { y = y -> "l{i}": Linear(x.shape[1]) * 2 }
    output y
    # end of block
}
network N(
    a: int = 2,
    b: int = 3
) {
    input image: [N, 3, 8, 8], t: [N, 6]
    (p, q) = t -> Split(2, axis=1)
    z = (p, q,) -> Add \\
                -> ReLU
    w = image -> Flatten -> B(4)
    output z, w }
# eof comment
"""


def test_the_style_rules_on_a_messy_file():
    r = format_text(MESSY)
    assert r.error is None and r.changed
    assert r.text == CANONICAL
    assert format_text(CANONICAL) == type(r)(CANONICAL, False, None)


def test_a_messy_file_keeps_its_meaning():
    path = ROOT / "tests" / "messy.nns"
    before, after = signature(MESSY, path), signature(format_text(MESSY).text, path)
    assert before == after
    assert after[0]["N"][0]  # a real network was compared


def test_continuation_lines():
    src = ("network N(classes: int = 10,\n"
           "   width: int = 4) {\n"
           "input x: [N, 4]\n"
           "y = x\n"
           "-> Linear(width,\n"
           "bias=false) -> ReLU\n"
           "z = y -> Linear(\n"
           "8,\n"
           ") -> ReLU\n"
           "           -> Linear(classes)\n"
           "output z\n"
           "}\n")
    assert format_text(src).text == ("network N(classes: int = 10,\n"
                                     "          width: int = 4) {\n"
                                     "    input x: [N, 4]\n"
                                     "    y = x\n"
                                     "        -> Linear(width,\n"
                                     "                  bias=false) -> ReLU\n"
                                     "    z = y -> Linear(\n"
                                     "        8,\n"
                                     "    ) -> ReLU\n"
                                     "          -> Linear(classes)\n"
                                     "    output z\n"
                                     "}\n")


def test_blank_lines_and_line_ends():
    src = "\r\n\r\nnetwork N {\r\n\r\n\r\n  input x: [N, 4]\r\n\r\n\r\n\r\n  output x   \r\n\r\n}\r\n\r\n\r\n"
    assert format_text(src).text == "network N {\n    input x: [N, 4]\n\n    output x\n}\n"
    assert format_text("").text == ""
    assert format_text("\n\n  \n").text == ""
    assert format_text("# only a comment").text == "# only a comment\n"


def test_aligned_trailing_comments_stay_aligned():
    src = ("network N {\n"
           "    input x: [N, 4]\n"
           "    y = x->ReLU       # a\n"
           "    z = y -> ReLU     # b\n"
           "    w = z -> ReLU   # not aligned with the others: its own spaces\n"
           "    output w\n"
           "}\n")
    out = format_text(src).text.splitlines()
    # `y = x->ReLU` grows by two, keeping the spaces before its comment; `# b` follows it.
    assert out[2] == "    y = x -> ReLU       # a"
    assert out[3] == "    z = y -> ReLU       # b"
    assert out[4] == "    w = z -> ReLU   # not aligned with the others: its own spaces"


def test_tokens_never_merge():
    # `3 .x` must not become `3.x` (a number); unary minus stays unary, `- -1` stays two tokens.
    src = "network N {\n    input x: [N, 4]\n    let a = 3 .real\n    let b = 1 - - 1\n    output x\n}\n"
    r = format_text(src)
    assert r.error is None
    assert "let a = 3 .real\n" in r.text and "let b = 1 - -1\n" in r.text


# ---- comments and strings ----------------------------------------------------------------------

COMMENTED = """\
# file header
use "std/resnet"  # after a use
# before a block
block B(c: int,  # after a parameter
        # between parameters
        d: int = 2) {  # after an opening brace
    # first in a body
    input x  # after input
    y = x -> Conv2d(c, 3,  # inside arguments
                    padding=1)  # after a chain step
          -> ReLU  # after the last step
    if d > 1 {  # after if
        y = y -> Sequential {  # after a group's brace
            # inside a group
            Conv2d(c, 1)  # after a group step
            -> ReLU  # before a group's closing brace
        }
    }  # after a closing brace
    else {
        # alone in a body
    }
    output y
    # last in a body
}
# at the end of the file, no newline after it"""


def test_every_comment_survives_verbatim():
    r = format_text(COMMENTED)
    assert r.error is None
    assert comments(r.text) == comments(COMMENTED) and len(comments(COMMENTED)) == 20
    # own-line comments take the indentation of what follows them
    lines = r.text.splitlines()
    assert "        # between parameters" in lines
    assert "        # alone in a body" in lines
    assert lines[-1] == "# at the end of the file, no newline after it"
    assert format_text(r.text).changed is False


def test_comments_survive_messy_whitespace():
    rng = random.Random(7)
    for _ in range(5):
        m = messy(COMMENTED, rng)
        r = format_text(m)
        assert comments(r.text) == comments(COMMENTED)
        assert r.text == format_text(COMMENTED).text


@pytest.mark.parametrize("src, expected", [
    ("network N {\n    input x: [N, 4]\n    y = x\n    # between\n        -> ReLU\n    output y\n}\n",
     "network N {\n    input x: [N, 4]\n    y = x\n        # between\n        -> ReLU\n    output y\n}\n"),
    ("network N {\n    input x: [N, 4]\n    y = x -> g: Sequential {\n        ReLU\n# last step\n    }\n    output y\n}\n",
     ("network N {\n    input x: [N, 4]\n    y = x -> g: Sequential {\n        ReLU\n        # last step\n    }\n"
      "    output y\n}\n")),
], ids=["between-arrow-lines", "before-a-group-brace"])
def test_comment_line_inside_a_chain(src, expected):
    r = format_text(src)
    assert r.error is None
    assert r.text == expected


STRINGS = '''\
network N {
    """A docstring: # not a comment,
       'quotes' and "quotes", \\"escaped\\" and \\\\ and \\t, kept    exactly
    """
    input x: [N, 4]
    y = x -> "name#1": Linear(4) -> 'it\\'s # here':   Linear(4)
    let s = "a # b" + '\\"'   # trailing
    output y
}
'''


def test_string_literals_are_byte_identical():
    r = format_text(STRINGS)
    assert r.error is None and r.changed
    assert strings(r.text) == strings(STRINGS) and len(strings(STRINGS)) == 5
    for s in strings(STRINGS):
        assert s in r.text
    assert comments(r.text) == ["# trailing"]
    m = messy(STRINGS, random.Random(3), crlf=True)
    assert strings(m) == strings(STRINGS)
    assert format_text(m).text == r.text


def test_a_crlf_inside_a_string_is_kept():
    src = 'network N {\r\n    """two\r\n    lines"""\r\n    input x: [N, 4]\r\n    output x\r\n}\r\n'
    r = format_text(src)
    assert '"""two\r\n    lines"""' in r.text
    assert r.text.replace('"""two\r\n', '"""two\n') == src.replace("\r\n", "\n")


# ---- broken files ------------------------------------------------------------------------------

@pytest.mark.parametrize("src, where", [
    ("network N {\n  input x: [N, 4]\n  y = x -> Conv2d(8, 3 -> ReLU\n  output y\n}\n", "3:"),
    ("network N {\n  input x\n  y = x -> ReLU\n", "4:1:"),
    ("network N {\n  input x $\n}\n", "2:11:"),
    ('network N {\n  "unclosed\n}\n', "2:3:"),
])
def test_a_file_with_a_syntax_error_is_returned_unchanged(src, where):
    r = format_text(src)
    assert r.text == src and r.changed is False
    assert r.error is not None and r.error.startswith(where) and "error[E00" in r.error
    assert format_edits(src) == [] and format_range(src, 0, 10) == []


# ---- line edits (language server) --------------------------------------------------------------

def apply(text: str, edits: list[LineEdit]) -> str:
    lines = re.findall(r"[^\n]*\n|[^\n]+\Z", text)
    for e in sorted(edits, key=lambda e: e.start_line, reverse=True):
        lines[e.start_line:e.end_line] = [e.new_text]
    return "".join(lines)


@pytest.mark.parametrize("src", [MESSY, COMMENTED, STRINGS, "network N {\ninput x\noutput x\n}"])
def test_all_edits_give_the_formatted_text(src):
    edits = format_edits(src)
    assert edits and apply(src, edits) == format_text(src).text


def test_range_formatting_touches_only_the_range():
    src = "network N {\ninput x: [N, 4]\ny = x->ReLU\nz = y->ReLU\noutput z\n}\n"
    edits = format_range(src, 2, 2)
    assert edits == [LineEdit(2, 3, "    y = x -> ReLU\n")]
    out = apply(src, edits)
    assert out == "network N {\ninput x: [N, 4]\n    y = x -> ReLU\nz = y->ReLU\noutput z\n}\n"
    assert format_text(out).text == format_text(src).text
    assert format_range(src, 0, 5) == format_edits(src)
    assert format_range(format_text(src).text, 0, 5) == []


def test_line_edits_ignore_line_ends_and_keep_strings():
    src = 'network N {\r\n    """a\r\n    b"""\r\n    input x: [N, 4]\r\n    output x\r\n}\r\n'
    assert format_text(src).changed and format_edits(src) == []  # only the line ends differ
    messy_src = src.replace("    input", "input")
    assert format_edits(messy_src) == [LineEdit(3, 4, "    input x: [N, 4]\n")]


def test_a_formatter_bug_cannot_change_a_file(monkeypatch):
    # Were a spacing rule wrong (here: no spaces at all), the check that lexes the result again
    # refuses it: `input x` -> `inputx` reads differently.
    from nnlang.syntax import format as fmt

    monkeypatch.setattr(fmt, "_space", lambda *a: "")
    r = format_text(UGLY)
    assert (r.text, r.changed) == (UGLY, False) and "internal error" in r.error


@settings(max_examples=20, deadline=None)
@given(src=st.sampled_from([MESSY, COMMENTED, STRINGS]), rng=st.randoms(use_true_random=False),
       crlf=st.booleans())
def test_hypothesis_hand_written_files(src, rng, crlf):
    canonical = format_text(src).text
    m = messy(src, rng, crlf)
    r = format_text(m)
    assert r.error is None and r.text == canonical
    assert comments(r.text) == comments(src) and strings(r.text) == strings(src)


def test_formatting_time_grows_linearly_with_the_text():
    # A ratio, not a time (a busy machine slows both alike): 8 copies of the largest example take about 8 times
    # as long as one; a quadratic step would make it 64. Absolute speed is benchmarks/' business.
    path = max(FILES, key=lambda p: len(p.read_text()))
    text = path.read_text()

    def best_time(src: str) -> float:
        format_text(src)
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            format_text(src)
            best = min(best, time.process_time() - t0)
        return best

    one, eight = best_time(text), best_time(text * 8)
    assert eight < 20 * one, f"{path.name}: x1 {one * 1000:.1f} ms, x8 {eight * 1000:.1f} ms"


# ---- nnlang fmt --------------------------------------------------------------------------------

UGLY = "network N {\ninput x: [N, 4]\ny = x->ReLU\noutput y\n}\n"
PRETTY = "network N {\n    input x: [N, 4]\n    y = x -> ReLU\n    output y\n}\n"
BROKEN = "network N {\n    input x: [N, 4]\n    y = x -> Conv2d(8, 3 -> ReLU\n    output y\n}\n"


def run(capsys, *args):
    code = main(["fmt", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_check_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.nns"
    good.write_text(PRETTY)
    assert run(capsys, "--check", good) == (0, "", "")
    ugly = tmp_path / "ugly.nns"
    ugly.write_text(UGLY)
    assert run(capsys, "--check", good, ugly) == (1, f"{ugly}\n", "")
    assert ugly.read_text() == UGLY  # --check writes nothing
    broken = tmp_path / "broken.nns"
    broken.write_text(BROKEN)
    code, out, err = run(capsys, "--check", tmp_path)
    assert code == 1  # the input has errors (README, "Exit codes")
    assert out == f"{ugly}\n"
    assert err.startswith(f"{broken}:3:") and "error[E001]" in err


def test_cli_rewrites_changed_files_only(tmp_path, capsys):
    sub = tmp_path / "models" / "deep"
    sub.mkdir(parents=True)
    ugly, good, other = sub / "ugly.nns", tmp_path / "good.nns", tmp_path / "notes.txt"
    ugly.write_bytes(UGLY.replace("\n", "\r\n").encode())
    good.write_text(PRETTY)
    other.write_text(UGLY)
    ugly.chmod(0o640)
    mtime = good.stat().st_mtime_ns
    assert run(capsys, tmp_path) == (0, f"{ugly}\n", "")
    assert ugly.read_bytes() == PRETTY.encode()
    assert oct(ugly.stat().st_mode & 0o777) == "0o640"
    assert good.stat().st_mtime_ns == mtime and other.read_text() == UGLY
    assert sorted(p.name for p in sub.iterdir()) == ["ugly.nns"]  # no temporary file left behind
    assert run(capsys, "--check", tmp_path) == (0, "", "")


def test_cli_never_touches_a_broken_file(tmp_path, capsys):
    broken = tmp_path / "broken.nns"
    broken.write_text(BROKEN)
    code, out, err = run(capsys, broken)
    assert (code, out) == (1, "")  # the input has errors (README, "Exit codes")
    assert err.startswith(f"{broken}:3:20: error[E001]: missing ')': this '(' is not closed before '->'")
    assert err.count("\n") == 1
    assert broken.read_text() == BROKEN


def test_cli_diff(tmp_path, capsys):
    ugly = tmp_path / "ugly.nns"
    ugly.write_text(UGLY)
    code, out, err = run(capsys, "--diff", ugly)
    assert (code, err) == (0, "")
    assert out.startswith(f"--- {ugly} (original)\n+++ {ugly} (formatted)\n@@ ")
    assert "-y = x->ReLU\n" in out and "+    y = x -> ReLU\n" in out
    assert ugly.read_text() == UGLY  # --diff writes nothing
    assert run(capsys, "--diff", "--check", ugly)[0] == 1


def test_cli_missing_path(tmp_path, capsys):
    code, out, err = run(capsys, tmp_path / "nope.nns")
    assert (code, out) == (2, "") and "no such file" in err


def test_cli_end_to_end(tmp_path):
    f = tmp_path / "a.nns"
    f.write_text(UGLY)
    r = subprocess.run([sys.executable, "-m", "nnlang", "fmt", "--check", str(f)], capture_output=True, text=True,
                       check=False)
    assert (r.returncode, r.stdout) == (1, f"{f}\n")
    r = subprocess.run([sys.executable, "-m", "nnlang", "fmt", str(f)], capture_output=True, text=True, check=False)
    assert (r.returncode, f.read_text()) == (0, PRETTY)


def test_a_continuation_alone_on_its_line_is_kept_the_formatter_changes_whitespace_only():
    # found by fuzzing (issue 19): two comments ending in a backslash, between them a line holding only `\`
    src = " # an e`be\\\n\\\n\n# an embe# \\\n"
    result = format_text(src)
    assert result.error is None and result.text == "# an e`be\\\n\\\n\n# an embe# \\\n"
    assert format_text(result.text).changed is False
    inside = "network A {\n    input x: [N, 4]\n    y = x \\\n        -> ReLU\n    \\\n    output y\n}\n"
    assert format_text(inside).text == inside


def test_lone_carriage_returns_are_line_ends_for_check_fmt_and_the_editor():
    """LSP (and old Mac files) end lines with a lone \\r: check gave E002 at each one and put every error on line 1."""
    from nnlang.analyze import analyze

    src = "network A {\r    input x: [N, 4]\r    y = x -> Relu\r    output y\r}\r"
    (d,) = analyze(src, "a.nns").diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E101", 3, 14) and src[d.span.start:d.span.end] == "Relu"
    result = format_text(src.replace("Relu", "ReLU"))
    assert result.error is None and result.text == src.replace("Relu", "ReLU").replace("\r", "\n")
