"""PyTorch target: ResNet-50 forward (batch 8, 224x224, eval, CPU) of the emitted source and of the
in-process build vs torchvision's, and the time to compile ResNet-50 to source.

All models hold the same weights and run in turn (order rotated) in one process; medians and
ratios are recorded in benchmarks/torch_forward.json. Targets (issue 3): emitted forward <= 1.02 x
torchvision; analysis + source emission <= 1 s (weight initialisation excluded).
"""

import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load() -> float:
    """The 1-minute load average (a run on a busy machine is not a measurement)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def main() -> int:
    load = _load()
    try:
        import torchvision
    except Exception:
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision
    from nnlang.analyze import analyze
    from nnlang.targets.torch import build
    from nnlang.targets.torch.emit import emit

    path = ROOT / "examples" / "resnet50.nns"
    compile_times = []
    for _ in range(5):
        t = time.perf_counter()
        source = emit(analyze(path.read_text(), path=str(path)), path.name)
        compile_times.append(time.perf_counter() - t)
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None).eval()
    t = time.perf_counter()
    built = build(str(path)).eval()
    build_s = time.perf_counter() - t
    namespace: dict = {}
    exec(compile(source, "resnet50.py", "exec"), namespace)
    emitted = namespace["ResNet50"]().eval()
    for model in (built, emitted):
        model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(8, 3, 224, 224)
    models = [("emitted", emitted), ("built", built), ("torchvision", reference)]
    times = {name: [] for name, _ in models}
    with torch.inference_mode():
        for _, model in models:
            model(x)  # warm-up
        for k in range(24):
            for name, model in models[k % 3:] + models[:k % 3]:
                t = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"compile_to_source_s": statistics.median(compile_times), "build_s": build_s, "median_forward_s": med,
              "ratio_emitted": med["emitted"] / med["torchvision"], "ratio_built": med["built"] / med["torchvision"],
              "ratio_emitted_to_built": med["emitted"] / med["built"], "load_at_start": load,
              "threads": torch.get_num_threads(), "runs": 24}
    (ROOT / "benchmarks" / "torch_forward.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
