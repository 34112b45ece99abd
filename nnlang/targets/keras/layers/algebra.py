"""MatMul (keras.ops.matmul), Scale and Bilinear (EinsumDense: Keras's own layer for a weight contracted with
chosen axes, so the weights keep torch's count and sit in the saved file as layer weights)."""

from __future__ import annotations

import string

import numpy as np

from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights
from .shape import DTYPES, _stored, _stored_axis


@keras_layer("MatMul")
def matmul(b):
    return Val(b.ops.matmul(b.ir(0), b.ir(1)))


@keras_layer("Scale")
def scale(b):
    """x * weight + bias along one axis: EinsumDense "abcd,b->abcd" (bias on b) over the tensor as stored."""
    a = b.a
    rank = b.t.rank
    axis = a["axis"] % rank
    if axis == 0 or rank < 2:
        raise NotExpressible("Scale along the batch axis: Keras layers keep it")
    t, perm = _stored(b)
    want = DTYPES.get(b.out_types[0].dtype, "float32")
    if str(t.dtype) != want:  # an integer input: torch promotes it with the float weight
        t = b.ops.cast(t, want)
    k = _stored_axis(perm, axis)
    back = None
    if k != rank - 1 and any(d is None for d in t.shape[1:]):
        # the full equation needs every size: with unknown ones, scale the last axis ("...c") between Permutes
        order = tuple(j for j in range(rank) if j != k) + (k,)
        t = b.em.permute(t, order, b.name("axis_last"))
        back, k = tuple(int(j) for j in np.argsort(order)), rank - 1
    letters = string.ascii_lowercase[:rank]
    c = letters[k]
    shape = tuple(t.shape[1:])
    if k == rank - 1:
        letters, shape = "..." + c, shape[-1:]
    layer = b.layer(b.L.EinsumDense, equation=f"{letters},{c}->{letters}", output_shape=shape,
                    bias_axes=c if a["bias"] else None)
    y = layer(t)

    def fix(values):  # Keras's bias keeps 1s after its axis so that it broadcasts: [C] -> [C, 1, 1]
        return [v.reshape(tuple(w.shape)) for v, w in zip(values, layer.weights)]
    b.weighted(layer, ["kernel", "bias"] if a["bias"] else ["kernel"], fix)
    if back is not None:
        y = b.em.permute(y, back, b.name("axis_back"))
    return Val(y, perm)


@keras_weights("Scale")
def scale_weights(node, w):
    return {"kernel": w["weight"], **({"bias": w["bias"]} if "bias" in w else {})}


@keras_layer("Bilinear")
def bilinear(b):
    """y_o = sum_ij x1_i W_oij x2_j + b_o: EinsumDense contracts x1 with W (-> [..., out, in2]), then the product
    with x2 is summed over in2; the bias is a bias-free Dense read on a ones column (no layer adds a bias alone
    without more weights)."""
    a = b.a
    if b.types[0].rank < 2:
        raise NotExpressible("Bilinear on unbatched vectors: Keras layers need a batch axis")
    x1, x2 = b.ir(0), b.ir(1)
    out = int(a["out_features"])
    in2 = b.known(b.types[1].shape[-1], "in2_features")
    layer = b.layer(b.L.EinsumDense, equation="...i,ioj->...oj", output_shape=(out, in2))
    z = layer(x1)
    b.weighted(layer, ["kernel"])
    y = b.ops.sum(b.ops.multiply(z, b.ops.expand_dims(x2, -2)), axis=-1)
    if a["bias"]:
        bias = b.layer(b.L.Dense, "bias", units=out, use_bias=False)
        y = b.ops.add(y, bias(b.ops.ones_like(x1[..., :1])))
        b.weighted(bias, ["bias_kernel"])
    return Val(y)


@keras_weights("Bilinear")
def bilinear_weights(node, w):
    out = {"kernel": np.transpose(w["weight"], (1, 0, 2))}  # [out, in1, in2] -> [in1, out, in2]
    if "bias" in w:
        out["bias_kernel"] = w["bias"][None, :]
    return out
