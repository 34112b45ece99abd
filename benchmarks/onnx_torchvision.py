"""torchvision classification models (one per family) and a 2-layer nn.TransformerEncoder exported by both
PyTorch exporters, imported back by nnlang's ONNX importer (issue 17).

    python benchmarks/onnx_torchvision.py                      # every model, every exporter / opset
    python benchmarks/onnx_torchvision.py resnet18,vit_b_16    # those models only
    python benchmarks/onnx_torchvision.py resnet18 ts11,dynamo18  # those configurations only
    python benchmarks/onnx_torchvision.py --json out.json ...  # also write the rows (appended per row)

Configurations: ts11 / ts13 / ts17 / ts18 = torch.onnx.export(dynamo=False) at that opset (batch dim dynamic);
dynamo18 = torch.onnx.export(dynamo=True) at opset 18, the dynamo exporter's least (batch dim dynamic, exported
from a batch of 2; a static batch if the exporter refuses the dynamic one). Seeded random weights, BatchNorm
statistics and affine perturbed. Each export is written to a temporary directory and imported by
nnlang.targets.onnx.load.import_model: the printed .nns must check clean and the network built from it equal
onnxruntime on random inputs (tolerance 1e-4 relative to max(1, max |y|)). `ok` rows give that relative
difference; `refused` rows the importer's first diagnostic lines; `no export` the exporter's own failure;
`crash` anything else (a bug). Prints a markdown table; benchmarks/onnx_coverage.md records a run.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# name -> input side (64 where the model allows; AlexNet / VGG's adaptive pooling to 6x6 / 7x7 and the
# transformers' fixed patch grids need their native 224; Inception v3 needs at least 75).
MODELS = {
    "alexnet": 224, "vgg11": 224, "resnet18": 64, "resnext50_32x4d": 64, "wide_resnet50_2": 64,
    "squeezenet1_0": 64, "densenet121": 64, "inception_v3": 96, "googlenet": 64, "shufflenet_v2_x0_5": 64,
    "mobilenet_v2": 64, "mobilenet_v3_small": 64, "mnasnet0_5": 64, "efficientnet_b0": 64,
    "efficientnet_v2_s": 64, "regnet_y_400mf": 64, "convnext_tiny": 64, "vit_b_16": 224, "swin_t": 224,
    "swin_v2_t": 256, "maxvit_t": 224, "transformer_encoder": 0,
}
CONFIGS = ("ts11", "ts13", "ts17", "ts18", "dynamo18")


def build(name: str):
    """(module in eval mode, example input): seeded, BN statistics perturbed so a wrong BN shows."""
    import torch

    torch.manual_seed(0)
    if name == "transformer_encoder":
        layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
        net = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
        example = torch.randn(1, 10, 64)
    else:
        import zoo_oracle as zo

        models = zo.import_torchvision()
        kwargs = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
        net = getattr(models, name)(weights=None, **kwargs).eval()
        side = MODELS[name]
        example = torch.randn(1, 3, side, side)
    with torch.no_grad():
        for p in net.parameters():  # a zero-initialised classifier (ViT's head) would make every output 0
            if p.dim() >= 2 and not p.any():
                p.normal_(0, 0.02)
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                if m.bias is not None:
                    m.bias.normal_(0, 0.2)
            if isinstance(m, torch.nn.MultiheadAttention) and m.in_proj_bias is not None:  # zeros at init
                m.in_proj_bias.normal_(0, 0.1)
                m.out_proj.bias.normal_(0, 0.1)
            if isinstance(m, torch.nn.LayerNorm) and m.weight is not None:
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
    return net, example


def export(net, example, config: str, path: str) -> str:
    """Writes the ONNX file; returns a note ('' or how the export departs from the plan)."""
    import torch

    opset = int(config.lstrip("tsdynamo"))
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if config.startswith("ts"):
            torch.onnx.export(net, (example,), path, dynamo=False, opset_version=opset, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            return ""
        batch2 = torch.cat([example, example.flip(0) * 0.5], 0)
        try:
            torch.onnx.export(net, (batch2,), path, dynamo=True, opset_version=opset, input_names=["x"],
                              output_names=["y"], dynamic_shapes=({0: torch.export.Dim("N", min=1, max=64)},),
                              optimize=True, verify=False)
            return ""
        except Exception:  # noqa: BLE001 -- the dynamic batch refused by torch.export: a static one
            torch.onnx.export(net, (example,), path, dynamo=True, opset_version=opset, input_names=["x"],
                              output_names=["y"], optimize=True, verify=False)
            return "static batch"


def measure(name: str, configs=CONFIGS, json_path=None) -> list:
    from nnlang.targets.onnx.load import ImportError_, import_model

    net, example = build(name)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            path = f"{tmp}/{name}_{config}.onnx"
            t = time.time()
            try:
                note = export(net, example, config, path)
            except Exception as e:  # noqa: BLE001 -- the exporter's limit, not ours
                row = (name, config, "no export", f"{type(e).__name__}: {str(e).strip().splitlines()[0][:120]}", 0.0)
            else:
                t = time.time()
                try:
                    r = import_model(path)
                    rel = r.max_abs_diff / max(1, r.reference_scale)
                    row = (name, config, "ok", f"{rel:.1e}" + (f" ({note})" if note else ""), time.time() - t)
                except ImportError_ as e:
                    row = (name, config, "refused", " / ".join(str(e).strip().splitlines()[:2])[:220],
                           time.time() - t)
                except Exception as e:  # noqa: BLE001
                    row = (name, config, "crash", f"{type(e).__name__}: {str(e)[:160]}", time.time() - t)
            rows.append(row)
            print(*row[:4], f"{row[4]:.1f}s", sep=" | ", flush=True)
            if json_path:
                with open(json_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            Path(path).unlink(missing_ok=True)
            Path(path + ".data").unlink(missing_ok=True)
    return rows


def matrix(rows) -> str:
    """model x configuration: `ok 1.2e-07` or the refusal, one row per model."""
    by = {(m, c): (res, detail) for m, c, res, detail, _ in rows}
    models = list(dict.fromkeys(m for m, *_ in rows))
    configs = [c for c in CONFIGS if any((m, c) in by for m in models)]
    lines = ["| model | " + " | ".join(configs) + " |", "|---" * (len(configs) + 1) + "|"]
    for m in models:
        cells = []
        for c in configs:
            res, detail = by.get((m, c), ("", ""))
            cells.append(f"ok {detail}" if res == "ok" else f"{res}: {detail}" if res else "")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    json_path = None
    if "--json" in args:
        i = args.index("--json")
        json_path = args[i + 1]
        del args[i:i + 2]
    names = args[0].split(",") if args else list(MODELS)
    configs = tuple(args[1].split(",")) if len(args) > 1 else CONFIGS
    rows = []
    for n in names:
        rows += measure(n, configs, json_path)
    print(matrix(rows))
