"""A campaign: N inputs through analyze() and format_text(), M edits through the language server's
document model. Input i of a campaign with seed S is made by `random.Random(f"{S}:{i}")` alone, so
`make_input(S, i)` reproduces it (on the same tree: the corpus is read from the files)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from . import corpus as corpus_mod
from .generate import program
from .lsp_model import Stats, rss_mb, run_session
from .mutate import mutate
from .targets import check_analyze, check_format


def make_input(seed: int, i: int) -> tuple[str, str]:
    """(how it was made, text) of input i of the campaign with this seed."""
    rng = random.Random(f"{seed}:{i}")
    seeds = corpus_mod.seeds()
    r = rng.random()
    if r < 0.35:
        return "generated", program(rng)
    if r < 0.5:
        text = program(rng)
        text, names = mutate(rng, text, seeds)
        return "generated+" + ",".join(names), text
    name, text = seeds[rng.randrange(len(seeds))]
    text, names = mutate(rng, text, seeds)
    return f"{name}+" + ",".join(names), text


def session_input(seed: int, k: int) -> tuple[random.Random, str]:
    rng = random.Random(f"{seed}:lsp:{k}")
    seeds = corpus_mod.seeds()
    r = rng.random()
    if r < 0.5:
        files = [s for s in seeds if s[0].endswith(".nns")]
        return rng, rng.choice(files)[1]
    if r < 0.8:
        return rng, program(rng)
    return rng, mutate(rng, rng.choice(seeds)[1], seeds)[0]


@dataclass
class Result:
    seed: int
    inputs: int = 0
    bytes: int = 0
    analyze_times: list = field(default_factory=list)
    fmt_times: list = field(default_factory=list)
    sizes: list = field(default_factory=list)  # bytes of each input (UTF-8)
    over_20kb: int = 0
    findings: list = field(default_factory=list)
    lsp: Stats = field(default_factory=Stats)
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0


def run(seed: int, inputs: int, lsp_edits: int = 0, edits_per_session: int = 40, start: int = 0,
        progress=None, on_finding=None) -> Result:
    """Inputs start..start+inputs-1 of the seed's campaign through analyze and fmt, then lsp_edits edits in
    sessions of edits_per_session."""
    from nnlang.analyze import analyze

    analyze("network A {\n    input x: [N, 4]\n    output x\n}\n")  # grammar and registry built before timing
    res = Result(seed=seed, rss_start_mb=rss_mb())
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(start, start + inputs):
        how, text = make_input(seed, i)
        res.inputs += 1
        res.bytes += len(text)
        res.sizes.append(len(text.encode("utf-8", "surrogatepass")))
        res.over_20kb += res.sizes[-1] >= 20_000
        found, dt = check_analyze(text, path=None if i % 3 else "/fuzz/input.nns")
        res.analyze_times.append(dt)
        f2, dt2 = check_format(text)
        res.fmt_times.append(dt2)
        for f in found + f2:
            f.extra.update(seed=seed, index=i, how=how)
            res.findings.append(f)
            if on_finding:
                on_finding(f)
        if progress and (i - start + 1) % 1000 == 0:
            progress(res, i - start + 1)
    k = 0
    seeds = corpus_mod.seeds()
    while res.lsp.edits < lsp_edits:
        rng, text = session_input(seed, start + k)
        before = len(res.findings)
        run_session(rng, text, seeds, min(edits_per_session, lsp_edits - res.lsp.edits), res.lsp, res.findings)
        for f in res.findings[before:]:
            f.extra.update(seed=seed, session=start + k)
            if on_finding:
                on_finding(f)
        k += 1
    res.rss_end_mb = rss_mb()
    res.wall_s = time.perf_counter() - w0
    res.cpu_s = time.process_time() - c0
    return res
