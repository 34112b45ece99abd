"""The Keras mappings added for the layers that had none (norms, PReLU and the other activations, Pad / Slice /
Split / Mean / Sum, MatMul, Scale, Bilinear, Upsample, the losses), beyond test_keras_mapping's one-layer cases:

* small networks that put them behind convolutions (so they read channels-last maps), with configurations the
  one-layer cases miss (fractional and sized nearest, bicubic, trilinear, reflect / replicate / circular pads,
  negative pads, spatial cross-entropy ...): outputs equal to the PyTorch target's with perturbed weights in
  both layouts within 1e-4 x max(1, |y|), trainable parameters equal to `nnlang summary`'s;
* one save / load round trip for the set: every network here and every one-layer case of these layers is saved
  as .keras, and one fresh process without nnlang loads them all with keras.saving.load_model(safe_mode=True)
  and reproduces the in-memory outputs;
* what stays unexpressible is refused before anything is written, naming the layer and the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported: never TensorFlow
pytest.importorskip("keras")

import _keras_harness as kh  # noqa: E402
import _torch_harness as th  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from test_keras_mapping import NOT_EXPRESSIBLE  # noqa: E402
from test_torch_mapping import CASES  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.keras import compile_to_dir  # noqa: E402
from nnlang.targets.keras.emit import CompileError  # noqa: E402

NEW_LAYERS = ['BCELoss', 'BCEWithLogitsLoss', 'Bilinear', 'CELU', 'CrossEntropyLoss', 'GroupNorm', 'HuberLoss',
              'InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d', 'KLDivLoss', 'L1Loss', 'MSELoss', 'MatMul',
              'Mean', 'NLLLoss', 'PReLU', 'Pad', 'Scale', 'Slice', 'SmoothL1Loss', 'Softplus', 'Split', 'Sum',
              'Threshold', 'Upsample']

NETS = {
    "norms_activations": """
network NormsActivations {
    input x: [2, 3, 8, 8]
    y = x -> c1: Conv2d(6, 3, padding=1) -> GroupNorm(2, eps=1e-3) -> PReLU(num_parameters="channels")
        -> InstanceNorm2d(affine=true) -> InstanceNorm2d(affine=true, track_running_stats=true, eps=1e-3)
        -> InstanceNorm2d -> Scale -> CELU(0.7) -> Softplus(beta=2.0, threshold=1.0) -> Threshold(0.2, -1.0)
        -> c2: Conv2d(4, 1) -> Flatten -> Linear(5)
    output y
}
""",
    "norms_1d_3d": """
network Norms13 {
    input x: [2, 3, 9], v: [1, 2, 3, 4, 5]
    y = x -> Conv1d(4, 3) -> InstanceNorm1d(affine=true, track_running_stats=true) -> PReLU -> Scale(axis=1)
        -> GroupNorm(4, affine=false) -> Conv1d(2, 1)
    z = v -> Conv3d(4, 1) -> InstanceNorm3d -> GroupNorm(2) -> PReLU(4) -> Conv3d(3, 1)
    output y, z
}
""",
    "resample_2d": """
network Resample2d {
    input x: [2, 3, 5, 6]
    y = x -> Conv2d(4, 3, padding=1) -> Upsample(scale_factor=1.5) -> Upsample(size=(11, 13), mode="bilinear")
        -> Upsample(scale_factor=2, mode="bicubic", align_corners=true) -> Upsample(size=(25, 27), mode="bicubic")
        -> Upsample(size=(30, 29)) -> Upsample(size=(60, 58)) -> Conv2d(2, 3)
    output y
}
""",
    "resample_1d_3d": """
network Resample13 {
    input x: [2, 3, 7], v: [1, 2, 3, 4, 5]
    y = x -> Conv1d(4, 3) -> Upsample(scale_factor=3) -> Upsample(size=12, mode="linear", align_corners=true)
        -> Upsample(scale_factor=0.75, mode="linear") -> Conv1d(2, 1)
    w = x -> Upsample(scale_factor=41)
    z = v -> Conv3d(3, 1) -> Upsample(scale_factor=2) -> Upsample(scale_factor=(1.5, 1.0, 0.5), mode="trilinear")
        -> Upsample(size=(5, 7, 9), mode="trilinear", align_corners=true) -> Conv3d(2, 1)
    output y, z, w
}
""",
    "pads_slices_reductions": """
network PadsSlices {
    input x: [2, 3, 6, 7]
    y = x -> Conv2d(4, 1) -> Pad((1, 2, 2, 0), mode="replicate") -> Pad((2, 1, 1, 1), mode="reflect")
        -> Pad((1, 2, 1, 0), mode="circular") -> Pad((-1, 1, 0, -2), value=0.5) -> Slice(2, start=1, end=-1)
        -> Slice(3, step=2)
    (a, b) = y -> Split((1, 3), axis=1)
    m = b -> Mean(axis=(2, 3))
    s = a -> Sum(axis=2, keepdims=true) -> Conv2d(2, 1)
    t = b -> Sum(axis=-1) -> Conv1d(2, 1)
    output m, s, t
}
""",
    "symbolic_sizes": """
network Symbolic {
    input x: [N, 3, H, W]
    y = x -> Conv2d(4, 3, padding=1) -> Upsample(scale_factor=3) -> GroupNorm(2) -> Scale
        -> PReLU(num_parameters="channels") -> InstanceNorm2d(affine=true) -> Pad((1, 1, 2, 0), value=0.5)
        -> Slice(3, start=1, end=-1) -> Mean(axis=(0, 2))
    output y
}
""",
    "bilinear_matmul": """
network BilinearMatmul {
    input p: [2, 5, 3], q: [2, 5, 4], r: [2, 6, 2]
    y = (p, q) -> Bilinear(6)
    z = (y, r) -> MatMul
    output z
}
""",
    "losses": """
network Losses {
    input x: [2, 3, 4, 4], t: [2, 4, 4] i64, p: [2, 3, 4, 4]
    logits = x -> Conv2d(5, 1)
    ce = (logits, t) -> CrossEntropyLoss(weight=(1.0, 2.0, 0.5, 1.0, 3.0), ignore_index=2, label_smoothing=0.2)
    logp = logits -> LogSoftmax(dim=1)
    nll = (logp, t) -> NLLLoss(reduction="sum")
    both = x -> Conv2d(3, 1)
    bce = (both, p) -> BCEWithLogitsLoss(pos_weight=(1.0, 2.0, 3.0, 0.5), reduction="none")
    logq = both -> LogSoftmax(dim=1)
    kl = (logq, p) -> KLDivLoss(reduction="batchmean")
    output ce, nll, bce, kl
}
""",
}


def _inputs(g, high: int = 5) -> list:
    gen = torch.Generator().manual_seed(7)
    out = []
    for _, tid in g.inputs:
        t = g.tensor(tid).type
        shape = [d if isinstance(d, int) else th.SIZES.get(str(d), 3) for d in t.shape]
        out.append(torch.randint(0, high, shape, generator=gen) if t.dtype[0] in "iu"
                   else torch.randn(shape, generator=gen))
    return out


def _net(name: str):
    a = analyze(NETS[name], path=f"{name}.nns")
    assert a.errors == [], [str(d) for d in a.errors]
    return a


@pytest.fixture(scope="module")
def nets():
    """{name: (analysis, torch module, perturbed state, inputs, {layout: Built})}, built once."""
    out = {}
    for name in NETS:
        a = _net(name)
        module, state = kh.perturbed_reference(a.graph)
        out[name] = (a, module, state, _inputs(a.graph),
                     {layout: kh.keras_model(a.graph, state, layout) for layout in kh.LAYOUTS})
    return out


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("layout", kh.LAYOUTS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_network_equals_torch_and_counts_the_same_parameters(nets, name, layout):
    a, module, state, tensors, built = nets[name]
    b = built[layout]
    assert b.problems == []
    assert kh.trainable(b.model) == a.graph.total_params
    diff = kh.max_rel_diff(kh.run_torch(module, tensors), kh.run_keras(b, tensors))
    assert diff <= 1e-4, (name, layout, diff)


def test_every_registry_layer_has_a_keras_mapping():
    from nnlang.layers.registry import all_layers
    from nnlang.targets.keras.mapping import registry

    assert sorted(spec.name for spec in all_layers() if spec.name not in registry()) == []


def test_the_networks_use_every_new_layer():
    used = {n.op for name in NETS for n in _net(name).graph.nodes}
    assert set(NEW_LAYERS) - used <= {"BCELoss", "HuberLoss", "L1Loss", "MSELoss", "SmoothL1Loss"}  # one-layer cases


LOADER = textwrap.dedent("""
    import json, os, sys, zipfile
    import numpy as np
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    folder = sys.argv[1]
    report, classes = {}, set()

    def walk(o):  # every serialised object's (module, class_name): layers, op nodes, initialisers ...
        if isinstance(o, dict):
            if "class_name" in o and "module" in o:
                classes.add((o["module"], o["class_name"]))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for name in sorted(json.load(open(os.path.join(folder, "index.json")))):
        walk(json.loads(zipfile.ZipFile(os.path.join(folder, name + ".keras")).read("config.json")))
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"), safe_mode=True)
        feeds = np.load(os.path.join(folder, name + ".in.npz"))
        xs = [feeds[f"x{i}"] for i in range(len(feeds.files))]
        ys = model(xs if len(xs) > 1 else xs[0])
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        np.savez(os.path.join(folder, name + ".out.npz"), *[np.asarray(y.detach().cpu()) for y in ys])
        report[name] = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    report["nnlang imported"] = any(m.split(".")[0] == "nnlang" for m in sys.modules)
    report["classes"] = sorted(f"{m}.{c}" for m, c in classes)
    print(json.dumps(report))
""")


def _single_layer_cases():
    for name in NEW_LAYERS:
        for i, case in enumerate(CASES.get(name, [])):
            if (name, i) not in NOT_EXPRESSIBLE:
                yield f"{name}-{i}", case


@pytest.mark.filterwarnings("ignore")
def test_saved_files_load_safely_in_a_fresh_process_and_compute_the_same(nets, tmp_path):
    expected, trainable = {}, {}

    def save(key, built, feeds, graph):
        assert kh.trainable(built.model) == graph.total_params, key  # nnlang summary's count
        xs = [t.numpy().transpose(perm) if perm else t.numpy() for perm, t in zip(built.inputs, feeds)]
        built.model.save(str(tmp_path / f"{key}.keras"))
        np.savez(tmp_path / f"{key}.in.npz", **{f"x{i}": x for i, x in enumerate(xs)})
        ys = built.model(xs if len(xs) > 1 else xs[0])
        expected[key] = [np.asarray(y.detach().cpu()) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]
        trainable[key] = kh.trainable(built.model)

    for name, (a, module, state, tensors, built) in nets.items():
        save(name, built["channels_last"], tensors, a.graph)
    for key, case in _single_layer_cases():
        a = analyze(th.network(list(case.inputs), case.call, case.outs), path="t.nns")
        g = a.graph
        _, state = kh.perturbed_reference(g)
        built = kh.keras_model(g, state, "channels_last")
        assert built.problems == [], key
        feeds = [th.sample(g.tensor(t).type, case.high, th.SIZES) for _, t in g.inputs] if case.make is None \
            else case.make([g.tensor(t).type for _, t in g.inputs])
        save(key, built, feeds, g)
    (tmp_path / "index.json").write_text(json.dumps(sorted(expected)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path)], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report.pop("nnlang imported") is False
    classes = report.pop("classes")
    assert all(c.startswith("keras.") for c in classes), classes  # Keras's own layers and ops, nothing else
    assert not any(c.endswith((".Lambda", ".TFOpLambda")) for c in classes), classes
    assert report == trainable
    for key, want in expected.items():
        got = np.load(tmp_path / f"{key}.out.npz")
        got = [got[f"arr_{i}"] for i in range(len(got.files))]
        assert kh.max_rel_diff(want, got) <= 1e-6, key
    assert len(expected) >= len(NETS) + 60


REFUSED = [
    # (network text, layer, reason)
    ("network R { input x: [N, 3, H, W]\n    y = x -> Upsample(scale_factor=1.5)\n    output y\n}",
     "Upsample", "Upsample: the input size of an interpolated axis ('H') must be known"),
    ("network R { input x: [N, 3, L]\n    y = x -> Upsample(scale_factor=41)\n    output y\n}",
     "Upsample", "Upsample: the input size of an interpolated axis ('L') must be known"),
    ("network R { input x: [3, 8]\n    y = x -> InstanceNorm1d\n    output y\n}",
     "InstanceNorm1d", "InstanceNorm1d on an unbatched input: Keras layers need a batch axis"),
    ("network R { input x: [5], t: [] i64\n    y = (x, t) -> CrossEntropyLoss\n    output y\n}",
     "CrossEntropyLoss", "CrossEntropyLoss on an unbatched input: Keras layers need a batch axis"),
]


@pytest.mark.parametrize("text, layer, reason", REFUSED, ids=[r[1] for r in REFUSED])
def test_what_keras_cannot_express_is_refused_with_the_layer_and_reason(text, layer, reason, tmp_path):
    a = analyze(text, path="r.nns")
    assert a.errors == [], [str(d) for d in a.errors]
    out = tmp_path / "out"
    with pytest.raises(CompileError) as e:
        compile_to_dir(a, str(out))
    assert [(n.op, why) for n, why in e.value.problems] == [(layer, reason)]
    assert f"({layer}): {reason}" in str(e.value)
    assert not out.exists()
