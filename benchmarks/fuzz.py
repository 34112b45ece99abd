"""Fuzzing campaigns over analyze(), format_text() and the language server's document model (issue 19).

The harness is tests/fuzz/ (see its __init__); this script runs it in chunks and records the results.

    python benchmarks/fuzz.py run --seed 101 --inputs 20000 --lsp-edits 4000 --out /tmp/fuzz/chunk-101.json
    python benchmarks/fuzz.py report /tmp/fuzz/chunk-*.json      # writes benchmarks/fuzz.json and fuzz.md
    python benchmarks/fuzz.py show --seed 101 --index 4711       # print one input (repr)
    python benchmarks/fuzz.py check --seed 101 --index 4711      # run the checks on it again
    python benchmarks/fuzz.py minimise --seed 101 --index 4711 --kind over_budget --target analyze
    python benchmarks/fuzz.py atheris --runs 20000                # coverage-guided (needs `pip install atheris`)
    python benchmarks/fuzz.py importers --seed 3 --inputs 4000 --out /tmp/fuzz/imp-3.json  # the importers

Run long campaigns with `nice` (the checks time each input in CPU seconds, time.process_time, so a
loaded machine does not make an input over budget). Input i of seed S depends on (S, i) and the tree only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/fuzz as the package `fuzz` (before this script's own folder)
sys.path.insert(1, str(ROOT))
if "fuzz" in sys.modules and not hasattr(sys.modules["fuzz"], "__path__"):
    del sys.modules["fuzz"]

from fuzz import run as fuzz_run  # noqa: E402
from fuzz.targets import BUDGET_S, check_analyze, check_format  # noqa: E402


def _pct(values: list, q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def cmd_run(args) -> None:
    def progress(res, done):
        print(f"seed {args.seed}: {done} inputs, {len(res.findings)} findings, "
              f"{res.analyze_times and max(res.analyze_times):.3f} s max", file=sys.stderr, flush=True)

    def on_finding(f):  # as it happens: a long chunk shows its findings before it ends
        print(f"FINDING {f.target} {f.kind} {f.extra}: {f.detail[-300:]!r}", file=sys.stderr, flush=True)

    res = fuzz_run.run(args.seed, args.inputs, lsp_edits=args.lsp_edits, start=args.start, progress=progress,
                       on_finding=on_finding)
    lsp = res.lsp
    out = {
        "seed": res.seed, "start": args.start, "inputs": res.inputs, "bytes": res.bytes, "over_20kb": res.over_20kb,
        "analyze": _times(res.analyze_times, res.sizes), "fmt": _times(res.fmt_times, res.sizes),
        "lsp": {"sessions": lsp.sessions, "edits": lsp.edits, "analyses": lsp.analyses, "requests": lsp.requests,
                "cpu_s": round(lsp.cpu_s, 2), "analysis": _times(lsp.analysis_times),
                "rss_mb_min": round(min(lsp.rss_mb, default=0), 1), "rss_mb_max": round(max(lsp.rss_mb, default=0), 1)},
        "rss_start_mb": round(res.rss_start_mb, 1), "rss_end_mb": round(res.rss_end_mb, 1),
        "wall_s": round(res.wall_s, 1), "cpu_s": round(res.cpu_s, 1),
        "findings": [{"target": f.target, "kind": f.kind, "detail": f.detail[-2000:], "extra": f.extra,
                      "text": f.text if len(f.text) < 30_000 else f.text[:30_000] + "...(cut)"} for f in res.findings],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    print(f"seed {args.seed}: {res.inputs} inputs, {lsp.edits} edits, {len(res.findings)} findings, "
          f"{res.cpu_s:.0f} s CPU", file=sys.stderr)


def _times(ts: list, sizes=None) -> dict:
    out = {"n": len(ts), "cpu_s": round(sum(ts), 2), "max_s": round(max(ts, default=0), 4),
           "p99_s": round(_pct(ts, 0.99), 4), "p50_s": round(_pct(ts, 0.5), 4)}
    if sizes is not None:  # under 20 KB against the budget; larger ones per 20 KB (their budget is linear)
        small = [t for t, b in zip(ts, sizes) if b < 20_000]
        large = [t * 20_000 / b for t, b in zip(ts, sizes) if b >= 20_000]
        out.update(max_small_s=round(max(small, default=0), 4), p99_small_s=round(_pct(small, 0.99), 4),
                   max_large_s_per_20kb=round(max(large, default=0), 4),
                   over_budget=sum(t > BUDGET_S for t in small) + sum(t > BUDGET_S for t in large))
    return out


def cmd_report(args) -> None:
    chunks = [json.loads(Path(p).read_text()) for f in args.chunks for p in sorted(glob.glob(f))]
    chunks.sort(key=lambda c: (c["seed"], c["start"]))
    tot = {k: sum(c[k] for c in chunks) for k in ("inputs", "bytes", "over_20kb", "wall_s", "cpu_s")}
    edits = sum(c["lsp"]["edits"] for c in chunks)
    findings = [f for c in chunks for f in c["findings"]]
    kinds: dict = {}
    for f in findings:
        kinds[(f["target"], f["kind"])] = kinds.get((f["target"], f["kind"]), 0) + 1

    def agg(key):
        out = {"n": sum(c[key]["n"] for c in chunks), "cpu_s": round(sum(c[key]["cpu_s"] for c in chunks), 1),
               "max_s": max(c[key]["max_s"] for c in chunks), "p99_s": max(c[key]["p99_s"] for c in chunks)}
        for k in ("max_small_s", "p99_small_s", "max_large_s_per_20kb", "over_budget"):
            if all(k in c[key] for c in chunks):
                out[k] = (sum if k == "over_budget" else max)(c[key][k] for c in chunks)
        return out

    an, fm = agg("analyze"), agg("fmt")
    la = {"n": sum(c["lsp"]["analysis"]["n"] for c in chunks),
          "cpu_s": round(sum(c["lsp"]["analysis"]["cpu_s"] for c in chunks), 1),
          "max_s": max(c["lsp"]["analysis"]["max_s"] for c in chunks),
          "p99_s": max(c["lsp"]["analysis"]["p99_s"] for c in chunks)}
    summary = {"commit": _commit(), "chunks": [{k: c[k] for k in c if k != "findings"} for c in chunks],
               "totals": tot, "analyze": an, "fmt": fm, "lsp_edits": edits, "lsp_analysis": la,
               "lsp_requests": sum(c["lsp"]["requests"] for c in chunks),
               "lsp_sessions": sum(c["lsp"]["sessions"] for c in chunks),
               "lsp_cpu_s": round(sum(c["lsp"]["cpu_s"] for c in chunks), 1),
               "rss_mb_max": max(max(c["lsp"]["rss_mb_max"], c["rss_end_mb"]) for c in chunks),
               "findings": {f"{t}/{k}": n for (t, k), n in sorted(kinds.items())}}
    if args.note:
        summary = {"note": args.note, **summary}
    path = ROOT / "benchmarks" / "fuzz.json"
    # The new campaign is the file's top level; the campaigns recorded before it are kept under "older"
    # (newest first): the generator changes, so an older campaign does not replay by index on today's tree.
    previous = json.loads(path.read_text()) if path.is_file() else {}
    older = previous.pop("older", [])
    if previous and (previous.get("commit"), previous.get("totals")) != (summary["commit"], summary["totals"]):
        previous.setdefault("note", f"an older campaign, on commit {previous.get('commit')}: its inputs were made by "
                                    "the generator of that commit")
        older.insert(0, previous)
    summary["older"] = older
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("chunks", "older")}, indent=1))
    print(_table(summary))


def _table(s: dict) -> str:
    """The campaign's figures as the Markdown table benchmarks/fuzz.md shows."""
    an, fm, la = s["analyze"], s["fmt"], s["lsp_analysis"]
    seeds = ", ".join(str(c["seed"]) for c in s["chunks"])
    crashes = sum(n for k, n in s["findings"].items() if not k.endswith("/over_budget"))
    over = sum(n for k, n in s["findings"].items() if k.endswith("/over_budget"))
    rows = [
        "| target | inputs | CPU | max per input (< 20 KB; larger: per 20 KB) | p99 (< 20 KB) | findings |",
        "|---|---|---|---|---|---|",
        f"| analyze | {an['n']:,} | {an['cpu_s']:,.0f} s | {_max(an)} | {an.get('p99_small_s', an['p99_s']):.3f} s | "
        f"{_count(s, 'analyze')} |",
        f"| fmt (format_text) | {fm['n']:,} | {fm['cpu_s']:,.0f} s | {_max(fm)} | "
        f"{fm.get('p99_small_s', fm['p99_s']):.3f} s | {_count(s, 'fmt')} |",
        f"| language server model | {s['lsp_edits']:,} edits, {s['lsp_requests']:,} requests, {s['lsp_sessions']:,} "
        f"sessions | {s['lsp_cpu_s']:,.0f} s | {la['max_s']:.3f} s per analysis | {la['p99_s']:.3f} s | "
        f"{_count(s, 'lsp')} |",
    ]
    return "\n".join(rows) + (f"\n\nseeds {seeds}; {s['totals']['inputs'] + s['lsp_edits']:,} inputs in all; "
                              f"{crashes} crashes or property failures, {over} over budget; "
                              f"{s['totals']['over_20kb']:,} inputs of 20 KB or more (budget linear in size); "
                              f"RSS max {s['rss_mb_max']:.0f} MB; commit {s['commit']}")


def _max(t: dict) -> str:
    if "max_small_s" not in t:
        return f"{t['max_s']:.3f} s (all sizes)"
    return f"{t['max_small_s']:.3f} s; {t['max_large_s_per_20kb']:.3f} s"


def _count(s: dict, target: str) -> str:
    items = [f"{k.split('/')[1]} {n}" for k, n in s["findings"].items() if k.startswith(target + "/")]
    return ", ".join(items) or "0"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def cmd_show(args) -> None:
    how, text = fuzz_run.make_input(args.seed, args.index)
    print(how)
    print(repr(text))


def cmd_check(args) -> None:
    how, text = fuzz_run.make_input(args.seed, args.index)
    path = None if args.index % 3 else "/fuzz/input.nns"
    for check in (lambda s: check_analyze(s, path), check_format):
        findings, dt = check(text)
        print(f"{dt:.3f} s", [(f.target, f.kind, f.detail[-300:]) for f in findings])


def cmd_minimise(args) -> None:
    from fuzz.minimise import minimise, same_failure

    if args.file:
        text = Path(args.file).read_text(encoding="utf-8", errors="surrogateescape")
    else:
        text = fuzz_run.make_input(args.seed, args.index)[1]
    check = (lambda s: check_analyze(s)[0]) if args.target == "analyze" else (lambda s: check_format(s)[0])
    fails = same_failure(check, args.kind, args.target)
    if not fails(text):
        sys.exit("the input does not fail that way")
    print(repr(minimise(text, fails, args.tries)))


def cmd_atheris(args) -> None:
    """Coverage-guided fuzzing of analyze + format_text with atheris, from the corpus, with the harness'
    mutations as the custom mutator (found inputs are checked by the same properties)."""
    import random

    import atheris

    from fuzz.corpus import seeds
    from fuzz.mutate import mutate

    corpus = seeds()
    with atheris.instrument_imports():
        import nnlang.analyze  # noqa: F401
        import nnlang.syntax.format  # noqa: F401

    def test_one(data: bytes):
        text = data.decode("utf-8", "surrogatepass") if data else ""
        found = check_analyze(text)[0] + check_format(text)[0]
        for f in found:
            if f.kind not in ("over_budget",) or f.extra.get("cpu_s", 0) > 10 * BUDGET_S:
                raise AssertionError(f"{f.target} {f.kind}: {f.detail[-500:]}\n{text!r}")

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        text = data.decode("utf-8", "surrogatepass") if data else rng.choice(corpus)[1]
        out = mutate(rng, text, corpus)[0].encode("utf-8", "surrogatepass")
        return out[:max_size] if len(out) > max_size else out

    corpus_dir = Path(args.corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    if not any(corpus_dir.iterdir()):
        for k, (_, text) in enumerate(corpus):
            (corpus_dir / f"seed{k}.nns").write_bytes(text.encode("utf-8", "surrogatepass"))
    atheris.Setup([sys.argv[0], str(corpus_dir), f"-runs={args.runs}", "-max_len=20000", f"-seed={args.seed}"],
                  test_one, custom_mutator=mutator)
    atheris.Fuzz()


def cmd_importers(args) -> None:
    """A campaign over the importers (tests/fuzz/importers.py): inputs, outcomes, CPU time and findings to
    --out (JSON); each finding's input is written beside it (--out without .json, + -SEED-INDEX.bin)."""
    import tempfile

    from fuzz import importers

    os.environ.setdefault("KERAS_BACKEND", "torch")
    work = Path(tempfile.mkdtemp(prefix="nnlang-fuzz-imp-"))
    seeds = importers.compiled_seeds(work) + importers.corpus_seeds()
    stem = args.out[:-5] if args.out.endswith(".json") else args.out

    def on_finding(f, data):
        Path(f"{stem}-{args.seed}-{f.extra['index']}.bin").write_bytes(data)
        print(f"FINDING {f.target} {f.kind} {f.extra}: {f.detail[-300:]!r}", file=sys.stderr, flush=True)

    res, done = None, 0
    step = 500
    while done < args.inputs:  # in steps, so a long campaign shows its progress
        part = importers.run(args.seed, min(step, args.inputs - done), seeds, work, start=args.start + done,
                             on_finding=on_finding, mem_headroom=args.mem_headroom_gb * 1024)
        if res is None:
            res = part
        else:
            for name in ("inputs", "imported", "refused", "cpu_s"):
                setattr(res, name, getattr(res, name) + getattr(part, name))
            res.max_s = max(res.max_s, part.max_s)
            for name in ("rss_max_mb", "grow_max_mb", "as_limit_mb"):
                setattr(res, name, max(getattr(res, name), getattr(part, name)))
            for lane, mb in part.grow_by_lane.items():
                res.grow_by_lane[lane] = max(res.grow_by_lane.get(lane, 0.0), mb)
            res.grow_top = sorted(res.grow_top + part.grow_top, reverse=True)[:10]
            for kind, (n, ok, no, mx) in part.by_kind.items():
                k = res.by_kind.setdefault(kind, [0, 0, 0, 0.0])
                k[0], k[1], k[2], k[3] = k[0] + n, k[1] + ok, k[2] + no, max(k[3], mx)
            res.findings += part.findings
        done += part.inputs
        print(f"seed {args.seed}: {done} inputs, {len(res.findings)} findings, max {res.max_s:.3f} s, "
              f"peak RSS {res.rss_max_mb:.0f} MB, largest growth of one input {res.grow_max_mb:.0f} MB "
              f"(address space limit {res.as_limit_mb:.0f} MB)", file=sys.stderr, flush=True)
    out = {"seed": args.seed, "start": args.start, "inputs": res.inputs, "imported": res.imported,
           "refused": res.refused, "cpu_s": round(res.cpu_s, 2), "max_s": round(res.max_s, 3),
           "seeds": len(seeds), "by_kind": res.by_kind, "as_limit_mb": round(res.as_limit_mb),
           "rss_max_mb": round(res.rss_max_mb, 1), "grow_max_mb": round(res.grow_max_mb, 1),
           "grow_by_lane": res.grow_by_lane, "grow_top": res.grow_top,
           "findings": [{"target": f.target, "kind": f.kind, "detail": f.detail[-1500:], "extra": f.extra}
                        for f in res.findings]}
    Path(args.out).write_text(json.dumps(out, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--inputs", type=int, default=10_000)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--lsp-edits", type=int, default=0)
    r.add_argument("--out", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("chunks", nargs="+")
    rep.add_argument("--note", help="what this campaign is (recorded in fuzz.json)")
    for name in ("show", "check", "minimise"):
        s = sub.add_parser(name)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--index", type=int, default=0)
        if name == "minimise":
            s.add_argument("--kind", required=True)
            s.add_argument("--target", default="analyze", choices=["analyze", "fmt"])
            s.add_argument("--file")
            s.add_argument("--tries", type=int, default=3000)
    a = sub.add_parser("atheris")
    a.add_argument("--runs", type=int, default=10_000)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--corpus-dir", default=os.path.join("/tmp", "nnlang-atheris-corpus"))
    im = sub.add_parser("importers")
    im.add_argument("--seed", type=int, required=True)
    im.add_argument("--inputs", type=int, default=2_000)
    im.add_argument("--start", type=int, default=0)
    im.add_argument("--out", required=True)
    im.add_argument("--mem-headroom-gb", type=float, default=2.0,
                    help="address-space limit: what the process maps after the warm-up plus this (0: none)")
    args = p.parse_args()
    {"importers": cmd_importers, "run": cmd_run, "report": cmd_report, "show": cmd_show, "check": cmd_check,
     "minimise": cmd_minimise, "atheris": cmd_atheris}[args.cmd](args)


if __name__ == "__main__":
    main()
