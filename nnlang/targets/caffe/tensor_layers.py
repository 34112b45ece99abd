"""Caffe forms of tensor math beyond one layer each (see layers.py for the rest), and the sequence layers' refusals.

    Sum / Mean over trailing axes   InnerProduct of a fixed vector (ones, or 1/n) from the first axis, a Reshape
    Div of two tensors              Power(-1) of the divisor, then Eltwise PROD (equal shapes) or a two-input Scale
                                    (a divisor [N, ..., 1, ...] over x's leading axes, reshaped to drop its 1s)
    Select                          a Slice keeping one index (the rest silenced), a Reshape dropping the axis

BVLC's Reduction (SUM, MEAN) is not run by OpenCV's DNN, the target's runtime ("Can't create layer ... of type
\"Reduction\""): a reduction of the trailing axes is an InnerProduct with a fixed (lr_mult 0) weight instead, as
nearest upsampling is a fixed Deconvolution of ones.
"""

from __future__ import annotations

from .plan import NotExpressible, caffe_layer

FIXED = {"lr_mult": 0.0, "decay_mult": 0.0}


def _keep_dims(b, top: str, what: str = "") -> str:
    """A Reshape to the node's output shape (the batch dim copied)."""
    dims = [0] + [b.known(d, "a reduced size") for d in b.out_types[0].shape[1:]]
    return b.one("Reshape", [top], {"reshape_param": {"shape": {"dim": dims}}}, what=what)


@caffe_layer("Sum", "Mean")
def reduce_tail(b):
    rank = b.t.rank
    axis = b.a["axis"]
    axes = sorted({a % rank for a in (axis if isinstance(axis, (tuple, list)) else (axis,))})
    first = axes[0]
    if axes != list(range(first, rank)) or first == 0:
        raise NotExpressible(f"{b.node.op} over axes {tuple(axes)} of a rank-{rank} input: Caffe sums the trailing "
                             "axes after the batch only (an InnerProduct of a fixed vector; OpenCV, the target's "
                             "runtime, does not run BVLC's Reduction)")
    n = 1
    for d in b.t.shape[first:]:
        n *= b.known(d, "a reduced size")
    value = 1.0 if b.node.op == "Sum" else 1.0 / n

    def weight(state):
        import numpy as np

        return [np.full((1, n), value, np.float32)]

    p = {"num_output": 1, "bias_term": False, "axis": first}
    reduced = b.one("InnerProduct", b.bottoms, {"param": [FIXED], "inner_product_param": p}, weight,
                    what="reduce")  # shape[:first] + [1]
    return [_keep_dims(b, reduced)]


def divide(b) -> list:
    """x / d of two tensors: x * d^-1, d broadcast over x's trailing axes (a two-input Scale) or of x's shape."""
    (x, d), (tx, td) = b.bottoms, (b.types[0].shape, b.types[1].shape)
    if b.out_types[0].shape != tx or len(td) != len(tx):
        raise NotExpressible(f"Div of {[str(t) for t in b.types]}: Caffe scales the first operand by the second, "
                             "which must match its leading axes (1 after them)")
    lead = len(td)
    while lead and td[lead - 1] == 1 and tx[lead - 1] != 1:
        lead -= 1
    if lead == 0 or tuple(td[:lead]) != tuple(tx[:lead]) or any(v != 1 for v in td[lead:]):
        raise NotExpressible(f"Div of {[str(t) for t in b.types]}: Caffe scales the first operand by the second, "
                             "which must match its leading axes (1 after them)")
    inverse = b.one("Power", [d], {"power_param": {"power": -1.0}}, what="reciprocal")
    if lead == len(tx):
        return [b.one("Eltwise", [x, inverse], {"eltwise_param": {"operation": "PROD"}})]
    # a Scale's second bottom spans the axes it scales: the divisor's trailing 1s dropped (also a Reshape stands
    # between Power and Scale, which OpenCV would otherwise fold as if the power were 1)
    dims = [0] + [b.known(v, "the divisor's size") for v in td[1:lead]]
    flat = b.one("Reshape", [inverse], {"reshape_param": {"shape": {"dim": dims}}}, what="divisor")
    return [b.one("Scale", [x, flat], {"scale_param": {"axis": 0}})]


@caffe_layer("Select")
def select(b):
    from .layers import keep_part

    axis = b.a["axis"] % b.t.rank
    if axis == 0:
        raise NotExpressible("Select on the batch axis: a reshape of the batch axis is not written for Caffe")
    size = b.known(b.t.shape[axis], "the selected axis's size")
    index = b.a["index"] % size
    kept = keep_part(b, axis, index, index + 1, size)
    return [_keep_dims(b, kept)]


# ---- sequence layers: refused with what the target's runtime lacks -----------------------------------

@caffe_layer("Embedding")
def embedding(b):
    raise NotExpressible("Embedding: BVLC Caffe's Embed is not run by OpenCV's DNN, the target's runtime (it "
                         "cannot create a layer of type Embed)")


@caffe_layer("LSTM")
def lstm(b):
    raise NotExpressible("LSTM: OpenCV's DNN, the target's runtime, reads a Caffe LSTM's blobs in its own order "
                         "and number (Wh, Wx, b, h0, c0), BVLC's are W_xc, b_c, W_hc: no caffemodel runs in both; "
                         "BVLC's LSTM is also time-major and Caffe has no Permute")


@caffe_layer("RNN")
def rnn(b):
    raise NotExpressible("RNN: BVLC Caffe's RNN outputs tanh(W_ho h + b_o), a transform of the hidden state that "
                         "no weights make the identity, and is time-major (Caffe has no Permute)")
