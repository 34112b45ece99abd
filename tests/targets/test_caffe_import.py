"""`nnlang import net.prototxt --weights net.caffemodel`: the imported network, built with PyTorch, computes
what OpenCV's Caffe runtime computes on the original files (random perturbed weights: biases, BN statistics
and scale factors moved off their initial values), max |d| / max(1, |y|) <= 1e-4. Hostile files give one
clear error and write nothing; nothing in a file is run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.caffe.load import convert, import_file, refuse_code  # noqa: E402
from nnlang.targets.caffe.reading import read_caffemodel, read_prototxt  # noqa: E402
from nnlang.targets.importing import ImportError_  # noqa: E402

from _caffe_oracle import random_blobs, run_caffe, write_caffemodel  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus" / "caffe"
TOLERANCE = 1e-4


def structure(prototxt) -> object:
    """The importer's converter for a prototxt, structure only (its bottoms' shapes per Caffe layer)."""
    net = read_prototxt(str(prototxt))
    refuse_code(net)
    conv, _text, _printed = convert(net, None, "Net", "test")
    return conv


def random_caffemodel(prototxt, path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    conv = structure(prototxt)
    by_name = {layer.name: layer for layer in read_prototxt(str(prototxt)).layers}
    blobs = {}
    for name, bottoms in conv.layer_inputs.items():
        arrays = random_blobs(by_name[name], bottoms, rng)
        if arrays:
            blobs[name] = arrays
    write_caffemodel(path, blobs)


def relative(want: np.ndarray, got: np.ndarray) -> float:
    """max |d| / max |y|: stricter than the project's max(1, |y|) for softmax outputs (probabilities ~1e-3)."""
    d = float(np.abs(want.astype(np.float64) - got).max()) / max(1e-12, float(np.abs(want).max()))
    return d if np.isfinite(d) else float("inf")


def check_against_opencv(prototxt, tmp_path, seed: int = 0, batch: int = 1) -> float:
    model_path = tmp_path / "net.caffemodel"
    random_caffemodel(prototxt, model_path, seed)
    result = import_file(str(prototxt), weights=str(model_path), verify=False)
    import torch

    rng = np.random.default_rng(seed + 1)
    graph = result.graph
    feeds = {}
    for name, tid in graph.inputs:
        feeds[name] = rng.standard_normal((batch,) + tuple(graph.tensor(tid).type.shape[1:])).astype(np.float32)
    want = run_caffe(prototxt, model_path, feeds)
    with torch.no_grad():
        got = result.model(*[torch.from_numpy(a) for a in feeds.values()])
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want)
    diff = 0.0
    for w, g in zip(want.values(), got):
        assert w.size == g.numel(), (w.shape, tuple(g.shape))
        diff = max(diff, relative(w.reshape(tuple(g.shape)), g.numpy()))
    return diff


def small_copy(src: Path, tmp_path: Path, size=None, edits=()) -> Path:
    """A copy of a corpus prototxt with batch 1, the input's spatial size `size`, and textual edits."""
    text = src.read_text()
    if size is not None:
        cut = re.search(r'type:\s*"(Convolution|InnerProduct)"', text).start()
        head, rest = text[:cut], text[cut:]
        dims = iter(range(10_000))

        def new_dim(m):
            k = next(dims) % 4
            value = {0: "1", 2: str(size), 3: str(size)}.get(k, m.group(2))
            return m.group(1) + value
        head = re.sub(r"(\bdim:\s*)(\d+)", new_dim, head)
        text = head + rest
    for old, new in edits:
        text = text.replace(old, new)
    out = tmp_path / src.name
    out.write_text(text)
    return out


def _corpus():
    if not CORPUS.is_dir():
        pytest.skip(f"the Caffe corpus is not here ({CORPUS} absent: /work/shared is not mounted)")


# file, input size (None: as written), textual edits (smaller fully connected layers keep the test fast)
_FC_SMALL = (("num_output: 4096", "num_output: 256"),)
NETS = {
    "lenet": ("caffe_examples_mnist_lenet.prototxt", None, ()),
    "cifar10_quick": ("caffe_examples_cifar10_cifar10_quick.prototxt", None, ()),
    "cifar10_full": ("caffe_examples_cifar10_cifar10_full.prototxt", None, ()),  # WITHIN_CHANNEL LRN
    "caffenet": ("caffe_bvlc_reference_caffenet_deploy.prototxt", None, _FC_SMALL),
    "alexnet": ("caffe_bvlc_alexnet_deploy.prototxt", None, _FC_SMALL),
    "googlenet": ("caffe_bvlc_googlenet_deploy.prototxt", None, ()),
    "squeezenet_1.0": ("squeezenet_v1.0_deploy.prototxt", 99, ()),
    "squeezenet_1.1": ("squeezenet_v1.1_deploy.prototxt", 99, ()),
    "resnet50": ("resnet_ResNet-50_deploy.prototxt", None, ()),
    "densenet121": ("densenet_DenseNet_121_deploy.prototxt", None, ()),
    "mobilenet_v1": ("mobilenet_v1_deploy.prototxt", None, ()),
    "mobilenet_v2": ("mobilenet_v2_deploy.prototxt", None, ()),
}


@pytest.mark.parametrize("key", sorted(NETS))
def test_imported_net_equals_opencv(key, tmp_path, capsys):
    _corpus()
    name, size, edits = NETS[key]
    prototxt = small_copy(CORPUS / name, tmp_path, size, edits)
    diff = check_against_opencv(prototxt, tmp_path)
    with capsys.disabled():
        print(f"\n[caffe vs OpenCV] {key}: max relative difference {diff:.2e}")
    assert diff <= TOLERANCE


ZOO = """
name: "zoo"
input: "data"
input_shape { dim: 1 dim: 4 dim: 13 dim: 15 }
layer { name: "conv_a" type: "Convolution" bottom: "data" top: "a"
  convolution_param { num_output: 8 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 2 stride_w: 1 } }
layer { name: "prelu_a" type: "PReLU" bottom: "a" top: "a" }
layer { name: "conv_g" type: "Convolution" bottom: "a" top: "g"
  convolution_param { num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 4 } }
layer { name: "bn_g" type: "BatchNorm" bottom: "g" top: "g" }
layer { name: "scale_g" type: "Scale" bottom: "g" top: "g" scale_param { bias_term: false } }
layer { name: "elu_g" type: "ELU" bottom: "g" top: "g" elu_param { alpha: 0.5 } }
layer { name: "split" type: "Split" bottom: "g" top: "g1" top: "g2" }
layer { name: "abs" type: "AbsVal" bottom: "g1" top: "abs" }
layer { name: "bnll" type: "BNLL" bottom: "g2" top: "bnll" }
layer { name: "diff" type: "Eltwise" bottom: "abs" bottom: "bnll" top: "diff"
  eltwise_param { operation: SUM coeff: 1 coeff: -1 } }
layer { name: "prod" type: "Eltwise" bottom: "diff" bottom: "g" top: "prod" eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "prod" bottom: "a" top: "max" eltwise_param { operation: MAX } }
layer { name: "scale" type: "Scale" bottom: "max" top: "sc" scale_param { bias_term: true } }
layer { name: "leaky" type: "ReLU" bottom: "sc" top: "sc" relu_param { negative_slope: 0.1 } }
layer { name: "pool_ave" type: "Pooling" bottom: "sc" top: "pa"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pool_max" type: "Pooling" bottom: "sc" top: "pm" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "deconv" type: "Deconvolution" bottom: "pm" top: "up"
  convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2 } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "pa" top: "crop" crop_param { axis: 2 offset: 1 } }
layer { name: "tanh" type: "TanH" bottom: "crop" top: "crop" }
layer { name: "cat" type: "Concat" bottom: "crop" bottom: "pa" top: "cat" }
layer { name: "slice" type: "Slice" bottom: "cat" top: "s1" top: "s2" slice_param { axis: 1 slice_point: 5 } }
layer { name: "lrn" type: "LRN" bottom: "s2" top: "lrn" lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 } }
layer { name: "sig" type: "Sigmoid" bottom: "s1" top: "s1" }
layer { name: "drop" type: "Dropout" bottom: "lrn" top: "lrn" dropout_param { dropout_ratio: 0.5 } }
layer { name: "cat2" type: "Concat" bottom: "s1" bottom: "lrn" top: "cat2" }
layer { name: "reshape" type: "Reshape" bottom: "cat2" top: "r" reshape_param { shape { dim: 0 dim: 14 dim: -1 } } }
layer { name: "ip_axis2" type: "InnerProduct" bottom: "r" top: "ip2" inner_product_param { num_output: 5 axis: 2 } }
layer { name: "flat" type: "Flatten" bottom: "ip2" top: "flat" }
layer { name: "fc" type: "InnerProduct" bottom: "flat" top: "fc" inner_product_param { num_output: 7 } }
layer { name: "bn_fc" type: "BatchNorm" bottom: "fc" top: "fc" }
layer { name: "scale_fc" type: "Scale" bottom: "fc" top: "fc" scale_param { bias_term: true } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""

LENET_V1 = """
name: "LeNetV1"
input: "data"
input_dim: 1 input_dim: 1 input_dim: 28 input_dim: 28
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" blobs_lr: 1 blobs_lr: 2
  convolution_param { num_output: 20 kernel_size: 5 stride: 1 } }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip1" type: INNER_PRODUCT bottom: "pool1" top: "ip1" inner_product_param { num_output: 50 } }
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2" inner_product_param { num_output: 10 } }
layers { name: "prob" type: SOFTMAX bottom: "ip2" top: "prob" }
"""


@pytest.mark.parametrize("text", [ZOO, LENET_V1], ids=["layer_zoo", "legacy_v1"])
def test_layer_set_equals_opencv(text, tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(text)
    assert check_against_opencv(prototxt, tmp_path, batch=2) <= TOLERANCE


def test_in_place_layers_and_bn_scale_fusion_read_as_values(tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(ZOO)
    text = import_file(str(prototxt)).text
    assert "bn_fc: BatchNorm1d" in text and "scale_fc" not in text  # BatchNorm + its Scale: one layer
    # A Scale without a bias stays a layer of its own: BatchNorm's affine shift would add parameters
    assert "bn_g: BatchNorm2d(affine=false) -> scale_g: Scale(bias=false)" in text
    assert "LeakyReLU(negative_slope=0.1)" in text
    assert "y3 = y2 -> ReLU" in text and "(y3, y2) -> Sub" in text  # AbsVal: |x| = r + (r - x), r = ReLU(x)


def test_train_val_keeps_the_test_phase_and_notes_what_is_left_out():
    _corpus()
    result = import_file(str(CORPUS / "caffe_examples_mnist_lenet_train_test.prototxt"))
    assert "input data: [N, 1, 28, 28]" in result.text
    assert "left out of the deploy network" in result.text and "Accuracy" in result.text
    assert "Loss" not in result.text.split("\nnetwork ", 1)[1]


# ---- hostile files ------------------------------------------------------------------------------

def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nnlang", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_python_layer_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(f"""
input: "data" input_shape {{ dim: 1 dim: 1 dim: 4 dim: 4 }}
layer {{ name: "evil" type: "Python" bottom: "data" top: "y"
  python_param {{ module: "os" layer: "system" param_str: "open({str(marker)!r}, 'w').write('ran')" }} }}
layer {{ name: "after" type: "ReLU" bottom: "y" top: "z" }}
""")
    with pytest.raises(ImportError_, match=r"layer 'evil' \(Python\).*refused"):
        import_file(str(prototxt))
    r = _cli("import", prototxt, "-o", tmp_path / "out.nns", cwd=tmp_path)
    assert r.returncode in (1, 2) and "evil" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out.nns").exists()


def _lenet(tmp_path) -> tuple:
    _corpus()
    prototxt = CORPUS / "caffe_examples_mnist_lenet.prototxt"
    model = tmp_path / "lenet.caffemodel"
    random_caffemodel(prototxt, model)
    return prototxt, model


def test_truncated_caffemodel(tmp_path):
    prototxt, model = _lenet(tmp_path)
    bad = tmp_path / "truncated.caffemodel"
    bad.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    r = _cli("import", prototxt, "--weights", bad, "-o", tmp_path / "out.nns", cwd=tmp_path)
    assert r.returncode in (1, 2) and "not a readable caffemodel" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.nns").exists() and not (tmp_path / "out.safetensors").exists()


def test_blob_size_disagreeing_with_its_shape(tmp_path):
    prototxt, _ = _lenet(tmp_path)
    bad = tmp_path / "bad.caffemodel"
    write_caffemodel(bad, {"conv1": [np.zeros((20, 1, 5, 5), np.float32), np.zeros(20, np.float32)]})
    from nnlang.targets.caffe.schema import caffe_pb2

    net = caffe_pb2().NetParameter.FromString(bad.read_bytes())
    del net.layer[0].blobs[0].data[10:]
    bad.write_bytes(net.SerializeToString())
    with pytest.raises(ImportError_, match=r"layer 'conv1' blob 0: the blob holds 10 values but its shape"):
        import_file(str(prototxt), weights=str(bad))


def test_huge_dims_are_refused_before_allocation(tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "data" input_shape { dim: 1 dim: 3 dim: 1099511627776 dim: 4 }\n'
                        'layer { name: "r" type: "ReLU" bottom: "data" top: "y" }\n')
    with pytest.raises(ImportError_, match="outside 1..1048576"):
        import_file(str(prototxt))
    prototxt.write_text('input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                        'convolution_param { num_output: 1073741824 kernel_size: 3 } }\n')
    with pytest.raises(ImportError_, match="parameters: more than .*not built"):
        import_file(str(prototxt))
    _, model = _lenet(tmp_path)
    from nnlang.targets.caffe.schema import caffe_pb2

    net = caffe_pb2().NetParameter.FromString(model.read_bytes())
    del net.layer[0].blobs[0].shape.dim[:]
    net.layer[0].blobs[0].shape.dim.extend([1 << 40, 1 << 40])
    huge = tmp_path / "huge.caffemodel"
    huge.write_bytes(net.SerializeToString())
    r = _cli("import", CORPUS / "caffe_examples_mnist_lenet.prototxt", "--weights", huge, "-o", tmp_path / "o.nns",
             cwd=tmp_path)
    assert r.returncode in (1, 2) and "is not a weight's" in r.stderr, r.stderr
    assert not (tmp_path / "o.nns").exists()


def test_cli_writes_nns_and_safetensors_that_check_clean(tmp_path):
    prototxt, model = _lenet(tmp_path)
    r = _cli("import", prototxt, "--weights", model, "-o", tmp_path / "out.nns", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.nns").is_file() and (tmp_path / "out.safetensors").is_file()
    r = _cli("check", tmp_path / "out.nns", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_train_val_with_weights_is_verified_beside_opencv(tmp_path):
    """The deploy part of a train_val net runs in OpenCV as the deploy prototxt the import derives."""
    _corpus()
    prototxt = CORPUS / "caffe_examples_mnist_lenet_train_test.prototxt"
    model = tmp_path / "lenet.caffemodel"
    random_caffemodel(prototxt, model)
    result = import_file(str(prototxt), weights=str(model))
    assert result.max_abs_diff is not None and result.max_abs_diff <= TOLERANCE


def test_lrn_k_is_honoured_and_opencv_which_ignores_it_is_not_asked(tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "data" input_shape { dim: 1 dim: 6 dim: 5 dim: 5 }\n'
                        'layer { name: "lrn" type: "LRN" bottom: "data" top: "y" lrn_param { local_size: 3 k: 2 } }\n'
                        'layer { name: "c" type: "Convolution" bottom: "y" top: "z" '
                        'convolution_param { num_output: 2 kernel_size: 1 } }\n')
    model = tmp_path / "net.caffemodel"
    random_caffemodel(prototxt, model)
    result = import_file(str(prototxt), weights=str(model))
    assert "LocalResponseNorm(3, alpha=1.0, k=2.0)" in result.text and result.max_abs_diff is None


IDIOMS = """
name: "idioms"
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 dim: 6 dim: 6 } } }
layer { name: "body.0" type: "Convolution" bottom: "x" top: "body.0"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "body.1/relu_low" type: "ReLU" bottom: "body.0" top: "body.1/relu_low" }
layer { name: "body.1/relu_high_in" type: "Power" bottom: "body.0" top: "body.1/relu_high_in"
  power_param { shift: -6.0 } }
layer { name: "body.1/relu_high" type: "ReLU" bottom: "body.1/relu_high_in" top: "body.1/relu_high" }
layer { name: "body.1" type: "Eltwise" bottom: "body.1/relu_low" bottom: "body.1/relu_high" top: "body.1"
  eltwise_param { operation: SUM coeff: 1 coeff: -1 } }
layer { name: "ht/lo_in" type: "Power" bottom: "body.1" top: "ht/lo_in" power_param { shift: 1.0 } }
layer { name: "ht/lo" type: "ReLU" bottom: "ht/lo_in" top: "ht/lo" }
layer { name: "ht/hi_in" type: "Power" bottom: "body.1" top: "ht/hi_in" power_param { shift: -2.0 } }
layer { name: "ht/hi" type: "ReLU" bottom: "ht/hi_in" top: "ht/hi" }
layer { name: "ht/clip" type: "Eltwise" bottom: "ht/lo" bottom: "ht/hi" top: "ht/clip"
  eltwise_param { operation: SUM coeff: 1 coeff: -1 } }
layer { name: "ht" type: "Power" bottom: "ht/clip" top: "ht" power_param { shift: -1.0 } }
layer { name: "hs/plus3" type: "Power" bottom: "ht" top: "hs/plus3" power_param { shift: 3.0 } }
layer { name: "hs/lo" type: "ReLU" bottom: "hs/plus3" top: "hs/lo" }
layer { name: "hs/hi_in" type: "Power" bottom: "hs/plus3" top: "hs/hi_in" power_param { shift: -6.0 } }
layer { name: "hs/hi" type: "ReLU" bottom: "hs/hi_in" top: "hs/hi" }
layer { name: "hs/clip" type: "Eltwise" bottom: "hs/lo" bottom: "hs/hi" top: "hs/clip"
  eltwise_param { operation: SUM coeff: 1 coeff: -1 } }
layer { name: "hs/gate" type: "Power" bottom: "hs/clip" top: "hs/gate" power_param { scale: 0.16666667 } }
layer { name: "hswish" type: "Eltwise" bottom: "ht" bottom: "hs/gate" top: "hswish" eltwise_param { operation: PROD } }
layer { name: "selu/elu" type: "ELU" bottom: "hswish" top: "selu/elu" elu_param { alpha: 1.6732632 } }
layer { name: "selu" type: "Power" bottom: "selu/elu" top: "selu" power_param { scale: 1.050701 } }
layer { name: "head.0" type: "Convolution" bottom: "selu" top: "y" convolution_param { num_output: 2 kernel_size: 1 } }
"""


def test_power_idioms_become_one_activation_and_equal_opencv(tmp_path):
    """What a Caffe writer builds from Power / ReLU / Eltwise (clamp, hardsigmoid, SELU) is read back as
    ReLU6, Hardtanh, Hardswish (x * hardsigmoid), SELU; dotted layer names (nnlang's Caffe target) give module paths."""
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(IDIOMS)
    text = import_file(str(prototxt)).text
    assert "Power" not in text and "Sub" not in text
    for want in ("ReLU6", "Hardtanh(max_val=2.0)", "Hardswish", "SELU"):  # min_val -1: the default
        assert want in text, text
    assert check_against_opencv(prototxt, tmp_path, batch=2) <= TOLERANCE
    model = tmp_path / "net.caffemodel"
    result = import_file(str(prototxt), weights=str(model), verify=False)
    assert {"body.0.weight", "head.0.weight"} <= set(result.model.state_dict())


FLOOR_POOL = """
name: "floor"
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 8 dim: 8 } } }
layer { name: "pool/ceil" type: "Pooling" bottom: "x" top: "pool/ceil"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pool/floor2" type: "Slice" bottom: "pool/ceil" top: "pool/floor2:0" top: "pool/floor2:1"
  slice_param { slice_point: 4 axis: 2 } }
layer { name: "pool/floor2_rest" type: "Silence" bottom: "pool/floor2:1" }
layer { name: "pool/floor3" type: "Slice" bottom: "pool/floor2:0" top: "pool" top: "pool/floor3:1"
  slice_param { slice_point: SECOND axis: 3 } }
layer { name: "pool/floor3_rest" type: "Silence" bottom: "pool/floor3:1" }
layer { name: "conv" type: "Convolution" bottom: "pool" top: "y" convolution_param { num_output: 3 kernel_size: 1 } }
"""


@pytest.mark.parametrize("second, want", [(4, "MaxPool2d(3, stride=2, padding=1) -> conv"),
                                          (3, "Slice(3, end=3)")], ids=["floor_pooling", "other_cut"])
def test_ceil_pooling_cut_to_floor_size_is_floor_pooling(second, want, tmp_path):
    """nnlang's Caffe target writes floor pooling as ceil pooling + Slice + Silence; read back as one floor
    pooling when the cut is floor pooling's size, else as the slices written."""
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(FLOOR_POOL.replace("SECOND", str(second)))
    text = import_file(str(prototxt)).text
    assert want in text and "Split" not in text, text
    assert check_against_opencv(prototxt, tmp_path, batch=2) <= TOLERANCE


@pytest.mark.parametrize("content, message", [
    ("layer { " * 100 + "}" * 100, "nested more than 64 deep"),
    (b"\xff\xfe\x00garbage", "not readable as text"),
    ('layer { name: "a" type: "ReLU" bottom: "x" top: "y" } layers { name: "b" }', "both new-style"),
    ('layers { name: "a" layer { name: "b" } }', "a V0 net"),
    ('input: "x" input_dim: 1 input_dim: 3\nlayer { name: "r" type: "ReLU" bottom: "x" top: "y" }', "need 4 input_dim"),
    ('layer { name: "r" type: "ReLU" bottom: "nothing" top: "y" }', "reads blob 'nothing', which no layer"),
], ids=["deep_nesting", "not_text", "both_forms", "v0", "input_dims", "undefined_blob"])
def test_malformed_prototxts_give_one_clear_error(content, message, tmp_path):
    prototxt = tmp_path / "net.prototxt"
    if isinstance(content, bytes):
        prototxt.write_bytes(content)
    else:
        prototxt.write_text(content)
    with pytest.raises(ImportError_, match=re.escape(message)):
        import_file(str(prototxt))


GATES = """
name: "gates"
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 dim: 5 dim: 5 } } }
layer { name: "c/bn" type: "BatchNorm" bottom: "x" top: "c/bn" }
layer { name: "c" type: "Scale" bottom: "c/bn" top: "c" scale_param { bias_term: true } }
layer { name: "silu/sigmoid" type: "Sigmoid" bottom: "c" top: "silu/sigmoid" }
layer { name: "silu" type: "Eltwise" bottom: "c" bottom: "silu/sigmoid" top: "silu" eltwise_param { operation: PROD } }
layer { name: "mish/softplus" type: "BNLL" bottom: "silu" top: "mish/softplus" }
layer { name: "mish/tanh" type: "TanH" bottom: "mish/softplus" top: "mish/tanh" }
layer { name: "mish" type: "Eltwise" bottom: "silu" bottom: "mish/tanh" top: "mish" eltwise_param { operation: PROD } }
layer { name: "sp/beta" type: "Power" bottom: "mish" top: "sp/beta" power_param { scale: 2 } }
layer { name: "sp/softplus" type: "BNLL" bottom: "sp/beta" top: "sp/softplus" }
layer { name: "sp" type: "Power" bottom: "sp/softplus" top: "sp" power_param { scale: 0.5 } }
layer { name: "ss/abs" type: "AbsVal" bottom: "sp" top: "ss/abs" }
layer { name: "ss/inverse" type: "Power" bottom: "ss/abs" top: "ss/inverse" power_param { power: -1 shift: 1 } }
layer { name: "ss" type: "Eltwise" bottom: "sp" bottom: "ss/inverse" top: "ss" eltwise_param { operation: PROD } }
layer { name: "gap" type: "Pooling" bottom: "ss" top: "gap" pooling_param { pool: AVE global_pooling: true } }
layer { name: "gap/flat" type: "Flatten" bottom: "gap" top: "gap/flat" }
layer { name: "gate" type: "Scale" bottom: "ss" bottom: "gap/flat" top: "gate" scale_param { axis: 0 } }
layer { name: "avg" type: "Eltwise" bottom: "gate" bottom: "ss" bottom: "x" top: "avg"
  eltwise_param { operation: SUM coeff: 0.33333334 coeff: 0.33333334 coeff: 0.33333334 } }
layer { name: "sm" type: "Softmax" bottom: "avg" top: "sm" }
layer { name: "logsm" type: "Log" bottom: "sm" top: "y" }
"""


def test_gates_softplus_softsign_log_softmax_and_average_come_back_whole(tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(GATES)
    text = import_file(str(prototxt)).text
    for want in ("c: BatchNorm2d", "SiLU", "Mish", "Softplus(beta=2.0)", "Softsign", "LogSoftmax(dim=1)", "Average"):
        assert want in text, text
    assert "Power" not in text and "Sigmoid" not in text and "Tanh" not in text
    assert check_against_opencv(prototxt, tmp_path, batch=2) <= TOLERANCE


def test_threshold_idiom_is_torch_threshold_and_bias_a_sum():
    """OpenCV has no Threshold or Bias layer (BVLC has): checked by the text they give."""
    from nnlang.targets.caffe.reading import parse_net

    net = parse_net('input: "x" input_shape { dim: 1 dim: 3 }\n'
                    'layer { name: "t/step" type: "Threshold" bottom: "x" top: "t/step" '
                    'threshold_param { threshold: 0.1 } }\n'
                    'layer { name: "t/minus" type: "Power" bottom: "x" top: "t/minus" power_param { shift: 0.5 } }\n'
                    'layer { name: "t/gated" type: "Eltwise" bottom: "t/minus" bottom: "t/step" top: "t/gated" '
                    'eltwise_param { operation: PROD } }\n'
                    'layer { name: "t" type: "Power" bottom: "t/gated" top: "t" power_param { shift: -0.5 } }\n'
                    'layer { name: "b" type: "Bias" bottom: "t" bottom: "x" top: "b" bias_param { axis: 0 } }\n')
    _conv, text, _ = convert(net, None, "T", "test")
    assert "(y, x) -> Add" in text, text  # a Bias with its bias as a second input: a broadcast sum
    assert "y = x -> Threshold(0.1, -0.5)" in text or "Threshold(0.1, value=-0.5)" in text, text


def test_python_data_sources_become_inputs_and_python_sinks_are_left_out_never_run(tmp_path):
    """A Python layer is never run. With no bottoms it is a data source: its tops become the inputs --input
    declares (refused, saying so, without); when nothing reads its tops (a loss) it is left out like Caffe's
    losses; anywhere else it is refused (the test above)."""
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(f"""
layer {{ name: "src" type: "Python" top: "color" top: "depth" top: "label"
  python_param {{ module: "os" layer: "system" param_str: "{code}" }} }}
layer {{ name: "c1" type: "Convolution" bottom: "color" top: "c1" convolution_param {{ num_output: 4 kernel_size: 3 }} }}
layer {{ name: "d1" type: "Convolution" bottom: "depth" top: "d1" convolution_param {{ num_output: 4 kernel_size: 3 }} }}
layer {{ name: "sum" type: "Eltwise" bottom: "c1" bottom: "d1" top: "sum" }}
layer {{ name: "loss" type: "Python" bottom: "sum" bottom: "label" top: "loss"
  python_param {{ module: "os" layer: "system" param_str: "{code}" }} }}
""")
    with pytest.raises(ImportError_, match=r"layer 'src' \(Python\).*give its shape with --input"):
        import_file(str(prototxt))
    result = import_file(str(prototxt), inputs=["color: [N, 3, 8, 8]", "depth: [N, 1, 8, 8]"])
    assert "input color: [N, 3, 8, 8], depth: [N, 1, 8, 8]" in result.text
    assert "'loss' (Python, module 'os') left out" in result.text and "label (labels) left out" in result.text
    r = _cli("import", prototxt, "--input", "color: [N, 3, 8, 8]", "--input", "depth: [N, 1, 8, 8]", "-o",
             tmp_path / "out.nns", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.nns").exists() and not marker.exists()


def test_a_data_layer_without_a_shape_takes_it_from_input_and_labels_read_only_by_losses_are_left_out(tmp_path):
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text("""
layer { name: "data" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "x.txt" batch_size: 8 } }
layer { name: "extra" type: "Data" top: "weights_of_examples" data_param { source: "lmdb" batch_size: 8 } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" bottom: "weights_of_examples" top: "l" }
""")
    with pytest.raises(ImportError_, match=r"layer 'data' \(HDF5Data\).*--input \"data: \[N, C, H, W\]\""):
        import_file(str(prototxt))
    text = import_file(str(prototxt), inputs=["data: [N, 4]"]).text
    assert "input data: [N, 4]" in text and "Linear(2)" in text
    assert "data layer 'extra' left out: only losses or accuracy read weights_of_examples" in text


def test_embed_is_an_embedding_over_integer_inputs_and_its_table_is_the_weight(tmp_path):
    """Caffe's Embed reads indices from a float blob: the .nns input holds integers; the [input_dim,
    num_output] table is torch's Embedding weight as it is. With a bias (no registry layer holds a learned
    vector alone) it is refused, naming the layer."""
    prototxt = tmp_path / "net.prototxt"
    embed = ('layer { name: "words" type: "Embed" bottom: "tokens" top: "e" '
             'embed_param { input_dim: 11 num_output: 4 bias_term: false } }\n')
    prototxt.write_text('input: "tokens" input_shape { dim: 1 dim: 5 }\n' + embed +
                        'layer { name: "fc" type: "InnerProduct" bottom: "e" top: "y" '
                        'inner_product_param { num_output: 3 axis: 2 } }\n')
    model = tmp_path / "net.caffemodel"
    random_caffemodel(prototxt, model)
    result = import_file(str(prototxt), weights=str(model), verify=False)
    assert "input tokens: [N, 5] i64" in result.text and "words: Embedding(11, 4)" in result.text
    assert analyze(result.text, "embed.nns").errors == []
    table = read_caffemodel(str(model))["words"][0]
    tokens = torch.tensor([[0, 3, 10, 3, 7]])
    looked_up = result.model.words(tokens).detach().numpy()
    assert np.array_equal(looked_up[0], np.asarray(table, np.float32)[[0, 3, 10, 3, 7]])
    prototxt.write_text(prototxt.read_text().replace("bias_term: false", "bias_term: true"))
    with pytest.raises(ImportError_, match="layer 'words' \\(Embed\\): Embed with bias_term"):
        import_file(str(prototxt))
