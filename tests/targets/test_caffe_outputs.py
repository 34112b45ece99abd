"""Network outputs in the Caffe target (issue 20): an output that is not its layer's first top (FCN-32s's crop,
the kept middle of a Slice) or that another layer also reads (FPN's P5, pooled into P6) still comes out of
OpenCV's Caffe runtime equal to PyTorch, and the Caffe importer gives every output back."""

from __future__ import annotations

from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2", reason="opencv-python-headless (the Caffe oracle) is a test dependency")

import _keras_harness as kh  # noqa: E402
from test_caffe_compile import inputs_for, run_opencv, write  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.caffe.plan import plan_net  # noqa: E402

CROP = """
network Crop {
    "A transposed convolution, then the pixels over the input (FCN-32s's crop: offset 3 on both axes)."
    input image: [N, 3, 12, 12]
    y = image -> up: ConvTranspose2d(2, 8, stride=4, bias=false)
              -> crop_h: Slice(axis=2, start=3, end=15)
              -> crop_w: Slice(axis=3, start=3, end=15)
    output y
}
"""

READ_TOO = """
network Pyramid {
    "Two outputs, the first also pooled into the second (FPN's P5 and P6)."
    input image: [N, 3, 13, 13]
    p5 = image -> conv: Conv2d(4, 3, padding=1)
    p6 = p5 -> pool: MaxPool2d(1, stride=2)
    output p5, p6
}
"""


def _compiled(text: str, tmp_path: Path):
    a = analyze(text, path="case.nns")
    assert not a.errors, a.errors
    plan = plan_net(a.graph)
    assert not plan.problems
    module, state = kh.perturbed_reference(a.graph)
    prototxt, caffemodel = write(plan, state, tmp_path)
    return a, plan, module, prototxt, caffemodel


@pytest.mark.parametrize("text, names", [(CROP, ["y"]), (READ_TOO, ["p5", "p6"])], ids=["crop", "read-too"])
def test_every_output_equals_torch_in_opencv_and_comes_back_from_the_importer(text, names, tmp_path):
    from nnlang.targets.caffe.load import import_file

    a, plan, module, prototxt, caffemodel = _compiled(text, tmp_path)
    assert [n for n, _ in plan.outputs] == names
    # each output is the first top of its layer, and no layer reads it (Caffe's rule for a net's outputs)
    read = {b for layer in plan.layers for b in layer.bottom}
    for _, blob in plan.outputs:
        maker = next(la for la in plan.layers if blob in la.top)
        assert maker.top[0] == blob and blob not in read
    xs = inputs_for(a.graph)
    want = kh.run_torch(module, xs)
    assert kh.max_rel_diff(want, run_opencv(plan, prototxt, caffemodel, xs)) <= 1e-5
    result = import_file(str(prototxt), weights=str(caffemodel), verify=False)
    back = analyze(result.text, path="reimported.nns")
    assert back.errors == [] and len(back.graph.outputs) == len(names)
    # every output comes back, in order (the importer lists them as they are made; a copy follows its maker)
    assert kh.max_rel_diff(want, kh.run_torch(result.model.eval(), xs)) <= 1e-6


UPSAMPLE = """
network Up {
    "FPN's top-down step: a coarse map upsampled 2x (nearest) and added to a finer one."
    input image: [N, 3, 6, 6]
    u = image -> conv: Conv2d(4, 3, padding=1) -> Upsample(scale_factor=2)
    f = image -> Upsample(size=(12, 12)) -> fine: Conv2d(4, 1)
    y = (u, f) -> Add
    output y
}
"""

LEARNED_ONES = """
network Learned {
    "A learned per-channel ConvTranspose (its weights happen to be ones here): not an Upsample."
    input image: [N, 3, 6, 6]
    y = image -> up: ConvTranspose2d(3, 2, stride=2, groups=3, bias=false)
    output y
}
"""


def test_nearest_upsampling_is_a_fixed_deconvolution_of_ones_and_imports_back_as_upsample(tmp_path):
    from nnlang.targets.caffe.load import import_file

    a, plan, module, prototxt, caffemodel = _compiled(UPSAMPLE, tmp_path)
    deconvs = [la for la in plan.layers if la.type == "Deconvolution"]
    assert len(deconvs) == 2 and all(la.params["param"] == [{"lr_mult": 0.0, "decay_mult": 0.0}] for la in deconvs)
    xs = inputs_for(a.graph)
    want = kh.run_torch(module, xs)
    assert kh.max_rel_diff(want, run_opencv(plan, prototxt, caffemodel, xs)) <= 1e-5
    result = import_file(str(prototxt), weights=str(caffemodel), verify=False)
    back = analyze(result.text, path="reimported.nns")
    assert back.errors == [] and back.graph.total_params == a.graph.total_params
    assert [n.op for n in back.graph.nodes].count("Upsample") == 2 and "ConvTranspose2d" not in result.text
    assert kh.max_rel_diff(want, kh.run_torch(result.model.eval(), xs)) <= 1e-6


def test_a_learned_deconvolution_of_ones_stays_a_convtranspose(tmp_path):
    from nnlang.targets.caffe.load import import_file

    a = analyze(LEARNED_ONES, path="case.nns")
    plan = plan_net(a.graph)
    module, state = kh.perturbed_reference(a.graph)
    state = {k: (v * 0 + 1 if k == "up.weight" else v) for k, v in state.items()}
    prototxt, caffemodel = write(plan, state, tmp_path)
    result = import_file(str(prototxt), weights=str(caffemodel), verify=False)
    assert "ConvTranspose2d" in result.text and "Upsample" not in result.text
    assert sum(p.numel() for p in result.model.parameters()) == 3 * 2 * 2


def test_a_cropping_slice_comes_back_as_the_slice_it_was(tmp_path):
    """The Caffe Slice of a part in the middle (its other parts silenced) is the registry's Slice again, not a
    Split (FCN-32s's crop, re-imported)."""
    from nnlang.targets.caffe.load import import_file

    a, plan, module, prototxt, caffemodel = _compiled(CROP, tmp_path)
    result = import_file(str(prototxt), weights=str(caffemodel), verify=True)  # OpenCV runs the original
    back = analyze(result.text, path="reimported.nns")
    assert [n.op for n in back.graph.nodes] == [n.op for n in a.graph.nodes] == ["ConvTranspose2d", "Slice", "Slice"]
    crops = [(n.attrs["axis"], n.attrs["start"], n.attrs["end"]) for n in back.graph.nodes[1:]]
    assert crops == [(2, 3, 15), (3, 3, 15)]
    xs = inputs_for(a.graph)
    assert kh.max_rel_diff(kh.run_torch(module, xs), kh.run_torch(result.model.eval(), xs)) <= 1e-6
