"""Lowering's work accounting: the limit that bounds what a text can ask for, and cancellation.

Every statement run, expression node evaluated and layer applied is charged to a per-network work
counter (`WorkAccounting.spend`). Past the limit, expansion stops with one E503. The same counter
paces cooperative cancellation: the language server hands the analysis a `CancelToken` and sets it
when a newer edit makes the analysis stale; the token is polled every CANCEL_EVERY units (and
between definitions and networks by the callers), so a cancelled analysis stops within a bounded
amount of work. Python threads cannot be killed; this is how a stale analysis is stopped.
"""

from __future__ import annotations

from typing import Optional

from ..syntax import nodes as n

# Work units, per network: a statement run, an expression node evaluated (and 8 elements of a tuple or string
# built), a step applied each cost 1 (~0.35 us); a layer application LAYER_WORK more (binding and inference,
# 5-25 us), failed ones included. The limit is MAX_WORK plus WORK_PER_BYTE for each character of the network's
# definition and of each block definition it expands: what is written out may cost what it costs (a 20,000-layer
# network written in full analyses), what a short text asks for through loops and repetition is cut at ~0.1 s.
MAX_WORK = 200_000
WORK_PER_BYTE = 6
LAYER_WORK = 40
REPORT_WORK = 10
WEIGHT_WORK = 4  # each weight of a layer (its shape built, its size counted)
ASSIGN_WORK = 4  # an assignment's binding, beyond its statement
OUTPUT_WORK = 4  # each result beyond the first (a tensor made, its type built): a Split(4096) costs 16,384
# How often (in work units, ~1-3 ms) a cancel token is polled during lowering.
CANCEL_EVERY = 4_096


class Cancelled(BaseException):
    """The analysis was cancelled: its result is no longer wanted. A BaseException, so that no
    `except Exception` on the way (a layer's rule, a binding) swallows it; never a diagnostic."""

    def __init__(self, work: int = 0):
        super().__init__(f"cancelled after {work:,} work units")
        self.work = work  # units charged in the network being lowered when it stopped


class CancelToken:
    """Set (from any thread) when the analysis' result is no longer wanted. A plain attribute: reading it
    is atomic under the GIL and costs next to nothing, so it can be polled often."""

    __slots__ = ("cancelled",)

    def __init__(self):
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def check(self, work: int = 0) -> None:
        if self.cancelled:
            raise Cancelled(work)


def check(token: Optional[CancelToken]) -> None:
    """Stop here if the token is set (None: never)."""
    if token is not None and token.cancelled:
        raise Cancelled()


class Stop(Exception):
    """Expansion cannot go on (work or node limit): already reported."""


def definition_size(defn: n.Definition) -> int:
    return max(0, defn.span.end - defn.span.start)


class WorkAccounting:
    """The Lowerer's work counter (a mixin: the counter is charged on hot paths, so it lives on the
    Lowerer itself, not behind another object). The Lowerer supplies `report`."""

    cancel: Optional[CancelToken] = None

    def start_work(self, defn: n.Definition) -> None:
        """A new network: the counter from zero, its limit from the network's written size."""
        self.work = 0
        self.where = defn.name.span  # the span of the statement or step last charged
        self.work_limit = MAX_WORK + WORK_PER_BYTE * definition_size(defn)
        self.sized_blocks = set()
        self._next_check()

    def allow_block(self, defn: n.Definition) -> None:
        """A block's written-out work is allowed for, once per network."""
        if id(defn) not in self.sized_blocks:
            self.sized_blocks.add(id(defn))
            self.work_limit += WORK_PER_BYTE * definition_size(defn)
            self._next_check()

    def spend(self, frame, span, amount: int = 1):
        """Charge work; span None (evaluation) charges it to the statement or step being run."""
        if span is None:
            span = self.where
        else:
            self.where = span
        self.work += amount
        if self.work > self.work_check:  # the limit, or sooner when a cancel token is to be polled
            self._checkpoint(frame, span)

    def _next_check(self) -> None:
        self.work_check = self.work_limit if self.cancel is None else min(self.work_limit,
                                                                          self.work + CANCEL_EVERY)

    def _checkpoint(self, frame, span) -> None:
        if self.cancel is not None:
            self.cancel.check(self.work)
        if self.work > self.work_limit:
            self.report(frame, "E503", f"compile-time expansion does more than {self.work_limit:,} steps "
                        f"(loops and repetitions too large?)", span)
            raise Stop()
        self._next_check()
