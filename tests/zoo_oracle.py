"""Reference figures for the model zoo in examples/: what torchvision (or timm) says, and what our IR says.

The tests in tests/test_examples.py compare the two; running this file prints the comparison
as a table:  .venv/bin/python tests/zoo_oracle.py [name ...]

torchvision's compiled extension is not always loadable; its Python model code only needs the
two `torchvision::nms` / `qnms` operator schemas registered, so import_torchvision() defines
them when they are missing (without a kernel: no zoo model calls them).
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnlang.analyze import analyze  # noqa: E402
from nnlang.layers.base import weight_key  # noqa: E402


@dataclass(frozen=True)
class ZooModel:
    example: str  # file name in examples/
    torchvision: str  # constructor in torchvision.models (or the model name in timm, with library="timm")
    params: int  # the published parameter count (torchvision's weights meta "num_params")
    kwargs: tuple = ()  # extra constructor arguments, as (name, value) pairs
    library: str = "torchvision"  # "torchvision" or "timm"

    @property
    def path(self) -> Path:
        return EXAMPLES / self.example


# The torchvision models of the zoo, with the published parameter counts.
TORCHVISION_ZOO = (
    ZooModel("alexnet.nns", "alexnet", 61_100_840),
    ZooModel("vgg16.nns", "vgg16", 138_357_544),
    ZooModel("resnet18.nns", "resnet18", 11_689_512),
    ZooModel("resnet50.nns", "resnet50", 25_557_032),
    ZooModel("googlenet.nns", "googlenet", 6_624_904, (("aux_logits", False), ("init_weights", False))),
    ZooModel("inception_v3.nns", "inception_v3", 23_834_568, (("aux_logits", False), ("init_weights", False))),
    ZooModel("squeezenet1_0.nns", "squeezenet1_0", 1_248_424),
    ZooModel("densenet121.nns", "densenet121", 7_978_856),
    ZooModel("mobilenet_v2.nns", "mobilenet_v2", 3_504_872),
    ZooModel("vit_b_16.nns", "vit_b_16", 86_567_656),
    ZooModel("convnext_tiny.nns", "convnext_tiny", 28_589_128),
    ZooModel("efficientnet_b0.nns", "efficientnet_b0", 5_288_548),
    ZooModel("mobilenet_v3_small.nns", "mobilenet_v3_small", 2_542_856),
    ZooModel("resnet101.nns", "resnet101", 44_549_160),
    ZooModel("swin_t.nns", "swin_t", 28_288_354),
)

# The timm models of the zoo (timm.create_model(name, pretrained=False)), with the parameter counts of
# timm's model cards.
TIMM_ZOO = (
    ZooModel("inception_v4.nns", "inception_v4", 42_679_816, library="timm"),
)

# torchvision builders outside torchvision.models' classifiers: a dotted path under torchvision.models; a
# norm_layer argument names a torch.nn class. BatchNorm2d, not the detection models' FrozenBatchNorm2d (whose
# state_dict lacks num_batches_tracked), so the keys are comparable.
TORCHVISION_BUILDERS = (
    ZooModel("resnet50_fpn.nns", "detection.backbone_utils.resnet_fpn_backbone", 26_852_416,
             (("backbone_name", "resnet50"), ("norm_layer", "BatchNorm2d"))),
)

# Every model with a framework reference: the parity tests run over these.
REFERENCE_ZOO = TORCHVISION_ZOO + TIMM_ZOO + TORCHVISION_BUILDERS

# Every example, with its expected parameter count where one is known independently.
EXPECTED_PARAMS = {m.example: m.params for m in REFERENCE_ZOO}
EXPECTED_PARAMS.update({
    "lenet5.nns": 61_706,           # (6*25+6) + (16*6*25+16) + (400*120+120) + (120*84+84) + (84*10+10)
    "caffenet.nns": 60_965_224,     # BVLC reference CaffeNet
    "bert_encoder.nns": 85_054_464,  # 12 * 7,087,872: BERT-base's encoder without the embeddings
    "lstm_classifier.nns": 3_482_114,  # 20000*128 + (4*256*(128+256) + 8*256) + (4*256*512 + 8*256) + 256*2+2
    "unet.nns": 31_030_658,          # the padded U-Net without batch norm
    "all_cnn_c.nns": 1_369_738,      # Fabrik's All_CNN.prototxt, as BVLC Caffe counts its blobs
    # 8 bias-free 3x3 convolutions 8,649,648 + batch norm 4,576 + connected 12,544 * 1,470 + 1,470
    "yolo_v1_tiny.nns": 27_095_374,
    # embedding 10,000 * 300 + LSTMs (4*512*(300+512) + 8*512) + (4*512*1024 + 8*512) + 1024*1024+1024
    # + 4096*1024+1024 + 1024*1000+1000 + 2 * (1000*1000+1000)
    "vqa.nns": 15_040_248,
    # pytorch-CycleGAN-and-pix2pix's unet_256 54,413,955 ("54.414 M") + basic PatchGAN 2,768,705 ("2.769 M")
    "pix2pix.nns": 57_182_660,
    # voc-fcn32s (shelhamer/fcn.berkeleyvision.org): VGG16's convolutions 14,714,688 + fc6 102,764,544 + fc7
    # 16,781,312 + score_fr 86,037 + the bias-free upscore 1,806,336
    "fcn32s.nns": 136_152_917,
    # GPT-2 small's published 124,439,808 (lm_head tied to wte) + lm_head's own copy of wte, 50,257 * 768 =
    # 38,597,376: .nns has no weight sharing (tests/targets/test_gpt2_reference.py loads nanoGPT's state_dict)
    "gpt2_small.nns": 163_037_184,
})

MAC_TOLERANCE = 0.01  # relative


# ---- our side ----------------------------------------------------------------------------------

def analyze_example(name: str):
    path = EXAMPLES / name
    return analyze(path.read_text(encoding="utf-8"), path=str(path))


def our_state(graph) -> dict:
    """Weight name -> shape over every node of the IR: trainable parameters and buffers."""
    out = {}
    for node in graph.nodes:
        for w in node.weights:
            key = weight_key(node.path, w.name)
            if key in out:
                raise AssertionError(f"weight {key} defined twice")
            out[key] = tuple(w.shape)
    return out


def our_macs(graph) -> dict:
    """Node path -> MACs, for the nodes that have any."""
    return {node.path: node.macs for node in graph.nodes if node.macs}


def input_shape(graph, batch: int = 1) -> tuple:
    """The shape of the network's (single) input with every symbolic dim set to `batch`."""
    (_, tid), = graph.inputs
    return tuple(d if isinstance(d, int) else batch for d in graph.tensor(tid).type.shape)


# ---- torchvision's side ------------------------------------------------------------------------

_TV = None
_TV_ERROR: Optional[str] = None


def import_torchvision():
    """torchvision.models, or None (then torchvision_unavailable() says why)."""
    global _TV, _TV_ERROR
    if _TV is not None or _TV_ERROR is not None:
        return _TV
    try:
        import torch
    except Exception as e:  # pragma: no cover - depends on the environment
        _TV_ERROR = f"torch is not importable: {e}"
        return None
    try:
        import torchvision.models as models
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            _TV_ERROR = f"torchvision is not importable: {type(e).__name__}: {e}"
            return None
        # The compiled extension did not load: register the schemas torchvision's import checks
        # for, drop the half-imported package and import it again.
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        globals()["_TV_LIBRARY"] = lib  # keep the registration alive
        try:
            import torchvision.models as models
        except Exception as e2:  # pragma: no cover - depends on the environment
            _TV_ERROR = f"torchvision is not importable: {type(e2).__name__}: {e2}"
            return None
    except Exception as e:  # pragma: no cover - depends on the environment
        _TV_ERROR = f"torchvision is not importable: {type(e).__name__}: {e}"
        return None
    _TV = models
    return _TV


def torchvision_unavailable() -> Optional[str]:
    import_torchvision()
    return _TV_ERROR


def build(model: ZooModel):
    models = import_torchvision()  # timm imports torchvision too: the same registration serves both
    if models is None:
        raise RuntimeError(_TV_ERROR)
    if model.library == "timm":
        import timm

        return timm.create_model(model.torchvision, pretrained=False, **dict(model.kwargs)).eval()
    kwargs = dict(model.kwargs)
    if "norm_layer" in kwargs:
        import torch

        kwargs["norm_layer"] = getattr(torch.nn, kwargs["norm_layer"])
    builder = functools.reduce(getattr, model.torchvision.split("."), models)
    return builder(weights=None, **kwargs).eval()


def reference_state(module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


_ONE_LAYER_MODULES = ("ShiftedWindowAttention", "PatchMerging")  # torchvision's Swin modules: one layer each


def reference_macs(module, shape: tuple) -> tuple:
    """(module fqn -> MACs for every conv / linear / attention leaf, total MACs) by FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # nn.MultiheadAttention's inference fast path is one fused op (_native_multi_head_attention) that
    # FlopCounterMode has no formula for (it counts 0); the regular path computes the same products.
    # Likewise the CPU's fused scaled_dot_product_attention kernel: the math backend is plain matmuls.
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
            module(torch.zeros(shape, device=next(module.parameters()).device))  # on the module's (meta) device
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    counts = counter.get_flop_counts()
    root = type(module).__name__

    def flops(fqn: str) -> int:
        key = f"{root}.{fqn}" if fqn else "Global"
        return sum(counts.get(key, {}).values())

    per_module = {}
    inside_attention = set()  # an attention's out_proj: used through F.linear, counted with the attention
    for fqn, m in module.named_modules():
        # Swin's two modules are one layer each (nnlang/layers/window.py): their Linears and norms counted with them
        if isinstance(m, torch.nn.MultiheadAttention) or type(m).__name__ in _ONE_LAYER_MODULES:
            inside_attention.update(f"{fqn}.{name}" if fqn else name for name, _ in m.named_modules() if name)
    for fqn, m in module.named_modules():
        if fqn in inside_attention:
            continue
        if isinstance(m, (torch.nn.modules.conv._ConvNd, torch.nn.Linear, torch.nn.MultiheadAttention)) \
                or type(m).__name__ in _ONE_LAYER_MODULES:
            per_module[fqn] = flops(fqn) // 2
    return per_module, flops("") // 2


# ---- the comparison ----------------------------------------------------------------------------

@dataclass
class Report:
    model: ZooModel
    params: int
    ref_params: int
    missing: dict = field(default_factory=dict)  # in torchvision, not ours: name -> shape
    extra: dict = field(default_factory=dict)  # ours, not torchvision's
    wrong_shape: dict = field(default_factory=dict)  # name -> (ours, theirs)
    macs: int = 0
    ref_macs: int = 0
    mac_mismatches: dict = field(default_factory=dict)  # path -> (ours, theirs)
    compared_layers: int = 0  # conv / linear / attention modules whose MACs were compared
    ref_leaf_macs: int = 0  # the sum of their FlopCounterMode MACs (all of the total, for these models)
    weight_count: int = 0

    @property
    def weights_match(self) -> bool:
        return not (self.missing or self.extra or self.wrong_shape)

    @property
    def mac_error(self) -> float:
        return abs(self.macs - self.ref_macs) / self.ref_macs if self.ref_macs else float(self.macs != 0)


def close(a: int, b: int, tol: float = MAC_TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=0)


@functools.lru_cache(maxsize=None)
def compare(model: ZooModel) -> Report:
    """Our IR against torchvision's model (cached: the tests ask several questions of one comparison)."""
    a = analyze_example(model.example)
    if a.errors or a.graph is None:
        raise AssertionError(f"{model.example} does not analyse: {[str(d) for d in a.errors]}")
    g = a.graph
    mine = our_state(g)
    import torch

    # On torch's meta device: names, shapes, counts and FlopCounterMode's MACs need no memory or arithmetic
    # (measured equal to a CPU build for every model here; VGG-16 2.0 -> 0.02 s).
    with torch.device("meta"):
        ref_module = build(model)
    theirs = reference_state(ref_module)
    r = Report(model, g.total_params, sum(p.numel() for p in ref_module.parameters()), weight_count=len(theirs))
    r.missing = {k: v for k, v in theirs.items() if k not in mine}
    r.extra = {k: v for k, v in mine.items() if k not in theirs}
    r.wrong_shape = {k: (mine[k], theirs[k]) for k in mine.keys() & theirs.keys() if mine[k] != theirs[k]}

    per_module, total = reference_macs(ref_module, input_shape(g))
    ours = {node.path: node.macs or 0 for node in g.nodes}
    r.macs, r.ref_macs = g.total_macs, total
    r.compared_layers, r.ref_leaf_macs = len(per_module), sum(per_module.values())
    for fqn, ref in per_module.items():
        got = ours.get(fqn)
        if got is None or not close(got, ref):
            r.mac_mismatches[fqn] = (got, ref)
    return r


def main(argv) -> int:
    if torchvision_unavailable():
        print(f"torchvision unavailable: {torchvision_unavailable()}")
        return 1
    picked = [m for m in REFERENCE_ZOO if not argv or m.example.removesuffix(".nns") in argv]
    ok = True
    print(f"{'model':18} {'params':>12} {'published':>12} {'weights':>10} {'MACs':>15} {'FlopCounter':>15} {'err':>8} {'layers':>7}")
    for m in picked:
        r = compare(m)
        good = r.params == m.params == r.ref_params and r.weights_match and not r.mac_mismatches \
            and close(r.macs, r.ref_macs)
        ok &= good
        good &= r.ref_leaf_macs == r.ref_macs
        weights = f"{r.weight_count} ok" if r.weights_match else "MISMATCH"
        print(f"{m.example:18} {r.params:12,} {m.params:12,} {weights:>10} {r.macs:15,} {r.ref_macs:15,} "
              f"{100 * r.mac_error:7.3f}% {r.compared_layers:7}{'' if good else '  <-- FAIL'}")
        for title, d in (("missing", r.missing), ("extra", r.extra), ("wrong shape", r.wrong_shape),
                         ("MACs (ours, FlopCounterMode)", r.mac_mismatches)):
            for k, v in list(d.items())[:10]:
                print(f"    {title}: {k} {v}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
