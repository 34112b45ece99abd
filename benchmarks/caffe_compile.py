"""Caffe target: time to compile ResNet-50 to Caffe (deploy .prototxt + .caffemodel) and the files' sizes, then
the time OpenCV 4.x's DNN (the Caffe runtime of the tests) takes to read them and run one 224x224 image.

One compile = analyse the .nns file + `compile_to_dir` (plan every node, build the PyTorch module for its
weights with seeded initialisation, the NetParameter through BVLC's schema, blobs as packed floats, atomic
write of both files). Median of the runs after a warm-up run (imports excluded); each stage's median too.
Results: benchmarks/caffe_compile.json.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 5


def round_trip_large_examples() -> dict:
    """The examples whose round trip the test suite leaves out for time (60-138 M parameters): compile with
    perturbed weights, re-import prototxt + caffemodel, compare the PyTorch builds (max relative difference)."""
    import torch

    sys.path[:0] = [str(ROOT / "tests" / "targets"), str(ROOT / "tests")]  # the harness imports tests/zoo_cache
    import _keras_harness as kh

    from nnlang.analyze import analyze
    from nnlang.targets.caffe.load import import_file
    from nnlang.targets.caffe.plan import plan_net
    from nnlang.targets.caffe.writer import deploy_net, prototxt_text, weights_net

    out = {}
    for stem in ("alexnet", "caffenet", "vgg16"):
        path = ROOT / "examples" / f"{stem}.nns"
        a = analyze(path.read_text(), path=str(path))
        plan = plan_net(a.graph)
        module, state = kh.perturbed_reference(a.graph)
        with tempfile.TemporaryDirectory() as d:
            prototxt, caffemodel = Path(d, "n.prototxt"), Path(d, "n.caffemodel")
            prototxt.write_text(prototxt_text(deploy_net(plan)))
            caffemodel.write_bytes(weights_net(plan, state).SerializeToString())
            t0 = time.perf_counter()
            imported = import_file(str(prototxt), weights=str(caffemodel), verify=False)
            seconds = time.perf_counter() - t0
        x = [torch.rand([d if isinstance(d, int) else 1 for d in a.graph.tensor(a.graph.inputs[0][1]).type.shape])]
        diff = kh.max_rel_diff(kh.run_torch(module, x), kh.run_torch(imported.model.eval(), x))
        out[stem] = {"max_rel_diff": diff, "import_s": seconds, "params": a.graph.total_params}
        del module, state, imported
    return out


def main() -> int:
    import numpy as np

    from nnlang.analyze import analyze
    from nnlang.targets.caffe.compile import compile_to_dir, make_state
    from nnlang.targets.caffe.plan import plan_net
    from nnlang.targets.caffe.writer import deploy_net, prototxt_text, weights_net

    path = ROOT / "examples" / "resnet50.nns"
    text = path.read_text()
    totals, stages = [], {"analyze": [], "plan": [], "weights (PyTorch target)": [], "messages + serialise": []}
    with tempfile.TemporaryDirectory() as out:
        for run in range(RUNS + 1):  # run 0 is the warm-up
            t0 = time.perf_counter()
            a = analyze(text, path=str(path))
            written = compile_to_dir(a, out, seed=0)
            total = time.perf_counter() - t0
            if not run:
                continue
            totals.append(total)
            t = time.perf_counter()
            a = analyze(text, path=str(path))
            t1 = time.perf_counter()
            plan = plan_net(a.graph)
            t2 = time.perf_counter()
            state = make_state(a.graph)
            t3 = time.perf_counter()
            prototxt_text(deploy_net(plan))
            weights_net(plan, state).SerializeToString()
            t4 = time.perf_counter()
            for key, value in zip(stages, (t1 - t, t2 - t1, t3 - t2, t4 - t3)):
                stages[key].append(value)
        sizes = {Path(p).suffix: os.path.getsize(p) for p in written}
        opencv = {}
        try:
            import cv2

            t0 = time.perf_counter()
            net = cv2.dnn.readNetFromCaffe(written[0], written[1])
            opencv["read_s"] = time.perf_counter() - t0
            net.setInput(np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32), "image")
            net.forward()
            t0 = time.perf_counter()
            net.forward()
            opencv["forward_224_s"] = time.perf_counter() - t0
            opencv["version"] = cv2.__version__
        except ImportError:
            opencv["skipped"] = "opencv-python-headless is not installed"
    round_trips = round_trip_large_examples()
    result = {
        "round_trip_large_examples": round_trips,
        "network": "ResNet-50 (examples/resnet50.nns), 25,557,032 parameters",
        "median_compile_s": statistics.median(totals),
        "runs_s": totals,
        "stage_medians_s": {k: statistics.median(v) for k, v in stages.items()},
        "file_bytes": sizes,
        "opencv": opencv,
        "load_at_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    (ROOT / "benchmarks" / "caffe_compile.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
