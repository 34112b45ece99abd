"""Mutations of .nns text: what an adversarial user, a bad paste or a half-typed edit produces."""

from __future__ import annotations

import random
import re

from .generate import big_int

TOKEN = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|->|\*\*|//|==|!=|<=|>=|\d+\.\d*|\d+'
                   r"|[A-Za-z_]\w*|\S")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
PUNCT = ["(", ")", "[", "]", "{", "}", ",", ":", "=", "->", "-", ">", "*", "**", "/", "//", "%", ".", "+", "==",
         "!=", "<", ">=", "#", '"', "'", '"""', "\\", "\n", "\n\n", " ", "\t", ";", "@", "$", "`", "\\\n", " \\\n"]
KEYWORDS = ["network", "block", "input", "output", "let", "if", "else", "for", "in", "use", "and", "or", "not",
            "true", "false", "none", "Sequential", "range", "len", "min", "max", "int", "float", "Add", "Conv2d",
            "ReLU", "Linear", "Concat", "x", "N", "i64"]
WEIRD = ["\x00", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\u202e", "é", "e\u0301",
         "ß", "İ", "Σ", "中文", "🙂", "👩\u200d👩\u200d👧", "\U0010ffff", "\ud800", "\udfff", "\udc00\ud800", "ﬁ", "Ａ",
         "𝑊", "\x7f", "\x1b[31m", "١٢٣", "²", "\u0660"]
NESTERS = [("(", ")"), ("[", "]"), ("{", "}"), ("Sequential { ", " }"), ("[", " * 100]"), ("-(", ")"),
           ("not (", ")"), ("((", "),)")]


def tokens(text: str) -> list:
    return [(m.start(), m.end()) for m in TOKEN.finditer(text)]


def _pos(rng: random.Random, text: str) -> int:
    return rng.randrange(len(text) + 1)


def _line_bounds(text: str) -> list:
    out, start = [], 0
    for m in re.finditer("\n", text):
        out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def byte_flip(rng, text, corpus):
    if not text:
        return "\x00"
    i = rng.randrange(len(text))
    c = ord(text[i]) ^ (1 << rng.randrange(8 if rng.random() < 0.8 else 16))
    return text[:i] + chr(c) + text[i + 1:]


def token_delete(rng, text, corpus):
    toks = tokens(text)
    if not toks:
        return text
    a, b = rng.choice(toks)
    return text[:a] + text[b:]


def token_duplicate(rng, text, corpus):
    toks = tokens(text)
    if not toks:
        return text
    a, b = rng.choice(toks)
    times = rng.choice([1, 1, 1, 2, 5, 50])
    return text[:b] + (" " + text[a:b]) * times + text[b:]


def token_swap(rng, text, corpus):
    toks = tokens(text)
    if len(toks) < 2:
        return text
    i = rng.randrange(len(toks))
    j = min(len(toks) - 1, max(0, i + rng.choice([-3, -2, -1, 1, 2, 3]))) if rng.random() < 0.7 \
        else rng.randrange(len(toks))
    (a, b), (c, d) = sorted([toks[i], toks[j]])
    if c < b or i == j:
        return text
    return text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]


def span_delete(rng, text, corpus):
    p = _pos(rng, text)
    return text[:p] + text[p + rng.randrange(1, 60):]


def span_duplicate(rng, text, corpus):
    p = _pos(rng, text)
    e = min(len(text), p + rng.randrange(1, 200))
    return text[:e] + text[p:e] + text[e:]


def insert_piece(rng, text, corpus):
    p = _pos(rng, text)
    piece = rng.choice(PUNCT + KEYWORDS + [f" {k} " for k in KEYWORDS])
    return text[:p] + piece + text[p:]


def unicode(rng, text, corpus):
    p = _pos(rng, text)
    piece = rng.choice(WEIRD) if rng.random() < 0.8 else "".join(chr(rng.randrange(0x80, 0x110000))
                                                                 for _ in range(rng.randrange(1, 5)))
    return text[:p] + piece + text[p:]


def huge_number(rng, text, corpus):
    nums = list(NUMBER.finditer(text))
    value = rng.choice([big_int(rng), "0", "-1", "-" + big_int(rng), "1e309", "1e-400", "0" * 50 + "1",
                        big_int(rng) + ".5", "2 ** 2 ** 64", "10 ** 160", "(" + big_int(rng) + ")"])
    if not nums:
        p = _pos(rng, text)
        return text[:p] + value + text[p:]
    m = rng.choice(nums)
    return text[:m.start()] + value + text[m.end():]


def splice_lines(rng, text, corpus):
    """A run of lines of another file put into this one (a paste from elsewhere)."""
    other = rng.choice(corpus)[1]
    lines = other.splitlines(keepends=True)
    if not lines:
        return text
    a = rng.randrange(len(lines))
    piece = "".join(lines[a:a + rng.randrange(1, 12)])
    bounds = _line_bounds(text)
    p = rng.choice(bounds)[rng.randrange(2)] if bounds else 0
    if rng.random() < 0.3 and bounds:  # replace a line instead
        s, e = rng.choice(bounds)
        return text[:s] + piece + text[e:]
    return text[:p] + piece + text[p:]


def deep_nesting(rng, text, corpus):
    toks = [t for t in tokens(text) if not text[t[0]].startswith(("#", '"'))] or [(0, 0)]
    a, b = rng.choice(toks)
    depth = rng.choice([10, 50, 200, 1000, 3000])
    opener, closer = rng.choice(NESTERS)
    closed = rng.random() < 0.8
    return text[:a] + opener * depth + text[a:b] + (closer * depth if closed else "") + text[b:]


def long_line(rng, text, corpus):
    bounds = _line_bounds(text)
    if not bounds:
        return text
    s, e = rng.choice(bounds)
    line = text[s:e].rstrip("\n")
    r = rng.random()
    if r < 0.4:
        piece = rng.choice([" -> ReLU", " -> Identity", " + 1", ", 1", " -> Conv2d(8, 3)", "[0]", ".shape"])
        line += piece * rng.choice([100, 1000, 2500])
    elif r < 0.7:
        line += "  # " + "x" * rng.choice([1000, 10000, 19000])
    else:
        line = line + " " + "a" * rng.choice([100, 5000, 15000])
    return text[:s] + line + "\n" + text[e:]


def line_ends(rng, text, corpus):
    r = rng.random()
    if r < 0.35:
        return text.replace("\n", "\r")
    if r < 0.6:
        return text.replace("\n", "\r\n")
    nl = [m.start() for m in re.finditer("\n", text)]
    if not nl:
        return text + "\r"
    i = rng.choice(nl)
    return text[:i] + rng.choice(["\r", "\r\n", "\r\r\n", "\n\r", "\x0c\n", "\u2028"]) + text[i + 1:]


def continuation(rng, text, corpus):
    r = rng.random()
    p = _pos(rng, text)
    if r < 0.4:  # a `\` continuation at a random place
        return text[:p] + rng.choice(["\\\n", " \\\n    ", "\\\r\n", "\\", "\\\\\n"]) + text[p:]
    if r < 0.7:  # a comment ending in a backslash, then a line holding only one (issue 19's formatter case)
        bounds = _line_bounds(text)
        s = rng.choice(bounds)[0] if bounds else 0
        return text[:s] + "# c \\\n\\\n" + text[s:]
    # every newline after a given point continued
    q = text.find("\n", p)
    return text if q < 0 else text[:q] + "\\" + text[q:]


def expansion(rng, text, corpus):
    """A step repeated or nested to huge counts, a loop over a huge range."""
    arrows = [m.end() for m in re.finditer(r"-> *", text)]
    piece = rng.choice(["[Conv2d(3, k) * 10000] * 10000", "ReLU * 1000000", "[[ReLU * 1000] * 1000] * 1000",
                        "Sequential { ReLU * 100000 }", "ReLU * " + big_int(rng), "Linear(8) * (2 ** 62)",
                        "[ReLU] * 99999999999999999999"])
    if rng.random() < 0.2:
        body = "    for i in range(" + rng.choice(["1000000", big_int(rng), "10 ** 9"]) + ") {\n" \
               "        x = x -> \"r{i}\": ReLU\n    }\n"
        bounds = _line_bounds(text)
        s = rng.choice(bounds)[0] if bounds else 0
        return text[:s] + body + text[s:]
    if not arrows:
        p = _pos(rng, text)
        return text[:p] + " -> " + piece + text[p:]
    p = rng.choice(arrows)
    return text[:p] + piece + " -> " + text[p:]


def truncate(rng, text, corpus):
    return text[:_pos(rng, text)]


def block_duplicate(rng, text, corpus):
    bounds = _line_bounds(text)
    if not bounds:
        return text
    i = rng.randrange(len(bounds))
    j = min(len(bounds), i + rng.randrange(1, 30))
    s, e = bounds[i][0], bounds[j - 1][1]
    return text[:e] + text[s:e] * rng.choice([1, 2, 10]) + text[e:]


MUTATORS = [
    (byte_flip, 6), (token_delete, 8), (token_duplicate, 5), (token_swap, 6), (span_delete, 5),
    (span_duplicate, 4), (insert_piece, 8), (unicode, 5), (huge_number, 6), (splice_lines, 6), (deep_nesting, 3),
    (long_line, 2), (line_ends, 3), (continuation, 4), (expansion, 3), (truncate, 3), (block_duplicate, 2),
]
_FUNCS = [f for f, _ in MUTATORS]
_WEIGHTS = [w for _, w in MUTATORS]


def mutate(rng: random.Random, text: str, corpus, count: int | None = None) -> tuple[str, list]:
    """text after 1-4 (sometimes up to 10) random mutations, and their names."""
    if count is None:
        count = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 10])
    names = []
    for _ in range(count):
        f = rng.choices(_FUNCS, _WEIGHTS)[0]
        text = f(rng, text, corpus)
        names.append(f.__name__)
    return text, names
