"""Weights for the PyTorch target: initialisation equal to PyTorch's own, safetensors files."""

import os
import pickle
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from nnlang.targets.torch import build  # noqa: E402
from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.torch import weights as W  # noqa: E402
from nnlang.targets.torch.seeded import build_seeded  # noqa: E402

import zoo_cache as zc  # noqa: E402
from test_torch_build import _torchvision  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))

MIXED = """
network Mixed(vocab: int = 50) {
    input image: [N, 3, 8, 8]
    input tokens: [N, T] i64
    a = image -> conv: Conv2d(4, 3, padding=1) -> bn: BatchNorm2d -> ReLU -> Flatten -> fc: Linear(6)
    s = tokens -> emb: Embedding(vocab, 8) -> lstm: LSTM(8) -> norm: LayerNorm -> attn: MultiheadAttention(2)
    output a
    output s
}
"""

# Every kind of module with weights the mappings construct (besides MIXED's): init must replay each.
ALL_WEIGHTS = """
network AllWeights(vocab: int = 30) {
    input image: [N, 4, 8, 8]
    input tokens: [N, T] i64
    input other: [N, 5]
    input labels: [N] i64
    a = image -> ct: ConvTranspose2d(4, 2, stride=2) -> dw: DepthwiseConv2d(3, padding=1)
              -> gn: GroupNorm(2) -> inorm: InstanceNorm2d(affine=true) -> pr: PReLU(num_parameters="channels")
              -> sc: Scale -> GlobalAvgPool -> Flatten
    b = (a, other) -> bil: Bilinear(6)
    e = tokens -> emb: Embedding(vocab, 8, padding_idx=0) -> gru: GRU(8, num_layers=2, bidirectional=true)
               -> rnn: RNN(6) -> lstm: LSTM(8)
    k = tokens -> emb2: Embedding(vocab, 5)
    v = tokens -> emb3: Embedding(vocab, 3)
    q = tokens -> emb4: Embedding(vocab, 8)
    att = (q, k, v) -> mha: MultiheadAttention(2, add_bias_kv=true)
    loss = (b, labels) -> ce: CrossEntropyLoss(weight=[1.0, 2.0, 1.0, 1.0, 1.0, 3.0])
    output loss
    output e
    output att
}
"""


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_identical(a: dict, b: dict):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]), k


def _scramble(model):
    """Overwrite every parameter and buffer, so initialize() has to produce all of them itself
    (except a loss's class weights: constants from the network text, which initialize() keeps)."""
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if isinstance(model.get_submodule(name.rpartition(".")[0]), torch.nn.modules.loss._Loss):
                continue
            if t.is_floating_point():
                t.fill_(123.0)
            else:
                t.fill_(5)


# ---- initialisation ------------------------------------------------------------------------------

def test_same_seed_gives_bit_identical_weights_and_different_seeds_differ():
    a, b, c = build(MIXED), build(MIXED), build(MIXED)
    W.initialize(a, seed=7)
    _scramble(b)
    W.initialize(b, seed=7)
    W.initialize(c, seed=8)
    _assert_identical(_state(a), _state(b))
    sa, sc = _state(a), _state(c)
    random = ["conv.weight", "conv.bias", "fc.weight", "emb.weight", "lstm.weight_ih_l0", "attn.in_proj_weight",
              "attn.out_proj.weight"]
    for k in random:
        assert not torch.equal(sa[k], sc[k]), k
    for k in ["bn.weight", "bn.bias", "bn.running_var", "norm.weight", "attn.in_proj_bias"]:  # constants
        assert torch.equal(sa[k], sc[k]), k


def test_caller_rng_is_untouched_with_a_seed_and_used_without_one():
    model = build(MIXED)
    torch.manual_seed(99)
    before = torch.get_rng_state()
    W.initialize(model, seed=3)
    assert torch.equal(torch.get_rng_state(), before)

    torch.manual_seed(3)
    W.initialize(model)  # seed=None: draws from (and advances) the global generator
    after_unseeded = _state(model)
    W.initialize(model, seed=3)
    _assert_identical(after_unseeded, _state(model))
    assert not torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_initialize_equals_the_same_torch_modules_constructed_in_order(seed):
    model = build(MIXED)
    _scramble(model)
    W.initialize(model, seed=seed)

    torch.manual_seed(seed)
    nn = torch.nn
    reference = {
        "conv": nn.Conv2d(3, 4, 3, padding=1), "bn": nn.BatchNorm2d(4), "fc": nn.Linear(4 * 8 * 8, 6),
        "emb": nn.Embedding(50, 8), "lstm": nn.LSTM(8, 8, batch_first=True), "norm": nn.LayerNorm(8),
        "attn": nn.MultiheadAttention(8, 2, batch_first=True),
    }
    want = {f"{name}.{k}": v for name, m in reference.items() for k, v in m.state_dict().items()}
    got = _state(model)
    assert sorted(got) == sorted(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k


@pytest.mark.parametrize("text", [MIXED, ALL_WEIGHTS], ids=["mixed", "all_weights"])
def test_initialize_equals_a_fresh_seeded_build(text):
    torch.manual_seed(11)
    fresh = build(text)
    model = build(text)
    _scramble(model)
    W.initialize(model, seed=11)
    _assert_identical(_state(fresh), _state(model))
    if text is ALL_WEIGHTS:  # constants from the network text kept, padding row zero, Scale ones / zeros
        assert model.ce.weight.tolist() == [1.0, 2.0, 1.0, 1.0, 1.0, 3.0]
        assert not model.emb.weight[0].any()
        assert model.sc.weight.eq(1).all() and not model.sc.bias.any()


def test_modules_are_registered_in_construction_order():
    # initialize() replays constructors in registration order: the builder registers in source order.
    model = build(str(ROOT / "examples" / "resnet18.nns"))
    order = [path for path, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    assert order[:2] == ["conv1", "bn1"] and order[2] == "layer1.0.conv1"
    assert order[-1] == "fc"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_initialises_as_its_seeded_build(path):
    torch.manual_seed(5)
    sizes = zc.SMALLER.get(path.stem, {})  # the pipeline tests' sizes: the same layers, initialised alike
    fresh = build(str(path), **sizes)
    # what compiles start from: constructed without torch's own random draws, then initialised
    model = build_seeded(zc.analysis(path.stem).graph, seed=5)
    _assert_identical(_state(fresh), _state(model))
    _scramble(model)
    W.initialize(model, seed=5)
    _assert_identical(_state(fresh), _state(model))


@pytest.mark.parametrize("stem", ["swin_t", "bert_encoder", "resnet18"])
def test_a_seeded_build_given_weights_equals_the_weights_loaded_over_a_seeded_build(stem, tmp_path):
    # build_seeded draws nothing when a weights file is given: every tensor, non-persistent buffers included
    # (Swin's position index), must equal the long way -- seeded, then the file loaded strictly on top.
    path = ROOT / "examples" / f"{stem}.nns"
    graph = analyze(path.read_text(), str(path)).graph
    long_way = build_seeded(graph, seed=5)
    with torch.no_grad():
        for t in long_way.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn_like(t))  # weights no seed gives
    weights = tmp_path / "w.safetensors"
    W.save(long_way, str(weights))
    W.load_state_dict(long_way, W.load_state_dict_file(str(weights)), strict=True)
    short_way = build_seeded(graph, seed=3, weights=str(weights))

    def everything(model):
        tensors = dict(model.named_parameters())
        tensors.update(model.named_buffers())  # persistent or not
        return {k: v.detach().clone() for k, v in tensors.items()}

    _assert_identical(everything(long_way), everything(short_way))


def test_parameters_without_a_known_initialisation_are_an_error():
    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

    model = build(MIXED)
    model.add_module("extra", Custom())
    with pytest.raises(W.WeightsError, match="extra: Custom has parameters and no known initialisation"):
        W.initialize(model, seed=0)


# ---- save / load ---------------------------------------------------------------------------------

def _inputs():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 8, 8, generator=g), torch.randint(0, 50, (2, 5), generator=g)


def test_round_trip_gives_identical_tensors_and_outputs(tmp_path):
    source = build(MIXED).eval()
    W.initialize(source, seed=1)
    with torch.no_grad():  # non-default running statistics, so buffers are really saved
        source.bn.running_mean.uniform_(-1, 1)
        source.bn.num_batches_tracked.fill_(17)
    path = tmp_path / "mixed.safetensors"
    W.save(source, path, metadata={"note": "test", "epochs": 3})

    target = build(MIXED).eval()
    W.initialize(target, seed=2)
    result = W.load(target, path)
    assert result.missing == [] and result.unexpected == []
    _assert_identical(_state(source), _state(target))
    with torch.no_grad():
        for a, b in zip(source(*_inputs()), target(*_inputs())):
            assert torch.equal(a, b)

    on_disk = safetensors_torch.load_file(str(path))
    assert sorted(on_disk) == sorted(source.state_dict())
    meta = W.read_metadata(path)
    import nnlang

    assert meta == {"format": "pt", "nnlang_network": "Mixed", "nnlang_version": nnlang.__version__,
                    "note": "test", "epochs": "3"}
    assert not [p for p in os.listdir(tmp_path) if p != "mixed.safetensors"]


def test_saved_file_has_ordinary_permissions(tmp_path):
    path = tmp_path / "w.safetensors"
    W.save(build(MIXED), path)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_reserved_metadata_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="format"):
        W.save(build(MIXED), tmp_path / "w.safetensors", metadata={"format": "np"})
    assert not list(tmp_path.iterdir())


def test_tied_weights_are_saved_as_separate_tensors(tmp_path):
    model = build(MIXED)
    model.extra = torch.nn.Linear(4, 4)
    model.extra2 = torch.nn.Linear(4, 4)
    model.extra2.weight = model.extra.weight  # tied: shares storage
    W.save(model, tmp_path / "tied.safetensors")
    other = build(MIXED)
    other.extra = torch.nn.Linear(4, 4)
    other.extra2 = torch.nn.Linear(4, 4)
    W.load(other, tmp_path / "tied.safetensors")
    assert torch.equal(other.extra2.weight, model.extra.weight)


def _failing_save_file(tensors, filename, metadata=None):
    with open(filename, "wb") as f:  # half a file, then the failure
        f.write(b"\x00" * 100)
    raise OSError("disk full (simulated)")


def test_a_failed_save_leaves_no_file_and_no_temp_file(tmp_path, monkeypatch):
    monkeypatch.setattr(safetensors_torch, "save_file", _failing_save_file)
    path = tmp_path / "w.safetensors"
    with pytest.raises(OSError, match="disk full"):
        W.save(build(MIXED), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    old = build(MIXED)
    W.initialize(old, seed=1)
    W.save(old, path)
    before = path.read_bytes()
    monkeypatch.setattr(safetensors_torch, "save_file", _failing_save_file)
    with pytest.raises(OSError):
        W.save(build(MIXED), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_load_lists_every_problem_at_once_and_loads_nothing(tmp_path):
    source = build(MIXED)
    W.initialize(source, seed=1)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    del state["conv.bias"], state["lstm.weight_hh_l0"]  # missing
    state["head.weight"] = torch.zeros(2)  # unexpected
    state["conv2.weight"] = torch.zeros(2)
    state["fc.weight"] = torch.zeros(10, 256)  # shape mismatch
    state["emb.weight"] = torch.zeros(40, 8)
    path = tmp_path / "bad.safetensors"
    safetensors_torch.save_file(state, str(path))

    target = build(MIXED)
    W.initialize(target, seed=2)
    before = _state(target)
    with pytest.raises(W.WeightsError) as info:
        W.load(target, path)
    e = info.value
    assert e.missing == ["conv.bias", "lstm.weight_hh_l0"]
    assert sorted(e.unexpected) == ["conv2.weight", "head.weight"]
    assert e.mismatched == [("fc.weight", (10, 256), (6, 256)), ("emb.weight", (40, 8), (50, 8))]
    message = str(e)
    for text in ["conv.bias", "lstm.weight_hh_l0", "head.weight", "conv2.weight",
                 "fc.weight: [10, 256] vs [6, 256]", "emb.weight: [40, 8] vs [50, 8]", "nothing was loaded",
                 "missing from the weights (2)", "unexpected (not in the model) (2)", "shape mismatches"]:
        assert text in message, text
    _assert_identical(before, _state(target))  # no partial load

    # Not strict: missing / unexpected keys are tolerated, shape mismatches still are not.
    with pytest.raises(W.WeightsError) as info:
        W.load(target, path, strict=False)
    assert info.value.missing == [] and info.value.unexpected == [] and len(info.value.mismatched) == 2
    _assert_identical(before, _state(target))
    del state["fc.weight"], state["emb.weight"]
    safetensors_torch.save_file(state, str(path))
    result = W.load(target, path, strict=False)
    assert result.missing == ["conv.bias", "fc.weight", "emb.weight", "lstm.weight_hh_l0"]
    assert torch.equal(target.conv.weight, source.conv.weight)
    assert torch.equal(target.conv.bias, before["conv.bias"])


def test_pt_state_dicts_load_with_weights_only(tmp_path):
    source = build(MIXED)
    W.initialize(source, seed=4)
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)
    target = build(MIXED)
    W.load(target, path)
    _assert_identical(_state(source), _state(target))
    assert sorted(W.load_state_dict_file(path)) == sorted(source.state_dict())


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_a_pickle_that_runs_code_is_refused(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    torch.save({"conv.weight": torch.zeros(1), "x": _Evil(str(marker))}, path)
    with pytest.raises(W.WeightsError, match="weights_only"):
        W.load_state_dict_file(path)
    with pytest.raises(W.WeightsError):
        W.load(build(MIXED), path)
    assert not marker.exists()
    plain = tmp_path / f"plain{suffix}"
    plain.write_bytes(pickle.dumps({"w": _Evil(str(marker))}, protocol=2))
    with pytest.raises(W.WeightsError):
        W.load_state_dict_file(plain)
    assert not marker.exists()


def test_unknown_and_non_state_dict_files_are_refused(tmp_path):
    with pytest.raises(W.WeightsError, match="unknown weights file type"):
        W.load_state_dict_file(tmp_path / "w.npz")
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "epoch": 3}, path)
    with pytest.raises(W.WeightsError, match="not a flat state_dict"):
        W.load_state_dict_file(path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(W.WeightsError, match="safetensors"):
        W.load_state_dict_file(bad)


def test_torchvision_resnet18_weights_via_safetensors_give_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    reference = _torchvision().models.resnet18(weights=None).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))

    model = build(str(ROOT / "examples" / "resnet18.nns")).eval()
    W.load(model, path)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
    assert diff <= 1e-5

    # and back out through save(): the keys are torchvision's
    out = tmp_path / "ours.safetensors"
    W.save(model, out)
    assert sorted(safetensors_torch.load_file(str(out))) == sorted(reference.state_dict())
    assert W.read_metadata(out)["nnlang_network"] == "ResNet18"


def test_a_pickle_that_would_run_code_is_refused_without_advice_to_trust_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"fc.weight": Evil()}, evil)
    with pytest.raises(W.WeightsError) as e:
        W.load_state_dict_file(str(evil))
    message = str(e.value)
    assert "GLOBAL" in message and "system" in message and "weights_only=False" not in message
    assert "arbitrary code" not in message and not marker.exists()
