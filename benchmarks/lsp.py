"""Language server benchmarks: a real `python -m nnlang_lsp` process over stdio, driven by pygls' client;
writes benchmarks/lsp.json and the language-server block of benchmarks/results.md.

1. didChange -> publishDiagnostics on examples/resnet50.nns: 240 single-character edits, each waited
   for (a space typed at a line end and deleted again, a digit of a channel count changed and changed
   back), with the server's default settings (analysisDelayMs 5). Targets: p50 <= 25 ms, p95 <= 50 ms.
2. hover (on every layer and block call in turn) and inlay hints (the whole file) on resnet50, the
   analysis current: p50 / p95. Target: p95 <= 20 ms.
3. didChange -> publishDiagnostics on a generated, valid 5,000-line file (every example in turn, its
   networks and blocks renamed, until 5,000 lines: ~120 networks, ~15,000 layers): single-character
   edits. Target: p95 <= 300 ms.
4. Server start: process spawn -> initialize -> didOpen resnet50 -> its first diagnostics (a fresh
   process each run). Target: <= 1 s.
5. Resident memory (VmRSS of /proc/<pid>/status, and the peak VmHWM) after opening every example and
   answering hover / inlay hints on each. Target: <= 200 MB.
6. The modules the server process imported (its `nnlang/debug/modules` request): no torch, onnx,
   onnxruntime, keras, tensorflow (nor numpy, protobuf).

Where a latency target is missed, the same text is analysed in this process to split the time into
analyze() (nnlang), the language services' index (nnlang.ide Context) and the rest (protocol, queueing),
and analyze() + Context are profiled (cProfile, top functions by own time) into lsp.json.

Run: .venv/bin/python benchmarks/lsp.py  (also run by benchmarks/run.py, so `make bench`)
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.client import BaseLanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnlang.analyze import analyze  # noqa: E402
from nnlang.ide.hover import Context  # noqa: E402
from nnlang.syntax import parse  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))
SERVER = [sys.executable, "-m", "nnlang_lsp"]
HEAVY = ["torch", "torchvision", "onnx", "onnxruntime", "keras", "tensorflow", "numpy", "google", "jax"]
TARGETS = {"change_p50_ms": 25, "change_p95_ms": 50, "hover_p95_ms": 20, "inlay_p95_ms": 20,
           "change_5k_p95_ms": 300, "start_s": 1.0, "rss_mb": 200}


def big_file(lines: int = 5000) -> str:
    """Every example in turn, its networks and blocks renamed (`ResNet50_3`, `Inception_3` ...), until
    `lines` lines; one copy of the `use` lines at the top. Valid: no diagnostics."""
    uses, parts, total, k = [], [], 0, 0
    while total < lines:
        for path in EXAMPLES:
            text = path.read_text(encoding="utf-8")
            for use in re.findall(r'^use\s+"[^"]+"[ \t]*$', text, re.M):
                if use not in uses:
                    uses.append(use)
            text = re.sub(r'^use\s+"[^"]+"[ \t]*\n', "", text, flags=re.M)
            for name in re.findall(r"^(?:network|block)\s+(\w+)", text, re.M):
                text = re.sub(rf"\b{name}\b", f"{name}_{k}", text)
            parts.append(text.strip("\n") + "\n")
            total += parts[-1].count("\n") + 1
            if total >= lines:
                break
            k += 1
    return "\n".join(uses) + "\n\n" + "\n".join(parts)


def pct(values: list, p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))]


def summary(values_ms: list) -> dict:
    return {"n": len(values_ms), "p50_ms": statistics.median(values_ms), "p95_ms": pct(values_ms, 95),
            "max_ms": max(values_ms), "min_ms": min(values_ms)}


class Client:
    """A pygls client that records each publishDiagnostics (uri, version) with its arrival time."""

    def __init__(self):
        self.lsp = BaseLanguageClient("nnlang-bench", "1")
        self.arrived: dict = {}  # (uri, version) -> (perf_counter, diagnostics)
        self.waiters: dict = {}

        @self.lsp.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls, params: t.PublishDiagnosticsParams):
            key = (params.uri, params.version)
            self.arrived[key] = (time.perf_counter(), params.diagnostics)
            fut = self.waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(self.arrived[key])

        @self.lsp.feature(t.WINDOW_LOG_MESSAGE)
        def on_log(ls, params):
            if params.type == t.MessageType.Error:
                print("server error:", params.message, file=sys.stderr)

    async def start(self, settings: dict | None = None):
        await self.lsp.start_io(*SERVER)
        await self.lsp.initialize_async(t.InitializeParams(
            capabilities=t.ClientCapabilities(), process_id=os.getpid(), initialization_options=settings or {}))
        self.lsp.initialized(t.InitializedParams())

    async def diagnostics(self, uri: str, version: int, timeout: float = 60.0):
        if (uri, version) in self.arrived:
            return self.arrived[(uri, version)]
        fut = asyncio.get_running_loop().create_future()
        self.waiters[(uri, version)] = fut
        return await asyncio.wait_for(fut, timeout)

    async def open(self, path: Path, text: str | None = None, version: int = 1):
        uri = path.resolve().as_uri()
        self.lsp.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
            uri=uri, language_id="nns", version=version, text=path.read_text(encoding="utf-8") if text is None
            else text)))
        await self.diagnostics(uri, version)
        return uri

    async def change(self, uri: str, version: int, line: int, start: int, end: int, new: str) -> float:
        """One incremental change; the time until its diagnostics arrive (ms)."""
        sent = time.perf_counter()
        self.lsp.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[t.TextDocumentContentChangePartial(
                range=t.Range(start=t.Position(line=line, character=start), end=t.Position(line=line, character=end)),
                text=new)]))
        arrived, _ = await self.diagnostics(uri, version)
        return (arrived - sent) * 1000

    async def request(self, method: str, params):
        return await self.lsp.protocol.send_request_async(method, params)

    async def stop(self):
        await self.lsp.shutdown_async(None)
        self.lsp.exit(None)
        await self.lsp.stop()


def single_char_edits(text: str, count: int) -> list:
    """(line, start, end, new) edits of one character each, in pairs that undo each other so the text
    stays valid: a space typed at the end of a code line and deleted; a digit changed and changed back."""
    lines = text.split("\n")
    code = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(("#", '"'))]
    digits = [(i, m.start()) for i, line in enumerate(lines) if not line.lstrip().startswith("#")
              for m in re.finditer(r"(?<=\()\d", line)]
    edits = []
    k = 0
    while len(edits) < count:
        if k % 2 == 0 or not digits:
            i = code[(k * 7) % len(code)]
            n = len(lines[i])
            edits += [(i, n, n, " "), (i, n, n + 1, "")]
        else:
            i, c = digits[(k * 5) % len(digits)]
            old = lines[i][c]
            edits += [(i, c, c + 1, "9" if old != "9" else "8"), (i, c, c + 1, old)]
        k += 1
    return edits[:count]


def positions_of_steps(text: str) -> list:
    """A position inside every layer or block call (`Name(` or `: Name`) of the text."""
    out = []
    for i, line in enumerate(text.split("\n")):
        if line.lstrip().startswith(("#", '"')):
            continue
        for m in re.finditer(r"\b([A-Z]\w*)\b", line):
            out.append(t.Position(line=i, character=m.start() + 1))
    return out


def in_process(text: str, path: str, runs: int = 5) -> dict:
    """parse(), analyze() (parse included) and Context() of text in this process, the collector paused as
    the server pauses it: where the server's time goes."""
    analyze(text, path)
    p_times, a_times, c_times = [], [], []
    for _ in range(runs):
        gc.disable()
        try:
            t0 = time.perf_counter()
            parse(text)
            t1 = time.perf_counter()
            a = analyze(text, path)
            t2 = time.perf_counter()
            Context(a)
            t3 = time.perf_counter()
        finally:
            gc.enable()
        p_times.append((t1 - t0) * 1000)
        a_times.append((t2 - t1) * 1000)
        c_times.append((t3 - t2) * 1000)
    return {"parse_median_ms": statistics.median(p_times), "analyze_median_ms": statistics.median(a_times),
            "context_median_ms": statistics.median(c_times), "runs": runs, "diagnostics": len(a.diagnostics)}


def profile(text: str, path: str, top: int = 15) -> list:
    prof = cProfile.Profile()
    gc.disable()
    prof.enable()
    Context(analyze(text, path))
    prof.disable()
    gc.enable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, callers) in stats.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({fn})", "calls": nc, "own_ms": round(tt * 1000, 1),
                     "cumulative_ms": round(ct * 1000, 1)})
    rows.sort(key=lambda r: -r["own_ms"])
    return rows[:top]


def rss_of(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    get = {k: int(re.search(rf"^{k}:\s+(\d+) kB", status, re.M).group(1)) for k in ("VmRSS", "VmHWM")}
    return {"rss_mb": get["VmRSS"] / 1024, "peak_rss_mb": get["VmHWM"] / 1024}


async def bench_resnet50(tmp: Path) -> dict:
    source = (ROOT / "examples" / "resnet50.nns").read_text(encoding="utf-8")
    path = tmp / "resnet50.nns"
    path.write_text(source, encoding="utf-8")
    c = Client()
    await c.start()
    uri = await c.open(path)
    doc = t.TextDocumentIdentifier(uri=uri)
    edits = single_char_edits(source, 240)
    version, latencies = 1, []
    for line, a, b, new in edits[:4]:  # warm-up: two edits and their undoing
        version += 1
        await c.change(uri, version, line, a, b, new)
    for line, a, b, new in edits:
        version += 1
        latencies.append(await c.change(uri, version, line, a, b, new))
        await asyncio.sleep(0.01)  # a keystroke gap: the server idles between edits, as with a typist
    hover_ms, inlay_ms = [], []
    positions = positions_of_steps(source)
    lines = source.split("\n")
    whole = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=len(lines), character=0))
    answered = 0
    for _ in range(-(-200 // len(positions))):  # every layer / block call in turn, >= 200 requests
        for pos in positions:
            t0 = time.perf_counter()
            h = await c.lsp.text_document_hover_async(t.HoverParams(text_document=doc, position=pos))
            hover_ms.append((time.perf_counter() - t0) * 1000)
            answered += h is not None
    assert answered > len(hover_ms) // 2, answered
    for _ in range(200):
        t0 = time.perf_counter()
        hints = await c.lsp.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc, range=whole))
        inlay_ms.append((time.perf_counter() - t0) * 1000)
    assert hints
    await c.stop()
    return {"change": summary(latencies), "hover": summary(hover_ms), "inlay": summary(inlay_ms),
            "inlay_hints": len(hints), "lines": len(lines), "in_process": in_process(source, str(path))}


async def bench_5k(tmp: Path) -> dict:
    text = big_file()
    path = tmp / "big.nns"
    path.write_text(text, encoding="utf-8")
    c = Client()
    await c.start()
    t0 = time.perf_counter()
    uri = await c.open(path)
    open_ms = (time.perf_counter() - t0) * 1000
    _, diags = c.arrived[(uri, 1)]
    assert not diags, [d.message for d in diags][:3]
    edits = single_char_edits(text, 30)
    version, latencies = 1, []
    for line, a, b, new in edits:
        version += 1
        latencies.append(await c.change(uri, version, line, a, b, new))
    hover_ms = []
    doc = t.TextDocumentIdentifier(uri=uri)
    for pos in positions_of_steps(text)[::97][:60]:
        t0 = time.perf_counter()
        await c.lsp.text_document_hover_async(t.HoverParams(text_document=doc, position=pos))
        hover_ms.append((time.perf_counter() - t0) * 1000)
    await c.stop()
    a = analyze(text, str(path))
    return {"lines": text.count("\n"), "bytes": len(text.encode()), "networks": len(a.graphs),
            "layers": sum(len(g.nodes) for g in a.graphs.values()), "open_to_diagnostics_ms": open_ms,
            "change": summary(latencies), "change_latencies_ms": [round(x) for x in latencies],
            "hover": summary(hover_ms), "in_process": in_process(text, str(path), 3)}


async def bench_start(tmp: Path, runs: int = 7) -> dict:
    source = (ROOT / "examples" / "resnet50.nns").read_text(encoding="utf-8")
    path = tmp / "start.nns"
    path.write_text(source, encoding="utf-8")
    times, init = [], []
    for _ in range(runs):
        c = Client()
        t0 = time.perf_counter()
        await c.lsp.start_io(*SERVER)
        await c.lsp.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities(), process_id=os.getpid()))
        init.append(time.perf_counter() - t0)
        c.lsp.initialized(t.InitializedParams())
        await c.open(path)
        times.append(time.perf_counter() - t0)
        await c.stop()
    return {"runs": runs, "median_s": statistics.median(times), "max_s": max(times), "min_s": min(times),
            "initialize_median_s": statistics.median(init)}


async def bench_all_examples() -> dict:
    c = Client()
    await c.start()
    for path in EXAMPLES:
        uri = await c.open(path)
        doc = t.TextDocumentIdentifier(uri=uri)
        text = path.read_text(encoding="utf-8")
        for pos in positions_of_steps(text)[:20]:
            await c.lsp.text_document_hover_async(t.HoverParams(text_document=doc, position=pos))
        await c.lsp.text_document_inlay_hint_async(t.InlayHintParams(text_document=doc, range=t.Range(
            start=t.Position(line=0, character=0), end=t.Position(line=text.count("\n") + 1, character=0))))
    info = await c.request("nnlang/debug/modules", {})
    heavy = await c.request("nnlang/debug/modules", {"top": HEAVY})
    mem = rss_of(info.pid)
    await c.stop()
    return {"examples": len(EXAMPLES), **mem, "modules_imported": len(info.modules),
            "heavy_modules": list(heavy.modules)}


async def run() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "platform": platform.platform()}}
        results["start"] = await bench_start(tmp)
        results["resnet50"] = await bench_resnet50(tmp)
        results["file_5k"] = await bench_5k(tmp)
        results["all_examples"] = await bench_all_examples()
    r, big = results["resnet50"], results["file_5k"]
    checks = {
        "change_p50_ms": r["change"]["p50_ms"] <= TARGETS["change_p50_ms"],
        "change_p95_ms": r["change"]["p95_ms"] <= TARGETS["change_p95_ms"],
        "hover_p95_ms": r["hover"]["p95_ms"] <= TARGETS["hover_p95_ms"],
        "inlay_p95_ms": r["inlay"]["p95_ms"] <= TARGETS["inlay_p95_ms"],
        "change_5k_p95_ms": big["change"]["p95_ms"] <= TARGETS["change_5k_p95_ms"],
        "start_s": results["start"]["median_s"] <= TARGETS["start_s"],
        "rss_mb": results["all_examples"]["rss_mb"] <= TARGETS["rss_mb"],
        "no_heavy_modules": not results["all_examples"]["heavy_modules"],
    }
    results["targets"] = TARGETS
    results["met"] = checks
    results["pass"] = all(checks.values())
    if not checks["change_5k_p95_ms"]:
        text = big_file()
        results["file_5k"]["profile_top_own_time"] = profile(text, str(ROOT / "big.nns"))
    if not (checks["change_p50_ms"] and checks["change_p95_ms"]):
        source = (ROOT / "examples" / "resnet50.nns").read_text(encoding="utf-8")
        results["resnet50"]["profile_top_own_time"] = profile(source, str(ROOT / "examples" / "resnet50.nns"))
    return results


MARK = "## Language server"


def markdown(res: dict) -> str:
    r, big, start, ex = res["resnet50"], res["file_5k"], res["start"], res["all_examples"]
    ok = res["met"]

    def mark(key):
        return "" if ok[key] else " **(missed)**"

    median_5k = big["change"]["p50_ms"]
    spikes = ", ".join(str(x) for x in big["change_latencies_ms"] if x > 2 * median_5k) or "none"

    rows = [
        MARK, "",
        f"Recorded by `benchmarks/lsp.py` on {time.strftime('%Y-%m-%d')}, Python {res['machine']['python']}, "
        f"{res['machine']['cpus']} CPUs: a real `python -m nnlang_lsp` over stdio, pygls' client, the server's "
        "default settings (`analysisDelayMs` 5).", "",
        "| measure | result | target |", "|---|---|---|",
        f"| didChange → publishDiagnostics, resnet50.nns, {r['change']['n']} one-character edits: p50 / p95 | "
        f"{r['change']['p50_ms']:.1f} / {r['change']['p95_ms']:.1f} ms{mark('change_p50_ms')}{mark('change_p95_ms')}"
        f" | <= 25 / 50 ms |",
        f"| ... of which, in process (median): analyze() + Context | {r['in_process']['analyze_median_ms']:.1f} + "
        f"{r['in_process']['context_median_ms']:.1f} ms (the rest: the 5 ms delay, the protocol) | |",
        f"| hover, resnet50.nns, {r['hover']['n']} requests: p50 / p95 | {r['hover']['p50_ms']:.1f} / "
        f"{r['hover']['p95_ms']:.1f} ms{mark('hover_p95_ms')} | p95 <= 20 ms |",
        f"| inlay hints, whole resnet50.nns ({r['inlay_hints']} hints), {r['inlay']['n']} requests: p50 / p95 | "
        f"{r['inlay']['p50_ms']:.1f} / {r['inlay']['p95_ms']:.1f} ms{mark('inlay_p95_ms')} | p95 <= 20 ms |",
        f"| didChange → publishDiagnostics, generated {big['lines']:,}-line file ({big['networks']} networks, "
        f"{big['layers']:,} layers), {big['change']['n']} edits: p50 / p95 | {big['change']['p50_ms']:.0f} / "
        f"{big['change']['p95_ms']:.0f} ms{mark('change_5k_p95_ms')} | p95 <= 300 ms |",
        f"| ... for comparison, a whole analysis in process (median): analyze() (its parse) + Context | "
        f"{big['in_process']['analyze_median_ms']:.0f} ({big['in_process']['parse_median_ms']:.0f}) + "
        f"{big['in_process']['context_median_ms']:.0f} ms: the server analyses incrementally (nnlang/incremental.py:"
        f" only the edited definition is parsed, only the networks it touches lowered) and builds the request "
        f"index after publishing; edits over twice the median: {spikes} ms | |",
        f"| server start: spawn → initialize → didOpen resnet50 → diagnostics, median (max) of {start['runs']} | "
        f"{start['median_s'] * 1000:.0f} ({start['max_s'] * 1000:.0f}) ms{mark('start_s')} | <= 1000 ms |",
        f"| resident memory after opening all {ex['examples']} examples (VmRSS; peak VmHWM) | {ex['rss_mb']:.0f} MB "
        f"({ex['peak_rss_mb']:.0f} MB){mark('rss_mb')} | <= 200 MB |",
        f"| framework modules in the server process (torch, onnx, onnxruntime, keras, tensorflow, numpy, protobuf)"
        f" | {', '.join(ex['heavy_modules']) or 'none'} ({ex['modules_imported']} modules in all) | none |",
        "", f"All language-server targets met: {'yes' if res['pass'] else 'NO'}", "",
    ]
    if not ok["change_5k_p95_ms"]:
        rows[-1:] = [
            "", "The 5,000-line target is missed: where the time goes is in `lsp.json` "
            "(`file_5k.profile_top_own_time`, a whole analysis).", ""]
    return "\n".join(rows)


def write_results_md(block: str) -> None:
    """Put the block in results.md in place of an earlier one (run.py rewrites the rest)."""
    path = ROOT / "benchmarks" / "results.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    at = text.find(MARK)
    if at >= 0:
        nxt = text.find("\n## ", at + len(MARK))
        text = text[:at] + (text[nxt + 1:] if nxt >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + block, encoding="utf-8")


def main() -> int:
    results = asyncio.run(run())
    (ROOT / "benchmarks" / "lsp.json").write_text(json.dumps(results, indent=2) + "\n")
    block = markdown(results)
    write_results_md(block)
    print(block)
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
