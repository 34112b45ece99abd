"""Lowering's work accounting: the limit that bounds what a text can ask for, and cancellation.

Every statement run, expression node evaluated and layer applied is charged to a per-network work
counter (`WorkAccounting.spend`). Past the limit, expansion stops with one E503. A network's limit is its
own (from its written size) or what is left of the file's budget (`file_budget`), whichever is smaller:
the networks are lowered in file order, each spending from the file's budget, and once it is spent the
networks that follow get one E503 each instead of analysis -- so a file of many small bombs costs what its
size allows, not that times the number of networks. The budget counts work units, never time, so the
incremental analyzer replays it exactly (what each network spent is kept with its cached graph). The same counter
paces cooperative cancellation: the language server hands the analysis a `CancelToken` and sets it
when a newer edit makes the analysis stale; the token is polled every CANCEL_EVERY units (and
between definitions and networks by the callers), so a cancelled analysis stops within a bounded
amount of work. Python threads cannot be killed; this is how a stale analysis is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
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
# The file's budget: MAX_WORK plus WORK_PER_BYTE per character of the file and of every block it imports. A
# single network's own limit never exceeds it (its text and its blocks' are within those), so only files
# of several networks can meet it.
FILE_MESSAGE = f"a file may ask for {MAX_WORK:,} steps plus {WORK_PER_BYTE} per character"
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


def file_budget(text_size: int, blocks: dict) -> int:
    """The work all the networks of a file may do together: from its size in characters and the sizes of
    the blocks it imports (`blocks`: name -> BlockDef; path None for the file's own, counted in its size)."""
    imported = sum(definition_size(b.defn) for b in blocks.values() if b.path is not None)
    return MAX_WORK + WORK_PER_BYTE * (text_size + imported)


@dataclass(frozen=True)
class WorkRecord:
    left: Optional[int]  # what was left of the file's budget when the network started (None: no file budget)
    work: int  # the units it spent
    stopped: Optional[str]  # None, "own", "file", "skipped" (WorkAccounting.stopped)
    limit: int  # its limit when it ended

    def same_outcome(self, left: Optional[int]) -> bool:
        """Whether lowering the same network (same definitions) again with `left` of the file's budget
        would give what this run gave: the incremental analyzer's test for reusing a graph when the
        networks above it, or the file's size, changed. Exact: a run stops at the first charge past its
        limit (min(own limit so far, left)), and a message names only the limit it reached."""
        if left == self.left:
            return True
        if left is None or self.left is None or self.stopped == "file":
            return False
        if self.stopped is None:  # every charge was within the work done, so within `left` too
            return self.work <= left
        if self.stopped == "own":  # its own limit stopped it, and `left` is still no smaller
            return left >= self.limit
        return left <= 0  # skipped, and would be again


def lower_in_budget(lowerer, defn: n.Definition, left: int, overrides=None, inputs=None):
    """lowerer.lower_network(defn, ...) with `left` of the file's budget; returns (graph, WorkRecord)."""
    lowerer.budget_left = left
    try:
        graph = lowerer.lower_network(defn, overrides, inputs)
    finally:
        lowerer.budget_left = None
    return graph, lowerer.record()


class WorkAccounting:
    """The Lowerer's work counter (a mixin: the counter is charged on hot paths, so it lives on the
    Lowerer itself, not behind another object). The Lowerer supplies `report`."""

    cancel: Optional[CancelToken] = None
    # What is left of the file's budget for the next network lowered (set by the caller, see lower_in_budget;
    # None: only the network's own limit applies).
    budget_left: Optional[int] = None

    def start_work(self, defn: n.Definition) -> None:
        """A new network: the counter from zero, its own limit from the network's written size, and no more
        than what is left of the file's budget."""
        self.work = 0
        self.where = defn.name.span  # the span of the statement or step last charged
        self.network_name = defn.name
        self.own_limit = MAX_WORK + WORK_PER_BYTE * definition_size(defn)
        self.work_left = self.budget_left
        # Why the network stopped: None (it did not, or not for work), "own" (its own limit), "file" (the file's
        # budget), "skipped" (none was left). With `work`, what the incremental analyzer needs to replay it.
        self.stopped = None
        self.sized_blocks = set()
        self._set_limit()

    def allow_block(self, defn: n.Definition) -> None:
        """A block's written-out work is allowed for, once per network."""
        if id(defn) not in self.sized_blocks:
            self.sized_blocks.add(id(defn))
            self.own_limit += WORK_PER_BYTE * definition_size(defn)
            self._set_limit()

    def _set_limit(self) -> None:
        left = self.work_left
        if left is not None and left <= 0:
            self.work_limit = -1  # none left: stop at the first step, whatever it charges
        else:
            self.work_limit = self.own_limit if left is None or left >= self.own_limit else left
        self._next_check()

    def record(self) -> "WorkRecord":
        """What this network's lowering spent and why it stopped, for the incremental analyzer."""
        return WorkRecord(self.work_left, self.work, self.stopped, self.work_limit)

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
            if self.work_left is not None and self.work_left <= 0:  # at its first step: not analysed at all
                self.stopped = "skipped"
                name = self.network_name
                self.report(frame, "E503", f"network {name.id} is not analysed: the networks above it use all of "
                            f"this file's work budget ({FILE_MESSAGE}); split the file, or make their loops "
                            f"and repetitions smaller", name.span)
            elif self.work_limit < self.own_limit:  # the file's budget binds (its total is left out: see same_outcome)
                self.stopped = "file"
                self.report(frame, "E503", f"compile-time expansion does more than {self.work_limit:,} steps, what "
                            f"is left of this file's work budget after the networks above ({FILE_MESSAGE})", span)
            else:
                self.stopped = "own"
                self.report(frame, "E503", f"compile-time expansion does more than {self.work_limit:,} steps "
                            f"(loops and repetitions too large?)", span)
            raise Stop()
        self._next_check()
