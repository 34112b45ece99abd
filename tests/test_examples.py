"""The model zoo in examples/ and the shipped library nnlang/std: every file is clean, and every model
matches its reference exactly -- parameter counts, weight names and shapes (the state_dict keys), and
multiply-accumulates per layer.

The references: torchvision's and timm's models (tests/zoo_oracle.py builds them and runs FlopCounterMode),
torch.nn.TransformerEncoder for the BERT encoder, a plain torch module for the LSTM classifier.
"""

from __future__ import annotations

import json
from collections import OrderedDict
import subprocess
import sys

import pytest

import zoo_cache as zc
import zoo_oracle as zo
from nnlang.analyze import analyze

ROOT = zo.ROOT
EXAMPLES = sorted(zo.EXAMPLES.glob("*.nns"))
STD = sorted((ROOT / "nnlang" / "std").glob("*.nns"))

# What the zoo must hold: one file per network of the brief.
ZOO_FILES = {
    "lenet5.nns", "alexnet.nns", "caffenet.nns", "vgg16.nns", "resnet18.nns", "resnet50.nns", "googlenet.nns",
    "inception_v3.nns", "squeezenet1_0.nns", "densenet121.nns", "mobilenet_v2.nns", "lstm_classifier.nns",
    "bert_encoder.nns", "unet.nns", "vit_b_16.nns", "convnext_tiny.nns", "efficientnet_b0.nns",
    "resnet101.nns", "inception_v4.nns", "yolo_v1_tiny.nns", "vqa.nns", "seq2seq_attention.nns", "pix2pix.nns",
}

TV_MISSING = zo.torchvision_unavailable()
needs_torchvision = pytest.mark.skipif(TV_MISSING is not None, reason=f"torchvision reference unavailable: {TV_MISSING}")
TV_IDS = [m.example.removesuffix(".nns") for m in zo.REFERENCE_ZOO]


def nnlang(*args):
    return subprocess.run([sys.executable, "-m", "nnlang", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


# ---- every file is clean -----------------------------------------------------------------------

def test_the_zoo_is_complete():
    assert ZOO_FILES <= {p.name for p in EXAMPLES}
    assert {"resnet.nns", "transformer.nns"} <= {p.name for p in STD}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_analyses_without_any_diagnostic(path):
    a = analyze(path.read_text(encoding="utf-8"), path=str(path))
    assert [str(d) for d in a.diagnostics] == []
    g = a.graph
    assert g is not None and g.nodes and g.outputs
    assert all(node.macs is not None for node in g.nodes)
    assert all(g.tensor(t).type is not None for t in range(len(g.tensors)))


@pytest.mark.parametrize("path", STD, ids=lambda p: p.stem)
def test_std_library_file_is_clean(path):
    a = analyze(path.read_text(encoding="utf-8"), path=str(path))
    assert [str(d) for d in a.diagnostics] == []
    assert a.blocks  # a library: blocks only
    assert not a.graphs


def test_cli_check_of_the_whole_zoo_is_silent():
    r = nnlang("check", *EXAMPLES)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# ---- parameter counts --------------------------------------------------------------------------

@pytest.mark.parametrize("example,expected", sorted(zo.EXPECTED_PARAMS.items()))
def test_summary_total_params_is_the_published_count(example, expected):
    returncode, stdout, stderr = zc.summary_json(str(zo.EXAMPLES / example))  # the process, run once per session
    assert returncode == 0, stderr
    assert json.loads(stdout)["total_params"] == expected


@pytest.mark.parametrize("example,expected", sorted(zo.EXPECTED_PARAMS.items()))
def test_api_total_params_is_the_published_count(example, expected):
    assert zo.analyze_example(example).graph.total_params == expected


# ---- torchvision: weights and MACs -------------------------------------------------------------

@needs_torchvision
@pytest.mark.parametrize("model", zo.REFERENCE_ZOO, ids=TV_IDS)
def test_params_equal_torchvision(model):
    r = zo.compare(model)
    assert r.params == r.ref_params == model.params


@needs_torchvision
@pytest.mark.parametrize("model", zo.REFERENCE_ZOO, ids=TV_IDS)
def test_weight_names_and_shapes_equal_torchvision_state_dict(model):
    r = zo.compare(model)
    assert r.missing == {}, "in torchvision's state_dict, not in ours"
    assert r.extra == {}, "ours, not in torchvision's state_dict"
    assert r.wrong_shape == {}, "(ours, torchvision's)"
    assert r.weight_count > 0


@needs_torchvision
@pytest.mark.parametrize("model", zo.REFERENCE_ZOO, ids=TV_IDS)
def test_macs_per_layer_equal_flop_counter(model):
    r = zo.compare(model)
    assert r.compared_layers > 0
    # Every counted MAC of the reference is in a conv / linear module, so the per-layer check covers it all.
    assert r.ref_leaf_macs == r.ref_macs
    assert r.mac_mismatches == {}, "(ours, FlopCounterMode) per layer, beyond 1 %"
    assert zo.close(r.macs, r.ref_macs), (r.macs, r.ref_macs)


# The std library against torchvision models the examples do not cover: other depths, groups, widths.
STD_RESNETS = {
    "resnet34": ("BasicStage", "(64, 3)", "(128, 4, stride=2)", "(256, 6, stride=2)", "(512, 3, stride=2)"),
    "resnext50_32x4d": ("BottleneckStage", "(64, 3, groups=32, base_width=4)",
                        "(128, 4, stride=2, groups=32, base_width=4)", "(256, 6, stride=2, groups=32, base_width=4)",
                        "(512, 3, stride=2, groups=32, base_width=4)"),
    "wide_resnet50_2": ("BottleneckStage", "(64, 3, base_width=128)", "(128, 4, stride=2, base_width=128)",
                        "(256, 6, stride=2, base_width=128)", "(512, 3, stride=2, base_width=128)"),
}


@needs_torchvision
@pytest.mark.parametrize("name", sorted(STD_RESNETS))
def test_std_resnet_stages_build_other_torchvision_resnets(name):
    stage, *args = STD_RESNETS[name]
    layers = "\n".join(f"        -> layer{i + 1}: {stage}{a}" for i, a in enumerate(args))
    text = f"""use "std/resnet"
network Net {{
    input image: [N, 3, 224, 224]
    logits = image
        -> conv1: Conv2d(64, 7, stride=2, padding=3, bias=false) -> bn1: BatchNorm2d -> ReLU
        -> MaxPool2d(3, stride=2, padding=1)
{layers}
        -> AdaptiveAvgPool2d(1) -> Flatten -> fc: Linear(1000)
    output logits
}}
"""
    a = analyze(text)
    assert [str(d) for d in a.diagnostics] == []
    ref = zo.build(zo.ZooModel("-", name, 0))
    assert zo.our_state(a.graph) == zo.reference_state(ref)
    assert a.graph.total_params == sum(p.numel() for p in ref.parameters())
    per_module, total = zo.reference_macs(ref, (1, 3, 224, 224))
    ours = zo.our_macs(a.graph)
    assert {k: ours.get(k, 0) for k in per_module} == per_module
    assert a.graph.total_macs == total


# ---- torch.nn references for the models torchvision does not have ------------------------------

def _torch():
    return pytest.importorskip("torch", reason="torch is not installed: no reference for this model")


def _flops_by_module(module, *inputs) -> dict:
    torch = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    root = type(module).__name__
    return {("" if k in ("Global", root) else k.removeprefix(root + ".")): sum(v.values()) // 2
            for k, v in counter.get_flop_counts().items()}


def test_bert_encoder_equals_torch_transformer_encoder():
    torch = _torch()
    a = zo.analyze_example("bert_encoder.nns")
    g = a.graph
    layer = torch.nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.1, activation="gelu", layer_norm_eps=1e-12,
                                             batch_first=True)
    ref = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
    assert zo.our_state(g) == zo.reference_state(ref)
    assert g.total_params == sum(p.numel() for p in ref.parameters()) == 85_054_464
    # Training mode: in eval mode torch takes the fused fast path, which FlopCounterMode does not see.
    ref.train()
    flops = _flops_by_module(ref, torch.zeros(zo.input_shape(g)))
    ours = zo.our_macs(g)
    for i in range(12):
        for sub in ("self_attn", "linear1", "linear2"):
            path = f"layers.{i}.{sub}"
            assert ours[path] == flops[path], path
    assert g.total_macs == flops[""]


def test_bert_encoder_output_shape():
    g = zo.analyze_example("bert_encoder.nns").graph
    ((_, out),) = g.outputs
    assert g.tensor(out).type.shape == ("N", 128, 768)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_std_transformer_encoder_layer_equals_torch(norm_first, activation):
    torch = _torch()
    text = f"""use "std/transformer"
network Net {{
    input x: [N, 10, 64]
    y = x -> layers: TransformerEncoderLayer(4, dim_feedforward=256, activation="{activation}",
                                             norm_first={'true' if norm_first else 'false'}) * 2
    output y
}}
"""
    a = analyze(text)
    assert [str(d) for d in a.diagnostics] == []
    g = a.graph
    ref = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(64, 4, 256, activation=activation, norm_first=norm_first, batch_first=True),
        2, enable_nested_tensor=False)
    assert zo.our_state(g) == zo.reference_state(ref)
    assert g.total_params == sum(p.numel() for p in ref.parameters())
    ref.train()
    assert g.total_macs == _flops_by_module(ref, torch.zeros(1, 10, 64))[""]
    # The order of the operations, as torch runs them (pre-norm: LayerNorm first; post-norm: after the sum).
    ops = [node.op for node in g.nodes if node.path.startswith("layers.0.")]
    act = "GELU" if activation == "gelu" else "ReLU"
    if norm_first:
        assert ops == ["LayerNorm", "MultiheadAttention", "Dropout", "Add",
                       "LayerNorm", "Linear", act, "Dropout", "Linear", "Dropout", "Add"]
    else:
        assert ops == ["MultiheadAttention", "Dropout", "Add", "LayerNorm",
                       "Linear", act, "Dropout", "Linear", "Dropout", "Add", "LayerNorm"]


@pytest.mark.filterwarnings("ignore:TF32 acceleration:UserWarning")
def test_lstm_classifier_equals_torch():
    torch = _torch()

    class LSTMClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(20000, 128)
            self.lstm = torch.nn.LSTM(128, 256, num_layers=2, batch_first=True)
            self.fc = torch.nn.Linear(256, 2)

        def forward(self, tokens):
            seq, _ = self.lstm(self.embedding(tokens))
            return self.fc(seq[:, -1])

    g = zo.analyze_example("lstm_classifier.nns").graph
    (_, tid), = g.inputs
    assert g.tensor(tid).type.shape == ("N", "T") and g.tensor(tid).type.dtype == "i64"
    ((_, out),) = g.outputs
    assert g.tensor(out).type.shape == ("N", 2)
    ref = LSTMClassifier().eval()
    assert zo.our_state(g) == zo.reference_state(ref)
    assert g.total_params == sum(p.numel() for p in ref.parameters())
    # MACs per example and time step (symbolic N and T count as 1). CPU LSTM runs a fused oneDNN kernel
    # that FlopCounterMode cannot see; without oneDNN it runs the counted matrix products.
    with torch.backends.mkldnn.flags(enabled=False):
        flops = _flops_by_module(ref, torch.zeros(1, 1, dtype=torch.long))
    assert zo.our_macs(g) == {"lstm": flops["lstm"], "fc": flops["fc"]}


# ---- the other examples against torch modules written the plain way -----------------------------

def _assert_matches_torch(example: str, ref, dtype=None):
    """State dict names and shapes, parameter count, and MACs per conv / linear layer and in total."""
    torch = _torch()
    g = zo.analyze_example(example).graph
    assert zo.our_state(g) == zo.reference_state(ref)
    assert g.total_params == sum(p.numel() for p in ref.parameters())
    ref.eval()
    flops = _flops_by_module(ref, torch.zeros(zo.input_shape(g), dtype=dtype or torch.float32))
    ours = zo.our_macs(g)
    leaves = [name for name, m in ref.named_modules()
              if isinstance(m, (torch.nn.modules.conv._ConvNd, torch.nn.Linear))]
    assert leaves
    assert {name: ours.get(name, 0) for name in leaves} == {name: flops.get(name, 0) for name in leaves}
    assert g.total_macs == flops[""]
    return g


def test_lenet5_equals_torch():
    nn = _torch().nn
    ref = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 6, 5, padding=2), r1=nn.ReLU(), p1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(6, 16, 5), r2=nn.ReLU(), p2=nn.MaxPool2d(2), flat=nn.Flatten(),
        fc1=nn.Linear(400, 120), r3=nn.ReLU(), fc2=nn.Linear(120, 84), r4=nn.ReLU(), fc3=nn.Linear(84, 10)))
    g = _assert_matches_torch("lenet5.nns", ref)
    shapes = {node.path: g.tensor(node.outputs[0]).type.shape for node in g.nodes}
    assert shapes["conv1"] == ("N", 6, 28, 28)
    assert shapes["conv2"] == ("N", 16, 10, 10)
    assert shapes["fc3"] == ("N", 10)


def test_caffenet_equals_torch_and_carries_the_prototxt_names():
    nn = _torch().nn
    ref = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 96, 11, stride=4), relu1=nn.ReLU(), pool1=nn.MaxPool2d(3, 2, ceil_mode=True),
        norm1=nn.LocalResponseNorm(5, 1e-4, 0.75),
        conv2=nn.Conv2d(96, 256, 5, padding=2, groups=2), relu2=nn.ReLU(), pool2=nn.MaxPool2d(3, 2, ceil_mode=True),
        norm2=nn.LocalResponseNorm(5, 1e-4, 0.75),
        conv3=nn.Conv2d(256, 384, 3, padding=1), relu3=nn.ReLU(),
        conv4=nn.Conv2d(384, 384, 3, padding=1, groups=2), relu4=nn.ReLU(),
        conv5=nn.Conv2d(384, 256, 3, padding=1, groups=2), relu5=nn.ReLU(), pool5=nn.MaxPool2d(3, 2, ceil_mode=True),
        flatten=nn.Flatten(),
        fc6=nn.Linear(9216, 4096), relu6=nn.ReLU(), drop6=nn.Dropout(),
        fc7=nn.Linear(4096, 4096), relu7=nn.ReLU(), drop7=nn.Dropout(),
        fc8=nn.Linear(4096, 1000), prob=nn.Softmax(dim=1)))
    g = _assert_matches_torch("caffenet.nns", ref)
    assert {node.path for node in g.nodes if node.op == "LocalResponseNorm"} == {"norm1", "norm2"}
    ((_, out),) = g.outputs
    assert g.tensor(out).type.shape == ("N", 1000)


def test_unet_equals_torch_and_keeps_the_input_size():
    torch = _torch()
    nn = torch.nn

    def double_conv(cin, c):
        return nn.Sequential(nn.Conv2d(cin, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU())

    class Down(nn.Module):
        def __init__(self, cin, c):
            super().__init__()
            self.pool, self.conv = nn.MaxPool2d(2), double_conv(cin, c)

        def forward(self, x):
            return self.conv(self.pool(x))

    class Up(nn.Module):
        def __init__(self, cin, c):
            super().__init__()
            self.up, self.conv = nn.ConvTranspose2d(cin, c, 2, stride=2), double_conv(2 * c, c)

        def forward(self, x, skip):
            return self.conv(torch.cat([skip, self.up(x)], 1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = double_conv(1, 64)
            self.down1, self.down2, self.down3, self.down4 = Down(64, 128), Down(128, 256), Down(256, 512), \
                Down(512, 1024)
            self.up1, self.up2, self.up3, self.up4 = Up(1024, 512), Up(512, 256), Up(256, 128), Up(128, 64)
            self.outc = nn.Conv2d(64, 2, 1)

        def forward(self, x):
            e1 = self.inc(x)
            e2 = self.down1(e1)
            e3 = self.down2(e2)
            e4 = self.down3(e3)
            d = self.up1(self.down4(e4), e4)
            return self.outc(self.up4(self.up3(self.up2(d, e3), e2), e1))

    g = _assert_matches_torch("unet.nns", UNet())
    ((_, out),) = g.outputs
    assert g.tensor(out).type.shape == ("N", 2, 256, 256)
    assert sum(node.op == "Concat" for node in g.nodes) == 4
    assert g.total_params == 31_030_658
