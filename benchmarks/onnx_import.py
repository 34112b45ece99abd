"""Import of a ResNet-50 ONNX file (torchvision's, exported by torch.onnx with dynamo=False) to .nns.

Measures, median of repeated runs in one process (after one warm-up): `import_model` without the
verification run (read, shape inference, mapping, block recovery, printing, building the network
back with its weights) and with it (plus one onnxruntime and one PyTorch forward at batch 2).
Writes benchmarks/onnx_import.json.   Run: .venv/bin/python benchmarks/onnx_import.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402
import zoo_oracle as zo  # noqa: E402

from nnlang.targets.onnx.load import import_model  # noqa: E402

RUNS = 5


def main() -> None:
    models = zo.import_torchvision()
    net = models.resnet50(weights=None).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False, opset_version=17,
                              input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        result = import_model(str(path))  # warm-up (imports onnx, torch, onnxruntime)
        plain, verified = [], []
        for _ in range(RUNS):
            t = time.perf_counter()
            import_model(str(path), verify=False)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            import_model(str(path))
            verified.append(time.perf_counter() - t)
    out = {
        "model": "torchvision resnet50, torch.onnx.export(dynamo=False, opset 17)",
        "lines_of_nns": len(result.text.splitlines()),
        "max_abs_diff": result.max_abs_diff,
        "import_s_median": round(statistics.median(plain), 3),
        "import_with_verification_s_median": round(statistics.median(verified), 3),
        "runs": RUNS,
        "target_s": 2.0,
    }
    (HERE / "onnx_import.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
