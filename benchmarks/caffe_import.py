"""Benchmark: `nnlang import` of Caffe's ResNet-152 deploy prototxt, structure only and with a random caffemodel
(with and without the OpenCV verification run), median of 3; the corpus tally; the CNN examples compiled to
Caffe and imported back. Writes caffe_import.md.

    python benchmarks/caffe_import.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "targets"))
sys.path.insert(0, str(ROOT))

from nnlang.targets.caffe.load import import_file  # noqa: E402

SHARED = ROOT.parent / "shared"
RESNET = SHARED / "corpus" / "caffe" / "resnet_ResNet-152_deploy.prototxt"


def median_of(fn, n: int = 3) -> tuple:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


EXAMPLES = ("lenet5", "alexnet", "caffenet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50",
            "densenet121", "squeezenet1_0", "mobilenet_v2", "efficientnet_b0", "unet")


def round_trips() -> list:
    import subprocess

    from nnlang.targets.importing import ImportError_

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ex in EXAMPLES:
            out = Path(tmp) / ex
            r = subprocess.run([sys.executable, "-m", "nnlang", "compile", str(ROOT / "examples" / f"{ex}.nns"),
                                "--to", "caffe", "-o", str(out), "--seed", "1"], capture_output=True, text=True)
            if r.returncode:
                rows.append((ex, "compile failed: " + (r.stderr.strip().splitlines() or ["?"])[-1][:120], "-", "-"))
                continue
            prototxt, weights = next(out.glob("*.prototxt")), next(out.glob("*.caffemodel"))
            t = time.perf_counter()
            try:
                result = import_file(str(prototxt), weights=str(weights))
                rows.append((ex, "imported, equal to OpenCV", f"{result.max_abs_diff:.1e}",
                             f"{time.perf_counter() - t:.1f}"))
            except ImportError_ as e:
                rows.append((ex, "import failed: " + str(e).splitlines()[0][:120], "-", "-"))
    return rows


def main() -> None:
    from test_caffe_corpus import corpus_files, table, tally_row
    from test_caffe_import import random_caffemodel

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "resnet152.caffemodel"
        t = time.perf_counter()
        random_caffemodel(RESNET, model)
        write_s = time.perf_counter() - t
        rows.append(("structure only (prototxt)", *median_of(lambda: import_file(str(RESNET)))))
        rows.append(("with --weights (random caffemodel), no verification",
                     *median_of(lambda: import_file(str(RESNET), weights=str(model), verify=False))))
        diffs = []
        rows.append(("with --weights and the OpenCV verification run",
                     *median_of(lambda: diffs.append(import_file(str(RESNET), weights=str(model)).max_abs_diff))))
        size_mb = model.stat().st_size / 1e6
    trips = round_trips()
    load_after = os.getloadavg()
    t = time.perf_counter()
    tally = [tally_row(rel) for rel in corpus_files()]
    tally_s = time.perf_counter() - t
    ok = sum(1 for r in tally if not r["error"])
    lines = [
        "# Caffe import benchmark",
        "",
        f"`python benchmarks/caffe_import.py` on {os.cpu_count()} CPUs; load average (1, 5, 15 min) before "
        f"{', '.join(f'{v:.2f}' for v in load_before)}, after {', '.join(f'{v:.2f}' for v in load_after)}.",
        "",
        f"## ResNet-152 deploy ({RESNET.name}: 670 layers; the random caffemodel is {size_mb:.0f} MB, "
        f"written in {write_s:.1f} s)",
        "",
        "| import | median of 3 (s) | best (s) |",
        "|---|---:|---:|",
        *[f"| {what} | {med:.2f} | {best:.2f} |" for what, med, best in rows],
        "",
        f"Verification: max relative difference to OpenCV {max(diffs):.2e} (input 1 x 3 x 224 x 224; the softmax "
        "of a random 152-layer net is nearly one-hot, so this number says little: the tests compare ResNet-50 "
        "and 10 other nets on perturbed caffemodels, relative to max |y|).",
        "",
        f"## Corpus tally ({ok} of {len(tally)} import, check clean and agree on parameters; "
        f"{tally_s:.1f} s structure only)",
        "",
        "Parameters: the analysed .nns network's count; the test (tests/targets/test_caffe_corpus.py) checks it "
        "against the learned blobs the prototxt declares (BatchNorm statistics not counted).",
        "",
        table(tally),
        "",
        "## Round trip: examples compiled to Caffe (`nnlang compile --to caffe --seed 1`), imported back with "
        "their caffemodel",
        "",
        "The import's own verification: the PyTorch build of the imported .nns beside OpenCV on the compiled files "
        "(max |d| / max(1, |y|), input batch 1). Floor pooling, ReLU6 and the other idioms the Caffe target writes "
        "come back as one layer; layer names are the .nns paths again.",
        "",
        "| example | result | difference | import (s) |",
        "|---|---|---:|---:|",
        *[f"| {ex} | {res} | {diff} | {secs} |" for ex, res, diff, secs in trips],
        "",
    ]
    out = Path(__file__).with_suffix(".md")
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
