"""Dense layers: Linear (Dense), Embedding, Bilinear."""

from __future__ import annotations

from .base import (BOOL, FLOAT, IN_FEATURES, INT, Inferred, LayerSpec, Optional_, Param, ShapeError, TensorType,
                   Weight, count, format_dim, same_dims)

FLOAT_DTYPES = ("f32", "f16", "bf16", "f64")
INDEX_DTYPES = ("i64", "i32")  # what torch.nn.Embedding accepts


def require_float(x: TensorType, layer: str, input: int = 0):
    """E305 when a float layer is fed integer data (typically token ids that need an Embedding)."""
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError(f"{layer} expects a float input, got {x.dtype} {x}"
                         + (" (token ids go through an Embedding first)" if x.dtype.startswith(("i", "u")) else ""),
                         "E305", input)


def _features(x: TensorType, layer: str, what: str = "in_features", input: int = 0) -> int:
    if x.rank < 1:
        raise ShapeError(f"{layer} expects an input of rank 1 or more [..., {what}], got rank 0 {x}", "E302", input)
    d = x.shape[-1]
    if isinstance(d, int):
        return d
    from .symdim import symbols

    names = sorted(symbols(d))
    if d is None or not names:
        why = "unknown (an earlier layer could not compute it)"
    else:
        them = "them" if len(names) > 1 else "it"
        why = (f"{format_dim(d)}, which depends on the input size{'s' if len(names) > 1 else ''} "
               f"{', '.join(names)}; give {them} a value (`--set {names[0]}=...`)")
        if not isinstance(d, str):  # sizes merged by a Flatten: pooling to a fixed size first removes them
            why += f" or make the size fixed before {layer} (e.g. AdaptiveAvgPool2d(1) -> Flatten)"
    raise ShapeError(f"{layer}: {what} must be known, but the last dim of its input {x} is {why}", "E303",
                     input)


# ---- Linear ------------------------------------------------------------------------------------

def _linear():
    def infer(a, inputs):
        (x,) = inputs
        _features(x, "Linear")
        require_float(x, "Linear")
        return [x.with_shape((*x.shape[:-1], a["out_features"]))]

    def weights(a, inputs):
        ws = [Weight("weight", (a["out_features"], _features(inputs[0], "Linear")))]
        if a["bias"]:
            ws.append(Weight("bias", (a["out_features"],)))
        return ws

    def macs(a, inputs, outputs):
        return count(outputs[0].shape) * _features(inputs[0], "Linear")

    return LayerSpec(
        name="Linear", family="dense",
        doc="Fully connected layer y = x W^T + b over the last dim: [..., in_features] -> [..., out_features]. "
            "in_features is inferred.",
        params=(
            Param("out_features", INT, doc="size of the output's last dim", min=1, aliases=("units",)),
            Param("bias", BOOL, True, "add a learned bias"),
        ),
        infer=infer, weights=weights, macs=macs, aliases=("Dense",), example="Linear(128)",
        torch_signature=(IN_FEATURES, "out_features", "bias"),
    )


# ---- Embedding ---------------------------------------------------------------------------------

def _embedding():
    def infer(a, inputs):
        (x,) = inputs
        if x.dtype not in INDEX_DTYPES:
            raise ShapeError(f"Embedding expects integer indices (i64 or i32), got {x.dtype} {x}", "E305", 0)
        pad, n = a["padding_idx"], a["num_embeddings"]
        if pad is not None and not -n <= pad < n:
            # A relation between two parameters: reported as an out-of-range parameter.
            raise ShapeError(f"Embedding: padding_idx {pad} must be within num_embeddings ({-n} to {n - 1})",
                             "E105")
        return [TensorType((*x.shape, a["embedding_dim"]), "f32", x.layout)]

    def weights(a, inputs):
        return [Weight("weight", (a["num_embeddings"], a["embedding_dim"]))]

    return LayerSpec(
        name="Embedding", family="dense",
        doc="Lookup table of learned vectors: integer indices [...] (i64/i32) -> f32 [..., embedding_dim].",
        params=(
            Param("num_embeddings", INT, doc="size of the vocabulary (number of rows)", min=1),
            Param("embedding_dim", INT, doc="size of each vector", min=1),
            Param("padding_idx", Optional_(INT), None, "index whose vector is not trained (stays zero)"),
            Param("max_norm", Optional_(FLOAT), None, "renormalise looked-up vectors to at most this norm", min=0),
            Param("norm_type", FLOAT, 2.0, "p of the p-norm used with max_norm"),
            Param("scale_grad_by_freq", BOOL, False, "scale gradients by inverse word frequency in the batch"),
            Param("sparse", BOOL, False, "sparse gradient for the weight"),
        ),
        infer=infer, weights=weights, example="Embedding(30000, 512)",
    )


# ---- Bilinear ----------------------------------------------------------------------------------

def _bilinear():
    def sizes(inputs):
        return tuple(_features(x, "Bilinear", f"in{i + 1}_features", i) for i, x in enumerate(inputs))

    def infer(a, inputs):
        x1, x2 = inputs
        sizes(inputs)
        for i, x in enumerate(inputs):
            require_float(x, "Bilinear", i)
        if x1.rank != x2.rank:
            raise ShapeError(f"Bilinear: both inputs must have the same rank, got {x1} and {x2}", "E302", 1)
        lead = []
        for k, (d1, d2) in enumerate(zip(x1.shape[:-1], x2.shape[:-1])):
            if not same_dims(d1, d2):  # torch does not broadcast the leading dims
                raise ShapeError(f"Bilinear: leading dims of {x1} and {x2} differ at dim {k} "
                                 f"({format_dim(d1)} vs {format_dim(d2)})", "E301", 1)
            lead.append(d2 if d1 is None else d1)
        return [x1.with_shape((*lead, a["out_features"]))]

    def weights(a, inputs):
        ws = [Weight("weight", (a["out_features"], *sizes(inputs)))]
        if a["bias"]:
            ws.append(Weight("bias", (a["out_features"],)))
        return ws

    def macs(a, inputs, outputs):
        # FlopCounterMode counts nothing here (aten._trilinear is not a counted op); these are the real
        # multiply-accumulates: every output element is a form x1^T W_k x2 of in1 * in2 products.
        in1, in2 = sizes(inputs)
        return count(outputs[0].shape) * in1 * in2

    return LayerSpec(
        name="Bilinear", family="dense",
        doc="Bilinear form y_k = x1^T W_k x2 + b_k of two inputs [..., in1] and [..., in2] with the same leading "
            "dims -> [..., out_features]. Both input sizes are inferred.",
        params=(
            Param("out_features", INT, doc="size of the output's last dim", min=1),
            Param("bias", BOOL, True, "add a learned bias"),
        ),
        infer=infer, weights=weights, macs=macs, inputs=(2, 2), input_names=("x1", "x2"),
        example="Bilinear(64)",
        torch_signature=(Inferred("in1_features", "features of x1", axis=-1),
                         Inferred("in2_features", "features of x2", axis=-1, input=1), "out_features", "bias"),
    )


LAYERS = [_linear(), _embedding(), _bilinear()]
