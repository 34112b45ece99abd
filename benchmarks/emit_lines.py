"""Lines of emitted PyTorch source per example, before issue 14 (recorded from the emitter at commit
56a70bf: one class per unrolled instance) and now; writes benchmarks/emit_lines.json, and with
--docs regenerates the samples in docs/emitted/ (checked current by tests/targets/test_torch_emit.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The emitter before issue 14 (lines, classes), measured once on these examples.
BEFORE = {"alexnet": (43, 1), "bert_encoder": (59, 2), "caffenet": (61, 1), "convnext_tiny": (171, 8),
          "densenet121": (292, 7), "efficientnet_b0": (499, 26), "googlenet": (97, 3), "inception_v3": (212, 7),
          "lenet5": (37, 1), "lstm_classifier": (20, 1), "mobilenet_v2": (371, 19), "resnet18": (67, 2),
          "resnet50": (147, 6), "squeezenet1_0": (61, 2), "unet": (81, 4), "vgg16": (101, 2), "vit_b_16": (107, 4)}
SAMPLES = {"resnet50": "ResNet50.py", "densenet121": "DenseNet121.py", "unet": "UNet.py"}


def emitted(stem: str) -> str:
    from nnlang.analyze import analyze
    from nnlang.targets.torch.emit import emit

    path = ROOT / "examples" / f"{stem}.nns"
    return emit(analyze(path.read_text(), path=str(path)), path.name)


def main() -> None:
    rows = {}
    for path in sorted((ROOT / "examples").glob("*.nns")):
        src = emitted(path.stem)
        rows[path.stem] = {"lines_before": BEFORE[path.stem][0], "classes_before": BEFORE[path.stem][1],
                           "lines_after": src.count("\n"), "classes_after": src.count("\nclass ")}
        if "--docs" in sys.argv and path.stem in SAMPLES:
            (ROOT / "docs" / "emitted" / SAMPLES[path.stem]).write_text(src)
    (ROOT / "benchmarks" / "emit_lines.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("| example | lines before | lines after | classes before | classes after |")
    print("|---|---:|---:|---:|---:|")
    for k, r in rows.items():
        print(f"| {k} | {r['lines_before']} | {r['lines_after']} | {r['classes_before']} | {r['classes_after']} |")


if __name__ == "__main__":
    main()
