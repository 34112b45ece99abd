"""Lowering: naming, hierarchy, instantiation chains, compile-time evaluation, overrides."""

from nnlang.analyze import analyze
from nnlang.ir.graph import Scope

BLOCKS = '''
block Unit(channels: int, stride: int = 1) {
    input x
    y = x -> conv: Conv2d(channels, 3, stride=stride, padding=1) -> ReLU
    if stride != 1 {
        x = x -> down: Conv2d(channels, 1, stride=stride)
    }
    out = (y, x) -> Add
    output out
}
'''


def lower(text, **kw):
    a = analyze(text, **kw)
    assert a.errors == [], [(d.code, d.span.line, d.message) for d in a.errors]
    return a


def test_names_follow_nn_sequential_positions_and_given_names():
    a = lower(BLOCKS + '''
network Net {
    input image: [N, 8, 16, 16]
    y = image -> stem: Conv2d(8, 3, padding=1) -> ReLU
        -> layer1: Unit(8) * 2
        -> layer2: [Unit(16, stride=2), Unit(16)]
        -> head: Sequential { Conv2d(4, 1) -> ReLU }
    output y
}
''')
    paths = [(n.path, n.op) for n in a.graph.nodes]
    assert paths == [
        ("stem", "Conv2d"), ("1", "ReLU"),
        ("layer1.0.conv", "Conv2d"), ("layer1.0.1", "ReLU"), ("layer1.0.2", "Add"),
        ("layer1.1.conv", "Conv2d"), ("layer1.1.1", "ReLU"), ("layer1.1.2", "Add"),
        ("layer2.0.conv", "Conv2d"), ("layer2.0.1", "ReLU"), ("layer2.0.down", "Conv2d"), ("layer2.0.3", "Add"),
        ("layer2.1.conv", "Conv2d"), ("layer2.1.1", "ReLU"), ("layer2.1.2", "Add"),
        ("head.0", "Conv2d"), ("head.1", "ReLU"),
    ]
    # Positions count what is created, as nn.Sequential does: the Add is child 3 where the `if`
    # created `down` and child 2 where it did not. Layers with weights are best named.


def test_scopes_keep_the_block_hierarchy_and_the_instantiation_chain():
    a = lower(BLOCKS + '''
network Net {
    input image: [N, 8, 16, 16]
    y = image -> layer1: Unit(8) * 2
    output y
}
''')
    root = a.graph.root
    (rep,) = [c for c in root.children if isinstance(c, Scope)]
    assert (rep.path, rep.kind) == ("layer1", "repeat")
    first, second = rep.children
    assert (first.path, first.kind, first.type_name, first.params) == ("layer1.0", "block", "Unit",
                                                                      {"channels": 8, "stride": 1})
    conv = next(n for n in a.graph.nodes if n.path == "layer1.1.conv")
    assert conv.scope is second
    (call,) = conv.instantiation
    assert a.text[call.span.start:call.span.end] == "Unit(8)"
    assert a.text[conv.site.span.start:conv.site.span.end] == "Conv2d(channels, 3, stride=stride, padding=1)"


def test_shapes_params_and_macs_are_inferred():
    a = lower('''
network Net {
    input image: [N, 3, 32, 32]
    y = image -> conv: Conv2d(16, 3, stride=2, padding="same") -> bn: BatchNorm2d
        -> GlobalAvgPool -> fc: Linear(10)
    output y
}
''')
    g = a.graph
    shapes = {n.path: g.tensors[n.outputs[0]].type.shape for n in g.nodes}
    assert shapes == {"conv": ("N", 16, 16, 16), "bn": ("N", 16, 16, 16), "2": ("N", 16), "fc": ("N", 10)}
    conv = g.nodes[0]
    assert conv.attrs["pads"] == (0, 0, 1, 1)  # TensorFlow's "same": the odd pixel at the end
    assert conv.params == 16 * 3 * 9 + 16 and conv.macs == 16 * 16 * 16 * 3 * 9
    bn = g.nodes[1]
    assert [(w.name, w.shape, w.trainable) for w in bn.weights] == [
        ("weight", (16,), True), ("bias", (16,), True), ("running_mean", (16,), False),
        ("running_var", (16,), False), ("num_batches_tracked", (), False)]
    assert g.total_params == 448 + 32 + 170


def test_compile_time_evaluation_templates_and_loops():
    a = lower('''
block DenseUnit(growth: int) {
    input x
    y = x -> Conv2d(growth, 3, padding=1)
    out = (x, y) -> Concat(axis=1)
    output out
}
network Net(layers: int = 3, growth: int = 4) {
    input x: [N, 8, 8, 8]
    let base = x.channels
    for i in range(layers) {
        x = x -> "dense{i + 1}": DenseUnit(growth)
    }
    y = x -> Conv2d(base, 1)
    output y
}
''')
    g = a.graph
    assert [s.path for s in g.root.children if isinstance(s, Scope)] == ["dense1", "dense2", "dense3"]
    assert g.tensors[g.outputs[0][1]].type.shape == ("N", 8, 8, 8)
    concat = [n for n in g.nodes if n.op == "Concat"]
    assert [g.tensors[n.outputs[0]].type.shape[1] for n in concat] == [12, 16, 20]


def test_overrides_and_network_selection():
    text = BLOCKS + '''
network A(width: int = 4) {
    input x: [N, 2, 4, 4]
    y = x -> Conv2d(width, 1)
    output y
}
network B {
    input x: [N, 2]
    y = x -> Linear(3)
    output y
}
'''
    assert lower(text).graph.name == "B"
    a = lower(text, network="A", overrides={"width": 6})
    assert a.graph.tensors[a.graph.outputs[0][1]].type.shape == ("N", 6, 4, 4)
    bad = analyze(text, network="A", overrides={"width": "wide"})
    assert [(d.code, d.message) for d in bad.errors] == [("E505", '--set width: expected an int, got string "wide"')]


def test_discard_and_destructuring():
    a = lower('''
network Net {
    input tokens: [N, T] i64
    (_, h, _) = tokens -> Embedding(100, 8) -> LSTM(16, num_layers=2, return_state=true)
    y = h -> Select(axis=0, index=-1) -> Linear(2)
    output y
}
''')
    assert a.diagnostics == []
    lstm = next(n for n in a.graph.nodes if n.op == "LSTM")
    assert len(lstm.outputs) == 3
    assert a.graph.tensors[a.graph.outputs[0][1]].type.shape == ("N", 2)


def test_errors_inside_blocks_point_into_the_block_with_the_call_related():
    a = analyze(BLOCKS + '''
network Net {
    input image: [N, 8, 2, 2]
    y = image -> Unit(8, stride=4) -> Conv2d(4, 5)
    output y
}
''')
    (d,) = a.errors
    assert d.code == "E304" and a.text[d.span.start:d.span.end] == "Conv2d(4, 5)"  # the block made it 1x1
    assert "kernel 5" in d.message and "(1 + 0)" in d.message
    (rel,) = d.related
    assert "'out' [N, 8, 1, 1] comes from here" == rel.message
    assert a.text[rel.span.start:rel.span.end] == "Add"  # inside the block, where `out` was made


def test_shape_errors_inside_a_block_name_the_call_site():
    a = analyze(BLOCKS + '''
network Net {
    input image: [N, 8, 4, 4]
    y = image -> Unit(16)
    output y
}
''')
    (d,) = a.errors
    assert d.code == "E301" and a.text[d.span.start:d.span.end] == "Add"
    assert "[N, 16, 4, 4]" in d.message and "[N, 8, 4, 4]" in d.message
    calls = [r for r in d.related if a.text[r.span.start:r.span.end] == "Unit(16)"]
    assert [r.message for r in calls] == ["'x' [N, 8, 4, 4] is the input given to Unit here"]


def test_analysis_is_deterministic():
    text = BLOCKS + "network Net {\n input x: [N, 8, 8, 8]\n y = x -> Unit(8) * 3\n output y\n}\n"
    first = [(n.path, n.op, n.attrs, n.params) for n in analyze(text).graph.nodes]
    second = [(n.path, n.op, n.attrs, n.params) for n in analyze(text).graph.nodes]
    assert first == second


def test_a_failing_repeated_layer_is_reported_once_without_expanding_the_rest():
    from nnlang.ir import lower

    calls = []
    original = lower.Lowerer.layer

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    bomb = "network Bomb {\n input x: [N, 4]\n y = x -> [Conv2d(3, k) * 10000] * 10000\n output y\n}\n"
    lower.Lowerer.layer = counting
    try:
        a = analyze(bomb)
    finally:
        lower.Lowerer.layer = original
    assert [(d.code, a.text[d.span.start:d.span.end]) for d in a.diagnostics] == [("E208", "k")]
    assert len(calls) == 1  # the first item failed: the 10^8 others would repeat it


def test_a_loop_of_failing_layers_is_bounded_by_the_work_limit():
    loop = "network A {\n input x: [N, 4]\n for i in range(100000) { y = x -> Conv2d(3, k) }\n" \
           "  z = x -> ReLU\n output z\n}\n"
    a = analyze(loop)
    assert "E503" in {d.code for d in a.diagnostics}  # failed calls count as work: ~50,000 tried, not 100,000


def test_expansion_is_bounded():
    import time

    loops = "network A {\n  input x: [N, 4]\n  for i in range(2000) { for j in range(2000) { let k = i } }\n" \
            "  y = x -> ReLU\n  output y\n}\n"
    layers = "network A {\n  input x: [N, 4]\n  y = x -> ReLU * 10000 -> ReLU * 10000 -> ReLU * 10000\n  output y\n}\n"
    growth = "network A {\n  input x: [N, 4]\n  let t = (1,)\n  for i in range(40) { let t = t + t }\n" \
             "  y = x -> ReLU\n  output y\n}\n"
    for text, where in ((loops, "let k = i"), (layers, "ReLU"), (growth, "t + t")):
        start = time.perf_counter()
        a = analyze(text)
        assert time.perf_counter() - start < 5  # generous: the benchmarks measure speed
        (d,) = a.diagnostics
        assert d.code == "E503"
        assert a.text[d.span.start:d.span.end] == where
