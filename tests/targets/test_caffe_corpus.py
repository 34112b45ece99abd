"""The Caffe corpus (../shared/corpus/caffe and ../shared/corpus/fabrik/caffe, read in place): every deploy net,
and the deploy part of every train_val net, imports and checks clean, and its parameter count equals the
count of the learned blobs its prototxt declares (Caffe's layout: conv, deconv, inner product, Scale, PReLU;
BatchNorm statistics not counted). Files no registry layer can express give one precise error, listed here.
A tally table is printed (pytest -s) and recorded in benchmarks/caffe_import.md by benchmarks/caffe_import.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.targets.caffe.load import convert, given_shapes, refuse_code
from nnlang.targets.caffe.reading import read_prototxt
from nnlang.targets.importing import ImportError_

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _caffe_oracle import blob_shapes  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FOLDERS = (SHARED / "corpus" / "caffe", SHARED / "corpus" / "fabrik" / "caffe")

_SHARES = "layer 'conv1_p' (Convolution): shares its weights (param 'conv1_w') with layer 'conv1'"
# file -> a fragment of its one error (the others import, check clean and their counts agree)
FAILING = {
    "fabrik/caffe/CoCo_Caption.prototxt": "layer 'lstm1' (LSTM): Caffe's recurrent layers restart their state",
    "caffe/caffe_examples_siamese_mnist_siamese_train_test.prototxt": _SHARES,
    "fabrik/caffe/siamese_mnist.prototxt": _SHARES,
}
# Data layers whose shape comes from their data set (HDF5, image lists, LMDB, Python data layers): given as
# `nnlang import X.prototxt --input "data: [N, 4]"` would give them (the sizes of the data sets these nets read;
# for HED / FCN any image size works). Python layers are never run: data sources become inputs, sinks (losses)
# are left out like Caffe's own losses.
INPUTS = {
    "caffe/caffe_examples_hdf5_classification_nonlinear_auto_test.prototxt": ["data: [N, 4]"],
    "caffe/caffe_examples_hdf5_classification_nonlinear_auto_train.prototxt": ["data: [N, 4]"],
    "caffe/caffe_examples_hdf5_classification_nonlinear_train_val.prototxt": ["data: [N, 4]"],
    "caffe/caffe_examples_hdf5_classification_train_val.prototxt": ["data: [N, 4]"],
    "fabrik/caffe/CoCo_Caption.prototxt": ["input_sentence: [N, 20]", "cont_sentence: [N, 20]"],
    "fabrik/caffe/HED.prototxt": ["data: [N, 3, 320, 480]"],
    "fabrik/caffe/mlpVQA.prototxt": ["imageDataInput: [N, 2048, 14, 14]", "QuestionDataInput: [N, 1, 20, 300]"],
    "fabrik/caffe/fcn.prototxt": ["data: [N, 3, 256, 256]"],
    "fabrik/caffe/fcn2.prototxt": ["color: [N, 3, 256, 256]", "hha: [N, 3, 256, 256]"],
    "fabrik/caffe/vanilla.prototxt": ["X: [N, 1, 28, 28]"],
}


def corpus_files() -> list:
    return sorted(f"{folder.parent.name}/{folder.name}/{p.name}" if folder.parent.name == "fabrik"
                  else f"{folder.name}/{p.name}" for folder in FOLDERS if folder.is_dir()
                  for p in folder.glob("*.prototxt"))


def prototxt_params(net, layer_inputs: dict) -> int:
    """Learned values the prototxt declares for the layers of the deploy net (BatchNorm's statistics and
    scale factor are not learned)."""
    by_name = {layer.name: layer for layer in net.layers}
    total = 0
    for name, bottoms in layer_inputs.items():
        layer = by_name[name]
        if layer.type != "BatchNorm":
            total += sum(math.prod(s) for s in blob_shapes(layer, bottoms))
    return total


def tally_row(rel: str) -> dict:
    """{file, layers, params, result, error}: one corpus file imported structure-only and analysed."""
    path = SHARED / "corpus" / rel
    row = {"file": rel, "layers": None, "params": None, "result": "", "error": None}
    try:
        net = read_prototxt(str(path))
        row["layers"] = len(net.layers)
        given = given_shapes(INPUTS.get(rel))
        refuse_code(net, given)
        conv, text, _ = convert(net, None, "Net", f"Imported from {path.name}", given)
    except ImportError_ as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        row["error"] = lines[1] if len(lines) > 1 else lines[0]
        row["result"] = "error: " + row["error"]
        return row
    analysis = analyze(text)
    errors = analysis.errors
    graph = analysis.graph
    ours = graph.total_params if graph is not None else None
    declared = prototxt_params(net, conv.layer_inputs)
    row["params"] = ours
    row["declared"] = declared
    if errors:
        row["result"] = f"check: {errors[0].code} {errors[0].message}"
    elif ours != declared:
        row["result"] = f"params {ours:,} != {declared:,} declared"
    else:
        row["result"] = "imported, checks clean, params agree"
    if rel in INPUTS:
        row["result"] += " (with --input " + ", ".join(f'"{d}"' for d in INPUTS[rel]) + ")"
    return row


def table(rows: list) -> str:
    out = ["| file | layers | params | result |", "|---|---:|---:|---|"]
    for r in rows:
        params = f"{r['params']:,}" if r["params"] is not None else "-"
        out.append(f"| {r['file']} | {r['layers'] if r['layers'] is not None else '-'} | {params} | {r['result']} |")
    return "\n".join(out)


@pytest.fixture(scope="module")
def tally():
    if not any(f.is_dir() for f in FOLDERS):
        pytest.skip(f"the Caffe corpus is not here ({FOLDERS[0]} absent: /work/shared is not mounted)")
    return {rel: tally_row(rel) for rel in corpus_files()}


def test_corpus_tally(tally, capsys):
    with capsys.disabled():
        print("\n" + table(list(tally.values())))
    failing = {rel for rel, row in tally.items() if row["error"]}
    assert failing == set(FAILING)
    for rel, want in FAILING.items():
        assert want in tally[rel]["error"], (rel, tally[rel]["error"])
    for rel, row in tally.items():
        if not row["error"]:
            assert row["result"].startswith("imported, checks clean, params agree"), (rel, row["result"])
