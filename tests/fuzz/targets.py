"""The properties checked on every input. Each check returns a list of findings (empty: fine) and the CPU
time it took; it never raises for a problem of the code under test (that is a finding, kind "crash")."""

from __future__ import annotations

import contextlib
import re
import signal
import time
import traceback
from dataclasses import dataclass, field

BUDGET_S = 0.3  # CPU seconds for a file under SMALL_BYTES (issue 19); larger files: linear in size
SMALL_BYTES = 20_000
HANG_S = 20.0  # CPU seconds after which an input is abandoned as a hang (a finding, not a stuck campaign)


@dataclass
class Finding:
    target: str  # "analyze", "fmt", "lsp"
    kind: str  # "crash", "over_budget", "hang", "bad_diagnostic", "fmt_changed_tokens", "fmt_not_idempotent", ...
    detail: str
    text: str = ""  # the input (for lsp: the document text where it happened)
    extra: dict = field(default_factory=dict)

    def key(self) -> tuple:
        """What makes two findings the same bug, roughly: target, kind, and the last frame / first line."""
        return self.target, self.kind, self.detail.splitlines()[-1][:160] if self.detail else ""


def size_of(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def budget(text: str) -> float:
    size = size_of(text)
    return BUDGET_S if size < SMALL_BYTES else BUDGET_S * size / SMALL_BYTES


class Hang(BaseException):
    """Raised by the CPU-time alarm inside the code under test (BaseException: no `except Exception` eats it)."""


@contextlib.contextmanager
def cpu_limit(seconds: float):
    """Abandon the block after `seconds` of CPU time (ITIMER_PROF counts this process' CPU, not the wall
    clock, so a loaded machine does not trigger it). Main thread only; a no-op elsewhere."""
    try:
        old = signal.signal(signal.SIGPROF, _raise_hang)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def _raise_hang(signum, frame):
    raise Hang()


def _crash(target: str, text: str, e: BaseException) -> Finding:
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    frames = [ln for ln in tb if ln.startswith('  File "')]
    where = frames[-1].strip().splitlines()[0] if frames else ""
    return Finding(target, "crash", "".join(tb[-12:]) + f"\n{type(e).__name__} at {where}", text)


# ---- analyze ----------------------------------------------------------------------------------------

def check_diagnostics(analysis, text: str, path) -> list[str]:
    """Each diagnostic well formed: a known code, a message, a span inside the document."""
    from nnlang.diagnostics import CODES

    problems = []
    n_lines = len(_LINE_END.findall(text)) + 1  # as LSP and the parser count them: \r\n, \r, \n
    for d in analysis.diagnostics:
        s = d.span
        if d.code not in CODES:
            problems.append(f"unknown code {d.code}")
        if not d.message.strip():
            problems.append(f"{d.code}: empty message")
        if not (0 <= s.start <= s.end and 1 <= s.line <= s.end_line and s.column >= 1 and s.end_column >= 1
                and (s.end_line, s.end_column) >= (s.line, s.column)):
            problems.append(f"{d.code}: malformed span {s}")
        if d.path == path and (s.end > len(text) or s.end_line > n_lines):
            problems.append(f"{d.code}: span {s} outside the document ({len(text)} chars, {n_lines} lines)")
    return problems


def check_analyze(text: str, path=None) -> tuple[list, float]:
    from nnlang.analyze import Analysis, analyze

    t0 = time.process_time()
    try:
        with cpu_limit(HANG_S):
            result = analyze(text, path=path)
    except Hang:
        return [Finding("analyze", "hang", f"more than {HANG_S} s of CPU", text)], time.process_time() - t0
    except BaseException as e:  # noqa: BLE001 -- everything is a finding, RecursionError and MemoryError too
        if isinstance(e, KeyboardInterrupt):
            raise
        return [_crash("analyze", text, e)], time.process_time() - t0
    dt = time.process_time() - t0
    findings = []
    if not isinstance(result, Analysis):
        findings.append(Finding("analyze", "crash", f"returned {type(result).__name__}", text))
        return findings, dt
    problems = check_diagnostics(result, text, path)
    if problems:
        findings.append(Finding("analyze", "bad_diagnostic", "; ".join(problems[:5]), text))
    if dt > budget(text):
        findings.append(Finding("analyze", "over_budget", f"{dt:.3f} s CPU for {size_of(text)} bytes", text,
                                {"cpu_s": dt}))
    return findings, dt


# ---- fmt ----------------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_LINE_END = re.compile(r"\r\n|\r|\n")


def _code_tokens(text: str) -> list:
    """The code tokens (type, value) THE lexer gives, newlines left out: what must survive formatting."""
    from nnlang.syntax.grammar import lark_parser, lsp_line_ends

    return [(t.type, t.value.rstrip(" \t\f\r\v") if t.type == "COMMENT" else t.value)
            for t in lark_parser().lex(lsp_line_ends(text), dont_ignore=True)
            if t.type != "_NL" and not t.type.startswith("__IGNORE")]


def check_format(text: str) -> tuple[list, float]:
    """format_text never raises; on an error it returns the input unchanged; otherwise its output parses
    without errors, formats to itself, and equals the input up to whitespace (same characters once all
    whitespace is removed, same code tokens and comments)."""
    from nnlang.syntax import parse
    from nnlang.syntax.format import format_text

    t0 = time.process_time()
    try:
        with cpu_limit(HANG_S):
            r = format_text(text)
    except Hang:
        return [Finding("fmt", "hang", f"more than {HANG_S} s of CPU", text)], time.process_time() - t0
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        return [_crash("fmt", text, e)], time.process_time() - t0
    dt = time.process_time() - t0
    findings = []
    if dt > budget(text):
        findings.append(Finding("fmt", "over_budget", f"{dt:.3f} s CPU for {size_of(text)} bytes", text,
                                {"cpu_s": dt}))
    if r.error is not None:
        if r.text != text or r.changed:
            findings.append(Finding("fmt", "error_but_changed", r.error, text))
        elif "internal error" in r.error:  # the formatter's own token-stream check refused its result
            findings.append(Finding("fmt", "fmt_self_check_refused", r.error, text))
        return findings, dt
    new = r.text
    if r.changed != (new != text):
        findings.append(Finding("fmt", "wrong_changed_flag", f"changed={r.changed}", text))
    if new == text:  # already canonical: the checks below would repeat the call just made
        return findings, dt
    try:
        with cpu_limit(HANG_S):
            errors = [d for d in parse(new).diagnostics if d.is_error]
            again = format_text(new)
            same_tokens = _code_tokens(new) == _code_tokens(text)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        return findings + [_crash("fmt", new, e)], dt
    if errors:
        findings.append(Finding("fmt", "output_does_not_parse", f"{errors[0].code}: {errors[0].message}", text))
    if again.error is not None or again.text != new:
        findings.append(Finding("fmt", "fmt_not_idempotent", again.error or "second format differs", text))
    if _WS.sub("", new) != _WS.sub("", text):
        findings.append(Finding("fmt", "fmt_changed_text", "the text differs beyond whitespace", text))
    elif not same_tokens:
        findings.append(Finding("fmt", "fmt_changed_tokens", "the token stream differs", text))
    return findings, dt
