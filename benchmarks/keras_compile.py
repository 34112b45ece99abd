"""Keras target: time to compile ResNet-50 to Keras (`.keras`, channels_last, torch backend) and the file's size.

One compile = analyse the .nns file + `compile_to_dir` (map every node once to find problems, build the
PyTorch module for its weights, seeded initialisation, convert them per layer, build the Keras functional
model with them, save). Runs in one process after a warm-up run (imports excluded); the median of the runs
is recorded in benchmarks/keras_compile.json.
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
RUNS = 3


def main() -> int:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    with tempfile.TemporaryDirectory() as home:
        os.environ["KERAS_HOME"] = home
        import keras

        from nnlang.analyze import analyze
        from nnlang.targets.keras.compile import compile_to_dir

        path = ROOT / "examples" / "resnet50.nns"
        text = path.read_text()
        totals = []
        with tempfile.TemporaryDirectory() as out:
            for run in range(RUNS + 1):  # run 0 is the warm-up
                t0 = time.perf_counter()
                a = analyze(text, path=str(path))
                written = compile_to_dir(a, out, seed=0)
                total = time.perf_counter() - t0
                if run:
                    totals.append(total)
            size = os.path.getsize(written[0])
            t0 = time.perf_counter()
            model = keras.saving.load_model(written[0], safe_mode=True)
            load_s = time.perf_counter() - t0
            trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    result = {
        "network": "ResNet-50 (examples/resnet50.nns), layout channels_last, keras " + keras.__version__,
        "median_compile_s": statistics.median(totals),
        "runs_s": totals,
        "file_bytes": size,
        "load_model_safe_mode_s": load_s,
        "trainable_params": trainable,
        "cpus": os.cpu_count(),
    }
    (ROOT / "benchmarks" / "keras_compile.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
