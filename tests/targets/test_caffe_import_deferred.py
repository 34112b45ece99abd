"""A Caffe import without weights builds no PyTorch model until one is read (issue 19: the fuzzing campaign's
9 inputs over 2 s were the PyTorch initialisation of the largest nets, which a caller reading the text never
uses); the CLI, which writes the model's weights beside the .nns, still gets it, and sizes are still refused
before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nnlang import api  # noqa: E402
from nnlang.targets.caffe import load  # noqa: E402
from nnlang.targets.importing import BuiltOnUse, ImportError_  # noqa: E402
from nnlang.targets.torch import builder  # noqa: E402
from nnlang.targets.torch.weights import load_state_dict_file  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "caffe"
LENET = CORPUS / "caffe_examples_mnist_lenet.prototxt"
VGG16 = CORPUS / "vgg_VGG_ILSVRC_16_layers_deploy.prototxt"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus ({CORPUS}) is absent")


def no_build(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the PyTorch model was built")
    monkeypatch.setattr(builder, "build_graph", refuse)


@pytest.mark.parametrize("verify", [False, True])
def test_without_weights_the_import_builds_no_model(verify, monkeypatch):
    no_build(monkeypatch)
    result = load.import_file(str(VGG16), verify=verify)  # 138 M parameters: ~1.3 s to build and initialise
    assert isinstance(result, BuiltOnUse) and "network " in result.text
    assert result.max_abs_diff is None
    assert len(result.graph.nodes) > 30


def test_the_model_read_later_is_the_one_the_import_built_before():
    result = load.import_file(str(LENET), verify=False)
    model = result.model  # built now, once
    assert result.model is model
    net = load.read_prototxt(str(LENET))
    conv, _text, printed = load.convert(net, None, load._network_name(net, str(LENET)), "test")
    eager = load._rebuild(printed, conv.b.graph, conv.weights, strict=False)  # what import_file used to return
    ours, theirs = model.state_dict(), eager.state_dict()
    assert list(ours) == list(theirs) and ours
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), eager(x))


def test_the_cli_path_still_writes_the_weights(tmp_path):
    out = tmp_path / "lenet.nns"
    written = api.import_(str(LENET), str(out), verify=False)["written"]
    assert written == [str(out), str(out.with_suffix(".safetensors"))]
    state = load_state_dict_file(out.with_suffix(".safetensors"))
    assert sum(v.numel() for v in state.values()) == 431_080  # LeNet's parameters, initialised


def test_too_many_parameters_are_refused_at_import_not_when_the_model_is_read(tmp_path, monkeypatch):
    no_build(monkeypatch)
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                        'convolution_param { num_output: 1073741824 kernel_size: 3 } }\n')
    with pytest.raises(ImportError_, match="parameters: more than .*not built"):
        load.import_file(str(prototxt), verify=False)
