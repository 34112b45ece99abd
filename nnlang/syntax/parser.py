"""Parse .nns text into a syntax tree, recovering from syntax errors.

Lark's LALR parser is driven token by token. On an error we record one diagnostic, then
resynchronise: find the nearest following token that can end the broken construct (a newline,
`}` or a closing bracket), pop the parser's state stack until a state accepts it, and go on.
Any prefix of an LR stack is a valid parser configuration, so popping never corrupts the parse;
the broken statement is dropped and the rest of the file is analysed as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Related, error
from ..span import Span, point_at_end
from .convert import ConvertError, convert_module
from .grammar import lark_parser, lsp_line_ends
from .nodes import Module
from .tokens import lark_tokens

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
    # past_newlines[i]: the first token at or after i that is no newline (one pass: a run of 27,000 comment
    # lines was scanned again from each of its newlines, quadratic)
    past_newlines = [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        past_newlines[i] = past_newlines[i + 1] if tokens[i].type == "_NL" else i
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
            after = past_newlines[i + 1]  # a comment line between: two newlines
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


# How often (in tokens: ~10-60 ms of lexing or parsing) a cancel token is polled while parsing. Parsing 1 MB of
# written-out layers takes seconds (lexing, LALR, the tree's conversion about a third each).
CANCEL_EVERY_TOKENS = 4_096


def _polled(tokens, cancel):
    """The lexer's tokens, the cancel token polled every CANCEL_EVERY_TOKENS of them."""
    for k, tok in enumerate(tokens):
        if not k % CANCEL_EVERY_TOKENS:
            cancel.check()
        yield tok


class _Driver:
    def __init__(self, text: str, cancel=None):
        self.text = lsp_line_ends(text)
        self.diags: list[Diagnostic] = []
        self.lark = lark_parser()
        self.cancel = cancel  # a CancelToken (nnlang.ir.work), duck-typed: `check()` raises when it is set
        # Errors are not reported again until the parser has consumed a statement end after recovery.
        self.quiet = False

    def _report(self, code: str, message: str, span: Span, related=()):
        if len(self.diags) < MAX_SYNTAX_ERRORS:
            self.diags.append(error(code, message, span, related))

    def run(self):
        from lark import Token
        from lark.exceptions import UnexpectedToken

        cancel = self.cancel
        lexed = lark_tokens(self.text)
        raw = list(lexed if cancel is None else _polled(lexed, cancel))
        tokens = _filter_newlines(raw)
        ip = self.lark.parse_interactive(self.text)
        state = ip.parser_state
        parse_table = state.parse_conf.states
        depth = 0
        i = 0
        n = len(tokens)
        steps = 0
        while i < n:
            if cancel is not None:
                steps += 1
                if not steps % CANCEL_EVERY_TOKENS:
                    cancel.check()
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
                habit = self._pytorch_habit(state, parse_table, tokens, i)
                if habit is not None:
                    tokens, i = habit
                    n = len(tokens)
                    continue
                if prev is not None and prev.type == "NAME" and prev.value in _PYTHON_WORDS:
                    tok = prev  # `return y`: the mistake is the Python word, not what follows it
                self._syntax_error(tok, e.expected, tokens, i)
                i = self._recover(state, parse_table, tokens, i)
        # End of input: close whatever is still open so the parts read so far are kept.
        last = tokens[-1] if tokens else None
        end_tok = Token.new_borrow_pos("$END", "", last) if last else Token("$END", "", 0, 1, 1, 1, 1, 0)
        eof_reported = False
        for _ in range(MAX_NESTING + 2):
            try:
                return state.feed_token(end_tok, True)
            except UnexpectedToken:
                if not eof_reported:
                    self._eof_error(tokens)
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

    def _pytorch_habit(self, state, table, tokens, i):
        """Python / PyTorch spellings with one obvious meaning: report, rewrite the tokens, go on.

        `return y` reads as `output y`, `nn.Conv2d` as `Conv2d`, `y = Conv2d(16, 3)(x)` as
        `y = x -> Conv2d(16, 3)`, so the statement is kept and nothing follows from the mistake
        (no missing output, no unused tensor). Returns (tokens, index to feed next) or None."""
        from lark import Token

        tok, prev = tokens[i], tokens[i - 1] if i else None
        if prev is None or prev.type != "NAME" or not state.value_stack or state.value_stack[-1] is not prev:
            return None
        popped = state.state_stack[:-1]
        if prev.value == "return" and _names_to_end(tokens, i) and _would_shift(table, popped, "OUTPUT"):
            self._habit("'return' is not part of the language: a network names its results with "
                        f"`output {tok.value}`", prev, prev, state)
            return tokens[:i - 1] + [Token.new_borrow_pos("OUTPUT", "output", prev)] + tokens[i:], i - 1
        if tok.type == "DOT":
            end = i - 1  # NAME (DOT NAME)*: the last name is the layer
            while end + 2 < len(tokens) and tokens[end + 1].type == "DOT" and tokens[end + 2].type == "NAME":
                end += 2
            if end == i - 1 or not _would_shift(table, popped, "NAME"):
                return None
            layer = tokens[end]
            self._habit(f"`{self.text[prev.start_pos:layer.end_pos]}`: layers are written without a module "
                        f"prefix: write `{layer.value}`", prev, layer, state)
            return tokens[:i - 1] + tokens[end:], i - 1
        before = tokens[i - 2] if i >= 2 else None
        if tok.type == "LPAR" and before is not None and before.type == "EQUAL":
            close = _matching(tokens, i)
            if close is None or close + 1 >= len(tokens) or tokens[close + 1].type != "LPAR":
                return None
            end = _matching(tokens, close + 1)
            inner = tokens[close + 2:end] if end is not None else []
            if not inner or any(t.type != ("NAME" if k % 2 == 0 else "COMMA") for k, t in enumerate(inner)) \
                    or len(inner) % 2 == 0 or not _would_shift(table, popped, "NAME"):
                return None
            source = inner if len(inner) == 1 else tokens[close + 1:end + 1]
            call = self.text[prev.start_pos:tokens[close].end_pos]
            names = self.text[inner[0].start_pos:inner[-1].end_pos]
            names = names if len(inner) == 1 else f"({names})"
            self._habit(f"`{self.text[prev.start_pos:tokens[end].end_pos]}`: layers are not called on tensors; "
                        f"a chain starts from its input: write `{names} -> {call}`", prev, tokens[end], state)
            arrow = Token.new_borrow_pos("ARROW", "->", tokens[close + 1])
            return tokens[:i - 1] + source + [arrow] + tokens[i - 1:close + 1] + tokens[end + 1:], i - 1
        return None

    def _habit(self, message: str, first, last, state):
        """Report (unless recovering from an earlier error) and take back the shifted name."""
        if not self.quiet:
            self._report("E001", message, Span(first.start_pos, last.end_pos, first.line, first.column,
                                                last.end_line, last.end_column))
        del state.state_stack[-1]
        del state.value_stack[-1]

    def _syntax_error(self, tok, expected, tokens=(), i=0):
        if self.quiet:
            return
        self.quiet = True
        exp = sorted({describe_terminal(t) for t in expected if t not in ("BAD_CHAR", "UNCLOSED_STRING")})
        message = f"unexpected {describe_token(tok)}"
        closer = next((c for c in ("RPAR", "RSQB") if c in expected), None)
        opener = _unclosed(tokens, i, closer) if closer and tok.type in _ENDS_ARGUMENTS else None
        if opener is not None:
            # Point at the bracket left open; the place where its closer was due is the related location.
            # No line:col in the text: the incremental analyzer moves spans, never messages.
            where = "by the end of the line" if tok.type == "_NL" else f"before {describe_token(tok)}"
            self._report("E001", f"missing '{_CLOSE_TEXT[closer]}': this '{opener.value}' is not closed {where}",
                         Span.of_token(opener),
                         [Related(Span.of_token(tok), f"'{_CLOSE_TEXT[closer]}' expected here")])
            return
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

    def _eof_error(self, tokens):
        opener = _unclosed(tokens, len(tokens), None)
        k = next((k for k, t in enumerate(tokens) if t is opener), 0)
        after = f" after '{tokens[k - 1].value}'" if k and tokens[k - 1].type == "NAME" else ""
        if opener is None:
            self._report("E003", "unexpected end of file: a '}' or ')' is missing", point_at_end(self.text))
            return
        closer = _CLOSE_TEXT[_OPENERS[opener.type]]
        self._report("E003", f"unexpected end of file: missing '{closer}' to close the '{opener.value}'{after}",
                     point_at_end(self.text),
                     [Related(Span.of_token(opener), f"this '{opener.value}' is not closed")])

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
# Tokens that cannot go on an argument list or a `[...]`: meeting one there means its closer is missing.
_ENDS_ARGUMENTS = frozenset(("ARROW", "_NL", "$END", "RBRACE", "LBRACE", "INPUT", "OUTPUT", "LET", "IF", "FOR"))
_CLOSE_TEXT = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}


def _unclosed(tokens, i: int, closer):
    """The innermost bracket opened before tokens[i] and not closed (of the kind `closer` closes, if given)."""
    depth = 0
    for k in range(min(i, len(tokens)) - 1, -1, -1):
        t = tokens[k].type
        if t in _CLOSERS:
            depth += 1
        elif t in _OPENERS:
            if depth == 0:
                return tokens[k] if closer is None or _OPENERS[t] == closer else None
            depth -= 1
    return None


def _names_to_end(tokens, i: int) -> bool:
    """tokens[i:] begin with `name (, name)*` that ends the statement: what `output` takes."""
    k = i
    while k < len(tokens) and tokens[k].type == "NAME":
        k += 1
        if k < len(tokens) and tokens[k].type == "COMMA":
            k += 1
        else:
            break
    return k > i and tokens[k - 1].type == "NAME" and (k == len(tokens) or tokens[k].type in ("_NL", "RBRACE"))


def _matching(tokens, i: int):
    """The index of the bracket closing the one at tokens[i], or None."""
    depth = 0
    for k in range(i, len(tokens)):
        t = tokens[k].type
        if t in _OPENERS:
            depth += 1
        elif t in _CLOSERS:
            depth -= 1
            if depth == 0:
                return k if _OPENERS[tokens[i].type] == t else None
        elif t == "_NL" and depth and tokens[i].type != "LBRACE":
            return None
    return None
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


def parse(text: str, cancel=None) -> ParseResult:
    """Parse text; never raises on bad input (errors come back as diagnostics). `cancel`: a CancelToken
    (nnlang.ir.work) polled while lexing, parsing and converting: set, the parse stops with Cancelled."""
    driver = _Driver(text, cancel)
    tree = driver.run()
    diags = driver.diags
    module = Module()
    if tree is not None:
        try:
            module, conv_diags = convert_module(tree, cancel)
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
