"""A short seeded fuzzing run (the long campaigns: benchmarks/fuzz.py, recorded in benchmarks/fuzz.md).

600 inputs -- generated programs and mutations of the examples, the shipped library and every .nns snippet
in the tests -- through analyze() and format_text(), and 200 random incremental edits with requests in
between through the language server's document model (tests/fuzz/lsp_model.py). Asserted: no crash, no
hang, well-formed diagnostics, the formatter's properties, no drift between the server's text and the
client's, final diagnostics equal to a fresh analysis -- and no input over TEN times the time budget
(0.3 s of CPU for a file under 20 KB): the budget itself is measured by the campaigns, where a loaded
machine cannot make a test flaky. Deterministic: NNLANG_FUZZ_SEED picks another campaign.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fuzz as the package `fuzz`

from fuzz import run as fuzz_run  # noqa: E402
from fuzz.targets import BUDGET_S  # noqa: E402

SEED = int(os.environ.get("NNLANG_FUZZ_SEED", 19))


def _report(findings) -> str:
    lines = []
    for f in findings[:10]:
        lines.append(f"{f.target} {f.kind}: {f.detail[-800:]}\n  {f.extra}\n  input: {f.text[:300]!r}")
    return "\n".join(lines)


def test_a_short_seeded_campaign():
    res = fuzz_run.run(SEED, 600, lsp_edits=200, edits_per_session=40)
    assert res.inputs == 600 and res.lsp.edits == 200
    # Over budget is measured, not asserted at 1x (CPU time on a shared machine varies); 10x never happens.
    slow = [f for f in res.findings if f.kind == "over_budget" and f.extra["cpu_s"] > 10 * BUDGET_S]
    others = [f for f in res.findings if f.kind != "over_budget"]
    assert not others, _report(others)
    assert not slow, _report(slow)
    # The model really ran: analyses, requests, several sessions.
    assert res.lsp.sessions >= 5 and res.lsp.analyses >= 100 and res.lsp.requests >= 100


def test_inputs_are_reproducible_from_seed_and_index():
    assert fuzz_run.make_input(SEED, 7) == fuzz_run.make_input(SEED, 7)
    assert fuzz_run.make_input(SEED, 7) != fuzz_run.make_input(SEED, 8)
