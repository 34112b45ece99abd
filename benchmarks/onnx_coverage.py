"""ONNX import coverage (issue 17): how many files no one on this project wrote import, verified.

    python benchmarks/onnx_coverage.py node            # ONNX's own backend node test cases (onnx wheel)
    python benchmarks/onnx_coverage.py node pool,rnn -v  # those families only; -v: every case not ok, why
    python benchmarks/onnx_coverage.py torchvision     # torch.onnx.export of torchvision models by opset
    python benchmarks/onnx_coverage.py legacy          # the Caffe2-era opset 7/9/11 networks of the tests

Node cases come from the onnx wheel's case collector (what `backend-test-tools generate-data` writes),
each imported with its own test inputs as the verification example: `ok` = imported and equal to
onnxruntime within the relative tolerance, `refused` = one ImportError_, `crash` = anything else (a
traceback: a bug). Prints a markdown table; benchmarks/onnx_coverage.md records a run.
"""

from __future__ import annotations

import collections
import contextlib
import io
import signal
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "targets"))

# Op type -> family, for the NN-relevant single-op cases the issue counts.
FAMILIES = {
    "conv": "Conv ConvTranspose ConvInteger DeformConv",
    "pool": "MaxPool AveragePool GlobalAveragePool GlobalMaxPool LpPool GlobalLpPool MaxRoiPool MaxUnpool",
    "norm": "BatchNormalization InstanceNormalization LayerNormalization GroupNormalization LRN "
            "RMSNormalization MeanVarianceNormalization LpNormalization",
    "activation": "Relu LeakyRelu PRelu Elu Selu Celu Gelu Sigmoid HardSigmoid HardSwish Tanh Softplus Softsign "
                  "Mish ThresholdedRelu Clip Swish",
    "gemm/matmul": "Gemm MatMul MatMulInteger Einsum",
    "rnn": "LSTM GRU RNN",
    "attention": "Attention RotaryEmbedding",
    "reshape-like": "Reshape Flatten Transpose Squeeze Unsqueeze Expand Tile DepthToSpace SpaceToDepth Identity",
    "concat/split": "Concat Split Slice Gather GatherElements GatherND",
    "elementwise": "Add Sub Mul Div Pow Sqrt Exp Log Reciprocal Neg Abs Max Min Sum Mean Where Cast Erf Equal "
                   "Less Greater LessOrEqual GreaterOrEqual Not And Or Floor Ceil Round Sign",
    "reduction": "ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum "
                 "ReduceLogSumExp ReduceSumSquare ArgMax ArgMin",
    "resize": "Resize Upsample",
    "pad": "Pad",
    "softmax": "Softmax LogSoftmax Hardmax",
    "dropout": "Dropout",
}
FAMILY_OF = {op: fam for fam, ops in FAMILIES.items() for op in ops.split()}


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def run_node_cases(limit_seconds: float = 20.0, families=None) -> dict:
    import numpy as np
    from onnx.backend.test.case.node import collect_testcases

    from nnlang.targets.onnx.load import ImportError_, import_model

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    signal.signal(signal.SIGALRM, _alarm)
    rows = []
    for case in cases:
        ops = [n.op_type for n in case.model.graph.node]
        family = FAMILY_OF.get(ops[-1] if ops else "", None) if len(set(ops)) == 1 else None
        if families and family not in families:  # a subset while developing: `node attention,pool`
            continue
        data = case.data_sets[0] if case.data_sets else None
        feeds = None
        if data is not None:
            stored = {t.name for t in case.model.graph.initializer}
            names = [vi.name for vi in case.model.graph.input if vi.name not in stored]
            try:
                feeds = {n: _array(v) for n, v in zip(names, data[0])}
            except ValueError:  # a sequence or optional input: no array (the import refuses such inputs)
                feeds = None
        t = time.time()
        verdict, detail = _attempt(import_model, ImportError_, case.model, feeds, limit_seconds)
        if verdict == "refused" and feeds and len(feeds) > 1:  # as an exporter writes it: operands stored
            # first the integer / bool operands (shapes, indices, lengths, bool masks) with every float tensor
            # still an input, then every input but the first
            kept = [n for n, v in feeds.items() if np.asarray(v).dtype.kind in "fc"]
            for keep in ([n for n in kept] if 0 < len(kept) < len(feeds) else None, None):
                try:
                    frozen, first = _frozen(case.model, feeds, keep)
                except (NotImplementedError, TypeError, ValueError):  # an input that is no plain tensor
                    continue
                again = _attempt(import_model, ImportError_, frozen, first, limit_seconds)
                if again[0] != "refused":
                    verdict, detail = again
                    break
                if not detail.startswith("stored: "):  # the first stored form's reason: the likelier file
                    detail = "stored: " + again[1]
        rows.append((case.name, family, verdict, detail, time.time() - t))
    return {"rows": rows}


def _array(v):
    """A test input as numpy: the Cast cases store theirs as TensorProtos (exact bits of f16 / bf16)."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    return numpy_helper.to_array(v) if isinstance(v, TensorProto) else np.asarray(v)


def _attempt(import_model, error, model, feeds, limit_seconds: float) -> tuple:
    signal.setitimer(signal.ITIMER_REAL, limit_seconds)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import_model(model, example_inputs=feeds)
        return "ok", ""
    except error as e:
        return "refused", str(e).strip().splitlines()[-1][:160]
    except _Timeout:
        return "timeout", ""
    except BaseException as e:  # noqa: BLE001 -- counted: the import's promise is an ImportError_
        return "crash", f"{type(e).__name__}: {str(e)[:160]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _frozen(model, feeds: dict, keep=None) -> tuple:
    """The model with every input but those in `keep` (default: the first) stored as an initializer holding its
    test value, and the feeds of the kept ones."""
    from onnx import numpy_helper

    names = list(feeds)
    keep = set(keep if keep is not None else names[:1])
    stored = [n for n in names if n not in keep]
    frozen = type(model)()
    frozen.CopyFrom(model)
    inputs = [vi for vi in frozen.graph.input if vi.name not in stored]
    del frozen.graph.input[:]
    frozen.graph.input.extend(inputs)
    frozen.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in stored)
    return frozen, {n: feeds[n] for n in names if n in keep}


def node_report(result: dict) -> str:
    rows = result["rows"]
    tally = collections.Counter(v for _, _, v, _, _ in rows)
    fam: dict = collections.defaultdict(collections.Counter)
    for _, f, v, _, _ in rows:
        if f is not None:
            fam[f][v] += 1
    nn = [r for r in rows if r[1] is not None]
    nn_ok = sum(1 for r in nn if r[2] == "ok")
    lines = [f"ONNX backend node cases: {len(rows)}; ok {tally['ok']}, refused {tally['refused']}, "
             f"crash {tally['crash']}, timeout {tally['timeout']}",
             f"NN-relevant single-op cases: {len(nn)}; ok {nn_ok} ({100 * nn_ok / max(1, len(nn)):.1f} %)", "",
             "| family | cases | ok | refused | crash |", "|---|---|---|---|---|"]
    for f in FAMILIES:
        c = fam.get(f, collections.Counter())
        total = sum(c.values())
        if total:
            lines.append(f"| {f} | {total} | {c['ok']} | {c['refused']} | {c['crash'] + c['timeout']} |")
    crashes = [r for r in rows if r[2] in ("crash", "timeout")]
    if crashes:
        lines += ["", "Crashes:"] + [f"* {name}: {detail}" for name, _, _, detail, _ in crashes[:60]]
    return "\n".join(lines)


TORCHVISION = ("resnet18", "squeezenet1_0", "shufflenet_v2_x0_5", "mobilenet_v3_small", "efficientnet_b0",
               "regnet_y_400mf", "convnext_tiny", "vit_b_16")


def run_torchvision(names=TORCHVISION, opsets=(11, 13, 17), size: int = 64) -> list:
    import tempfile

    import torch
    import zoo_oracle as zo

    from nnlang.targets.onnx.load import ImportError_, import_model

    models = zo.import_torchvision()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            torch.manual_seed(0)
            net = getattr(models, name)(weights=None).eval()
            with torch.no_grad():
                for m in net.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.running_mean.normal_(0, 0.2)
                        m.running_var.uniform_(0.5, 1.5)
                        m.bias.normal_(0, 0.2)
            side = 224 if name.startswith("vit") else size
            for opset in opsets:
                path = f"{tmp}/{name}_{opset}.onnx"
                try:
                    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                        warnings.simplefilter("ignore")
                        torch.onnx.export(net, (torch.randn(1, 3, side, side),), path, dynamo=False,
                                          opset_version=opset, input_names=["x"], output_names=["y"],
                                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
                except Exception as e:  # noqa: BLE001 -- the exporter's limit, not ours
                    rows.append((name, opset, "no export", f"{type(e).__name__}: {str(e)[:100]}", 0.0))
                    continue
                t = time.time()
                try:
                    r = import_model(path)
                    rows.append((name, opset, "ok", f"relative diff {r.max_abs_diff / max(1, r.reference_scale):.1e}",
                                 time.time() - t))
                except ImportError_ as e:
                    rows.append((name, opset, "refused", " / ".join(str(e).strip().splitlines()[:3])[:240],
                                 time.time() - t))
                except Exception as e:  # noqa: BLE001
                    rows.append((name, opset, "crash", f"{type(e).__name__}: {str(e)[:160]}", time.time() - t))
                print(*rows[-1], sep=" | ", flush=True)
    return rows


def run_legacy() -> list:
    import test_onnx_legacy_import as legacy

    from nnlang.targets.onnx.load import ImportError_, import_model

    rows = []
    for build in (legacy.alexnet, legacy.squeezenet, legacy.resnet, legacy.merges):
        for opset in (7, 9, 11):
            t = time.time()
            try:
                r = import_model(build(opset))
                rel = r.max_abs_diff / max(1, r.reference_scale)
                rows.append((build.__name__, opset, "ok", f"relative diff {rel:.1e}", time.time() - t))
            except ImportError_ as e:
                rows.append((build.__name__, opset, "refused", str(e)[:200], time.time() - t))
    return rows


def table(rows) -> str:
    lines = ["| model | opset | result | detail | import s |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e:.1f} |" for a, b, c, d, e in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "node"
    if what == "node":
        chosen = {f for f in sys.argv[2].split(",") if f} if len(sys.argv) > 2 else None  # "" or absent: all
        result = run_node_cases(families=chosen or None)
        print(node_report(result))
        if len(sys.argv) > 3:  # `node FAMILIES -v`: every case not ok, with its reason
            print(*(f"* {r[0]} ({r[1]}): {r[2]} {r[3]}" for r in result["rows"] if r[2] != "ok"), sep="\n")
    elif what == "torchvision":
        print(table(run_torchvision(sys.argv[2].split(",") if len(sys.argv) > 2 else TORCHVISION)))
    elif what == "legacy":
        print(table(run_legacy()))
