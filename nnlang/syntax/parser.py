"""Parse .nns text into a syntax tree, recovering from syntax errors.

Lark's LALR parser is driven token by token. On an error we record one diagnostic, then
resynchronise: find the nearest following token that can end the broken construct (a newline,
`}` or a closing bracket), pop the parser's state stack until a state accepts it, and go on.
Any prefix of an LR stack is a valid parser configuration, so popping never corrupts the parse;
the broken statement is dropped and the rest of the file is analysed as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, error
from ..span import Span, point_at_end
from .convert import ConvertError, convert_module
from .grammar import lark_parser
from .nodes import Module

MAX_NESTING = 64
MAX_SYNTAX_ERRORS = 50

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE"}
# After these a newline cannot end a statement: the construct obviously goes on.
_CONTINUES = {"ARROW", "COMMA", "EQUAL", "COLON", "LPAR", "LSQB", "LBRACE", "ADD_OP", "STAR", "SLASH",
              "DSLASH", "PERCENT", "POW", "COMP_OP", "AND", "OR", "NOT", "DOT", "_NL"}
# A newline before these is not a statement end either.
_JOINS_PREVIOUS = {"ARROW", "ELSE", "RBRACE", "RPAR", "RSQB"}
# Statement keywords cannot occur inside brackets: seeing one closes any brackets left open.
_STATEMENT_KEYWORDS = {"INPUT", "OUTPUT", "LET", "IF", "FOR", "NETWORK", "BLOCK", "USE"}

_DESCRIBE = {
    "_NL": "end of line", "$END": "end of file", "ARROW": "'->'", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'", "COMMA": "','", "COLON": "':'",
    "DOT": "'.'", "EQUAL": "'='", "COMP_OP": "a comparison", "ADD_OP": "'+' or '-'", "POW": "'**'",
    "STAR": "'*'", "SLASH": "'/'", "DSLASH": "'//'", "PERCENT": "'%'", "NAME": "a name",
    "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
}


def describe_terminal(t: str) -> str:
    return _DESCRIBE.get(t, f"'{t.lower()}'" if t.isalpha() else t)


def describe_token(tok) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "NAME":
        return f"name '{tok.value}'"
    if tok.type in ("INT", "FLOAT"):
        return f"number {tok.value}"
    if tok.type == "STRING":
        v = tok.value if len(tok.value) < 30 else tok.value[:27] + "..."
        return f"string {v}"
    return f"'{tok.value}'"


@dataclass
class ParseResult:
    module: Module
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _filter_newlines(tokens: list) -> list:
    """Keep only the newlines that can end a statement (see module doc).

    A newline swallowed as a continuation is given back when the next line starts with a
    statement keyword: `y = x ->` followed by `output y` is a broken line, not one statement.
    """
    out = []
    stack: list[str] = []  # open bracket types
    pending_nl = None  # the last newline swallowed
    n = len(tokens)
    for i, tok in enumerate(tokens):
        t = tok.type
        if t == "_NL":
            if not stack:
                continue  # top level
            if _starts_assignment(tokens, i + 1) and not (out and out[-1].type in ("COMMA", "LPAR")):
                # `name = ...` on the next line is a new statement, whatever this line left open
                # (inside brackets `name=` after ',' or '(' is a keyword argument).
                while stack and stack[-1] != "LBRACE":
                    stack.pop()
                if stack and out and out[-1].type not in ("_NL", "LBRACE"):
                    out.append(tok)
                pending_nl = None
                continue
            after = i + 1
            while after < n and tokens[after].type == "_NL":  # a comment line between: two newlines
                after += 1
            if (stack[-1] != "LBRACE" or (out and out[-1].type in _CONTINUES)
                    or (after < n and tokens[after].type in _JOINS_PREVIOUS) or after == n):
                pending_nl = tok
                continue
            out.append(tok)
            pending_nl = None
            continue
        if t in _STATEMENT_KEYWORDS and stack:
            # A bracket left open or a dangling operator on an earlier line: give the parser back
            # that line's end, so the error points there and recovery resumes at this statement.
            while stack and stack[-1] != "LBRACE":
                stack.pop()
            if pending_nl is not None and stack and out and out[-1].type not in ("_NL", "LBRACE"):
                out.append(pending_nl)
        pending_nl = None
        if t in _OPENERS:
            stack.append(t)
        elif t == "RBRACE":
            while stack and stack[-1] != "LBRACE":
                stack.pop()
            if stack:
                stack.pop()
        elif t in ("RPAR", "RSQB"):
            if stack and stack[-1] != "LBRACE":
                stack.pop()
        out.append(tok)
    return out


def _starts_assignment(tokens: list, i: int) -> bool:
    return i + 1 < len(tokens) and tokens[i].type == "NAME" and tokens[i + 1].type == "EQUAL"


class _Driver:
    def __init__(self, text: str):
        self.text = text
        self.diags: list[Diagnostic] = []
        self.lark = lark_parser()
        # Errors are not reported again until the parser has consumed a statement end after recovery.
        self.quiet = False

    def _report(self, code: str, message: str, span: Span, related=()):
        if len(self.diags) < MAX_SYNTAX_ERRORS:
            self.diags.append(error(code, message, span, related))

    def run(self):
        from lark import Token
        from lark.exceptions import UnexpectedToken

        raw = list(self.lark.lex(self.text))
        tokens = _filter_newlines(raw)
        ip = self.lark.parse_interactive(self.text)
        state = ip.parser_state
        parse_table = state.parse_conf.states
        depth = 0
        i = 0
        n = len(tokens)
        while i < n:
            tok = tokens[i]
            if tok.type in _OPENERS:
                depth += 1
                if depth > MAX_NESTING:
                    self._report("E005", f"nesting deeper than {MAX_NESTING} levels; the rest of the file is not read",
                                 Span.of_token(tok))
                    return None
            elif tok.type in _CLOSERS:
                depth = max(0, depth - 1)
            if tok.type == "BAD_CHAR" or tok.type == "UNCLOSED_STRING":
                self._bad_token(tok)
                i += 1
                continue
            try:
                state.feed_token(tok)
                if tok.type in ("_NL", "RBRACE"):
                    self.quiet = False
                i += 1
            except UnexpectedToken as e:
                prev = tokens[i - 1] if i else None
                if prev is not None and prev.type == "NAME" and prev.value in _PYTHON_WORDS:
                    tok = prev  # `return y`: the mistake is the Python word, not what follows it
                self._syntax_error(tok, e.expected)
                i = self._recover(state, parse_table, tokens, i)
        # End of input: close whatever is still open so the parts read so far are kept.
        last = tokens[-1] if tokens else None
        end_tok = Token.new_borrow_pos("$END", "", last) if last else Token("$END", "", 0, 1, 1, 1, 1, 0)
        eof_reported = False
        for _ in range(MAX_NESTING + 2):
            try:
                return state.feed_token(end_tok, True)
            except UnexpectedToken as e:
                if not eof_reported:
                    self._eof_error(e.expected)
                eof_reported = True
                if not self._close_one(state, parse_table, end_tok):
                    return None
        return None

    def _bad_token(self, tok):
        if self.quiet:
            return
        self.quiet = True
        if tok.type == "UNCLOSED_STRING":
            self._report("E004", "unterminated string: add the closing quote", Span.of_token(tok))
        else:
            ch = tok.value
            self._report("E002", f"unexpected character {ch!r}", Span.of_token(tok))

    def _syntax_error(self, tok, expected):
        if self.quiet:
            return
        self.quiet = True
        exp = sorted({describe_terminal(t) for t in expected if t not in ("BAD_CHAR", "UNCLOSED_STRING")})
        message = f"unexpected {describe_token(tok)}"
        hint = _hint(tok, set(expected))
        if hint:
            message += f": {hint}"
        elif exp:
            shown = ", ".join(exp[:8]) + (", ..." if len(exp) > 8 else "")
            message += f"; expected {shown}"
        span = Span.of_token(tok)
        if tok.type == "_NL":  # point at the end of the line, not at the next line's indentation
            span = Span(tok.start_pos, tok.start_pos, tok.line, tok.column, tok.line, tok.column)
        self._report("E001", message, span)

    def _eof_error(self, expected):
        self._report("E003", "unexpected end of file: a '}' or ')' is missing", point_at_end(self.text))

    def _recover(self, state, table, tokens, i) -> int:
        """Resume after the error at tokens[i]; returns the index of the next token to feed."""
        if tokens[i].type in _TOP_LEVEL and self._close_before(state, table, tokens[i]):
            return i  # a `network` / `block` / `use` inside a body: its '}' is missing
        depth = 0
        j = i
        n = len(tokens)
        while j < n:
            t = tokens[j].type
            if t in _OPENERS and j > i:
                depth += 1
            elif t in _CLOSERS and depth > 0:
                depth -= 1
            elif depth == 0 and t in ("_NL", "RBRACE", "RPAR", "RSQB"):
                k = _deepest_accepting(table, state.state_stack, t)
                if k is not None:
                    _pop_to(state, k)
                    state.feed_token(tokens[j])
                    if t in ("_NL", "RBRACE"):
                        self.quiet = False
                    return j + 1
                if t == "RBRACE" and depth == 0:
                    # A '}' that no state accepts (stray close): drop it and go on.
                    return j + 1 if j == i else j
            j += 1
        return n

    def _close_before(self, state, table, tok) -> bool:
        """Close open bodies with synthetic '}' until the parser can take the top-level `tok`."""
        from lark import Token

        for _ in range(MAX_NESTING + 2):
            if _would_shift(table, state.state_stack, tok.type):
                self.quiet = False
                return True
            k = _deepest_accepting(table, state.state_stack, "RBRACE")
            if k is None:
                return False
            _pop_to(state, k)
            state.feed_token(Token.new_borrow_pos("RBRACE", "}", tok))
        return False

    def _close_one(self, state, table, end_tok) -> bool:
        """At end of input, pop to a state that accepts '}' / ')' / ']' and feed a synthetic one."""
        from lark import Token

        for closer, value in (("RBRACE", "}"), ("RPAR", ")"), ("RSQB", "]")):
            k = _deepest_accepting(table, state.state_stack, closer)
            if k is not None:
                _pop_to(state, k)
                state.feed_token(Token.new_borrow_pos(closer, value, end_tok))
                return True
        return False


def _deepest_accepting(table, state_stack, token_type):
    """The largest k such that the stack cut to state_stack[:k + 1] shifts token_type.

    Simulated on state numbers alone: trying it on a copy of the parser would run the tree
    callbacks, and Lark's builders extend children lists in place, corrupting the values the
    real stack shares with the copy.
    """
    for k in range(len(state_stack) - 1, -1, -1):
        if token_type in table[state_stack[k]] and _would_shift(table, state_stack[:k + 1], token_type):
            return k
    return None


def _would_shift(table, stack, token_type) -> bool:
    from lark.parsers.lalr_analysis import Shift

    stack = list(stack)
    for _ in range(10_000):
        action = table[stack[-1]].get(token_type)
        if action is None:
            return False
        kind, arg = action
        if kind is Shift:
            return True
        size = len(arg.expansion)
        if size:
            del stack[-size:]
        goto = table[stack[-1]].get(arg.origin.name)
        if goto is None:
            return False
        stack.append(goto[1])
    return False


def _pop_to(state, k: int) -> None:
    """Cut the parser's stacks to their first k + 1 states (and k values)."""
    del state.state_stack[k + 1:]
    del state.value_stack[k:]


_TOP_LEVEL = frozenset(("NETWORK", "BLOCK", "USE"))
_PYTHON_WORDS = frozenset(("def", "class", "return", "while", "import", "from", "lambda", "with", "yield",
                           "pass", "elif", "try", "except", "raise", "del", "global", "print"))


def _hint(tok, expected: set) -> str | None:
    """Name the likely mistake for the common cases."""
    if tok.type in _TOP_LEVEL and "RBRACE" in expected:
        return f"a '}}' is missing before this '{tok.value}'"
    if tok.type == "NAME" and tok.value in _PYTHON_WORDS:
        return f"'{tok.value}' is not part of the language: a .nns file describes a graph, not a program"
    if tok.type in ("NAME", "INT", "FLOAT", "STRING") and "COMMA" in expected and "RPAR" in expected:
        return "missing ',' between arguments?"
    if tok.type in ("_NL", "$END", "RBRACE") and "RPAR" in expected:
        return "missing ')'"
    if tok.type in ("_NL", "$END", "RBRACE") and "RSQB" in expected:
        return "missing ']'"
    if tok.type == "NAME" and "ARROW" in expected and "_NL" in expected:
        return f"missing '->' before '{tok.value}'?"
    if tok.type == "EQUAL" and "COLON" in expected:
        return "use ':' to name a layer (conv1: Conv2d(...)), '=' to name a tensor"
    if tok.type == "ARROW" and "EQUAL" in expected:
        return "a chain must be assigned to a tensor name: y = x -> Layer"
    return None


def parse(text: str) -> ParseResult:
    """Parse text; never raises on bad input (errors come back as diagnostics)."""
    driver = _Driver(text)
    tree = driver.run()
    diags = driver.diags
    module = Module()
    if tree is not None:
        try:
            module, conv_diags = convert_module(tree)
            diags.extend(conv_diags)
        except ConvertError as e:
            diags.append(error("E005", str(e), point_at_end(text)))
    return ParseResult(module, diags)


def parse_expression(text: str):
    """Parse one compile-time expression (used for `{...}` holes in layer-name templates)."""
    result = parse(f"network _ {{\nlet _ = {text}\n}}")
    if result.diagnostics or not result.module.definitions:
        return None, result.diagnostics
    body = result.module.definitions[0].body
    if len(body) != 1:
        return None, result.diagnostics
    return body[0].value, []
