"""The one registry helper of every per-layer table, and the importer types all importers share."""

import pytest

from nnlang.targets.registry import DuplicateRegistration, Registry


def test_plain_registry_refuses_a_duplicate_naming_both_functions():
    table = Registry("probe mapping")

    @table.decorator("A", "B")
    def first(x):
        return x

    assert table["A"] is first and table["B"] is first and table.names() == ["A", "B"]
    def second(x):
        return x

    with pytest.raises(DuplicateRegistration, match=r"probe mapping for 'B' defined twice: .*first and .*second"):
        table.decorator("B")(second)
    with pytest.raises(DuplicateRegistration):
        table["A"] = second  # assignment is a registration too: no silent override
    assert table["A"] is first and table["B"] is first


def test_versioned_registry_picks_the_newest_valid_entry_and_refuses_same_version():
    table = Registry("probe importer", versioned=True)
    table.decorator("Op", since=13)(new := (lambda op: "new"))
    table.decorator("Op", since=1)(old := (lambda op: "old"))
    assert table.versions("Op") == [(1, old), (13, new)]
    assert table.lookup("Op", 12) is old and table.lookup("Op", 13) is new and table.lookup("Other", 20) is None
    with pytest.raises(DuplicateRegistration, match="defined twice"):
        table.decorator("Op", since=13)(lambda op: "again")
    with pytest.raises(TypeError):
        table.decorator("Op")  # a versioned table needs since=
    del table["Op"]
    assert table.versions("Op") == [] and len(table) == 0


def test_grouped_registry_keeps_registration_order_and_refuses_one_function_twice():
    table = Registry("probe fusion", grouped=True)

    def a(v, n):
        return None

    def b(v, n):
        return None

    table.decorator("MatMul")(a)
    table.decorator("MatMul")(b)
    assert table.versions("MatMul") == [a, b]
    with pytest.raises(DuplicateRegistration):
        table.decorator("MatMul")(a)


def test_every_per_layer_table_is_a_registry():
    from nnlang.targets.onnx import fusions, importers, layers as onnx_layers, mapping  # noqa: F401
    from nnlang.targets.torch import layers, mapping as torch_mapping  # noqa: F401  (layers registers the mappings)
    from nnlang.targets.torch.importers import registry as torch_importers

    for table in (torch_mapping.MAPPINGS, mapping._REGISTRY, importers._REGISTRY, fusions._FUSIONS,
                  torch_importers.MODULES, torch_importers.CALLS):
        assert isinstance(table, Registry) and len(table) > 0, table.what
    with pytest.raises(DuplicateRegistration, match="torch mapping for 'Conv2d' defined twice"):
        torch_mapping.torch_layer("Conv2d")(lambda node, ins, outs: None)
    with pytest.raises(DuplicateRegistration, match="PyTorch module importer for 'Conv2d' defined twice"):
        torch_importers.module_importer("Conv2d")(lambda m, shapes: None)


def test_one_importer_result_and_unsupported_type_for_all_importers():
    from nnlang.targets import importing
    from nnlang.targets.onnx import importers as onnx_importers
    from nnlang.targets.torch import importers as torch_importers

    assert onnx_importers.Layer is torch_importers.Layer is importing.Layer
    assert onnx_importers.Unsupported is torch_importers.Unsupported is importing.Unsupported


def test_a_target_declares_a_per_layer_weight_conversion_and_compile_applies_it(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from nnlang.analyze import analyze
    from nnlang.targets.onnx.compile import _weights, compile_to_dir
    from nnlang.targets.onnx.mapping import WEIGHTS, onnx_weights

    src = "network T {\n    input x: [N, 4]\n    y = x -> Linear(3)\n    output y\n}\n"
    a = analyze(src, "t.nns")
    assert a.ok, a.diagnostics
    reference = _weights(a.graph, 0, None)  # no conversion registered: PyTorch's state_dict as it is

    @onnx_weights("Linear")
    def doubled_bias(node, weights):  # a probe: the target's bias is twice PyTorch's
        assert node.op == "Linear" and sorted(weights) == ["bias", "weight"]
        return {**weights, "bias": weights["bias"] * 2}

    try:
        (path,) = compile_to_dir(a, str(tmp_path), seed=0)
        stored = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
        key = next(k for k in reference if k.endswith("bias"))
        assert (stored[key] == reference[key] * 2).all()
        with pytest.raises(DuplicateRegistration):
            onnx_weights("Linear")(doubled_bias)
    finally:
        del WEIGHTS["Linear"]


def test_target_descriptors_are_read_without_a_framework():
    import subprocess
    import sys

    code = ("import sys, nnlang.targets as t, nnlang.targets.capability, nnlang.api; "
            "print(t.TARGETS, [t.get(n).extra for n in t.TARGETS], t.for_source('m.onnx').name, "
            "t.for_source('m.py:Net').name, t.for_source('m.py'), "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'numpy', 'keras', 'google', 'cv2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("('torch', 'onnx', 'caffe', 'keras') ['torch', 'onnx', 'caffe', 'keras'] onnx torch None "
                           "[]")


def test_help_lists_only_the_targets_that_exist():
    from nnlang.cli import _parser

    text = _parser()._subparsers._group_actions[0].choices["compile"].format_help()
    assert "{torch,onnx,caffe,keras}" in text and "mxnet" not in text.lower()
    assert "--opset N" in text and "(--to onnx)" in text and "--layout LAYOUT" in text and "(--to keras)" in text
