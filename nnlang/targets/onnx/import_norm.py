"""ONNX normalisations: BatchNormalization (opset 9+; the older forms are import_legacy's), LayerNormalization
(with its Mean / InvStdDev outputs where read), RMSNormalization, GroupNormalization (21+), LRN and
InstanceNormalization, as the registry's norm layers."""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, onnx_op


@onnx_op("BatchNormalization", since=9)
def batch_norm(op: Op):
    n = op.rank(0)
    # Before opset 14 listing the running statistics outputs means training mode (batch statistics).
    if any(op.node.output[1:]) or int(op.attrs.get("training_mode", 0)):
        raise Unsupported("BatchNormalization in training mode (statistics of the batch, outputs the running ones)")
    scale, bias, mean, var = (op.const_input(i, what) for i, what in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    dim = {2: 1, 3: 1, 4: 2, 5: 3}.get(n)
    if dim is None:
        raise Unsupported(f"BatchNormalization of a rank-{n} input")
    affine = op.affine(1, 2)
    weights = {"weight": scale, "bias": bias} if affine else {}
    return Layer(f"BatchNorm{dim}d", {"eps": float(op.attrs.get("epsilon", 1e-5)), "affine": affine,
                                      "momentum": round(1.0 - float(op.attrs.get("momentum", 0.9)), 6)},
                 weights={**weights, "running_mean": mean, "running_var": var,
                          "num_batches_tracked": np.array(0, dtype=np.int64)}, outputs=[op.node.output[0]])


@onnx_op("LayerNormalization", since=17)
def layer_norm(op: Op):
    scale = op.const_input(1, "scale")
    axis = int(op.attrs.get("axis", -1))
    rank = op.rank(0)
    if axis % rank != rank - scale.ndim:
        raise Unsupported("LayerNormalization whose axis does not match its scale")
    only_y = [op.node.output[0]]  # the Mean / InvStdDev outputs, unread, are no tensors of the layer
    b = op.const_input(2, "B")
    shape = tuple(int(d) for d in scale.shape)
    params = {"normalized_shape": shape[0] if len(shape) == 1 else shape, "eps": float(op.attrs.get("epsilon", 1e-5))}
    if not op.affine(1, 2):
        layer = Layer("LayerNorm", {**params, "elementwise_affine": False}, outputs=only_y)
    else:
        weights = {"weight": scale} if b is None else {"weight": scale, "bias": b}
        layer = Layer("LayerNorm", {**params, "bias": b is not None}, weights=weights, outputs=only_y)
    return _layer_norm_statistics(op, layer, tuple(range(axis % rank, rank)), params["eps"])


def _layer_norm_statistics(op: Op, layer: Layer, axes: tuple, eps: float):
    """LayerNormalization's Mean and InvStdDev outputs, where read, as layers beside the LayerNorm: the mean over
    the normalised axes (kept), and 1 / sqrt(mean((x - mean)^2) + eps), the + eps a Scale of weight 1."""
    outs = list(op.node.output) + ["", ""]
    read = [bool(o) and (bool(op.consumers(o)) or o in op.graph_outputs) for o in outs[1:3]]
    if not any(read):
        return layer
    if (op.dtype(op.input(0)) or "f32") != "f32":
        raise Unsupported("LayerNormalization's Mean / InvStdDev outputs of other than float32 (ONNX computes them "
                          "in its stash type)")
    x, y = op.input(0), outs[0]
    over = {"axis": axes if len(axes) > 1 else axes[0], "keepdims": True}
    mean = outs[1] if read[0] else f"{y}#mean"
    chain = [layer, Layer("Mean", over, inputs=[x], outputs=[mean])]
    if read[1]:
        one = np.ones(1, np.float32)
        chain += [Layer("Sub", {}, inputs=[x, mean], outputs=[f"{y}#centred"]),
                  Layer("Mul", {}, inputs=[f"{y}#centred", f"{y}#centred"], outputs=[f"{y}#square"]),
                  Layer("Mean", over, outputs=[f"{y}#var"]),
                  Layer("Scale", {"bias": True, "axis": -1}, weights={"weight": one, "bias": one * np.float32(eps)},
                        outputs=[f"{y}#var_eps"]),
                  Layer("Sqrt", outputs=[f"{y}#std"]), Layer("Reciprocal", outputs=[outs[2]])]
    return chain


@onnx_op("RMSNormalization", since=23)
def rms_norm(op: Op):
    """Y = X / sqrt(mean(X^2 over axis..) + epsilon) * scale; scale broadcast to the normalised dims."""
    scale = op.const_input(1, "scale")
    rank = op.rank(0)
    axis = int(op.attrs.get("axis", -1)) % rank
    dims = op.shape(op.input(0))[axis:]
    if any(not isinstance(d, int) for d in dims):
        raise Unsupported(f"RMSNormalization over dims of unknown size {dims}")
    if scale.ndim > len(dims):
        raise Unsupported("RMSNormalization whose scale has more dims than the normalised ones")
    shape = tuple(int(d) for d in dims)
    params = {"normalized_shape": shape[0] if len(shape) == 1 else shape, "eps": float(op.attrs.get("epsilon", 1e-5))}
    if np.all(scale == 1) and not (op.input(1) in op.initializers and op.input(1).rsplit(".", 1)[-1] in
                                   ("weight", "scale", "gamma")):
        return Layer("RMSNorm", {**params, "elementwise_affine": False})
    weight = np.ascontiguousarray(np.broadcast_to(scale, shape))
    return Layer("RMSNorm", params, weights={"weight": weight})


@onnx_op("GroupNormalization", since=21)
def group_norm(op: Op):
    """From opset 21 scale and bias are per channel, as torch's (18 took one per group)."""
    scale, bias = op.const_input(1, "scale"), op.const_input(2, "bias")
    affine = op.affine(1, 2)
    return Layer("GroupNorm", {"num_groups": int(op.attrs["num_groups"]), "eps": float(op.attrs.get("epsilon", 1e-5)),
                               "affine": bool(affine)}, weights={"weight": scale, "bias": bias} if affine else {})


@onnx_op("LRN")
def lrn(op: Op):
    return Layer("LocalResponseNorm", {"size": int(op.attrs["size"]), "alpha": float(op.attrs.get("alpha", 1e-4)),
                                       "beta": float(op.attrs.get("beta", 0.75)),
                                       "k": float(op.attrs.get("bias", 1.0))})


@onnx_op("InstanceNormalization")
def instance_norm(op: Op):
    n = op.rank(0) - 2
    scale, bias = op.const_input(1, "scale"), op.const_input(2, "B")
    affine = op.affine(1, 2)
    return Layer(f"InstanceNorm{n}d", {"eps": float(op.attrs.get("epsilon", 1e-5)), "affine": bool(affine)},
                 weights={"weight": scale, "bias": bias} if affine else {})
