"""How each registry layer becomes BVLC Caffe layers: one small function per layer (see plan.py).

Only layer types and fields BVLC's caffe.proto has are written. Layers without a Caffe type are decomposed
exactly where Caffe's layers allow (ReLU6 = ReLU(x) - ReLU(x - 6), SiLU = x * sigmoid(x), floor-rounded
pooling = Caffe's ceil-rounded pooling then a Slice that drops the extra row / column); the rest raise
NotExpressible with the reason. Blob layouts equal PyTorch's (OIHW kernels, [out, in] inner products,
[in, out / groups, kh, kw] deconvolutions), so blobs are the state entries as they are, but for BatchNorm
(mean, variance and Caffe's scale factor 1) and its affine part (a Scale layer).
"""

from __future__ import annotations

from .constants import constant_layers
from .plan import NotExpressible, caffe_layer
from .tensor_layers import divide  # importing it registers its mappings too (Sum, Mean, Select, refusals)

# Layers that compute nothing at inference: their result is their input blob.
IDENTITY = ("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "StochasticDepth")


@caffe_layer(*IDENTITY)
def identity(b):
    return [b.bottoms[0]]


def _symmetric(b, pads, n: int, what: str) -> list:
    begin, end = list(pads[:n]), list(pads[n:])
    if begin != end:
        raise NotExpressible(f"{b.node.op}: asymmetric padding {tuple(pads)}: Caffe pads both sides alike ({what})")
    return begin


def _hw(prefix: str, values) -> dict:
    return {f"{prefix}_h": int(values[0]), f"{prefix}_w": int(values[1])}


# ---- convolutions ------------------------------------------------------------------------------

@caffe_layer("Conv2d", "DepthwiseConv2d", "StdConv2d", "ScaledStdConv2d")
def convolution(b):
    a = b.a
    b.spatial()
    cin = b.known(b.t.shape[1], "input channels")
    depthwise = b.node.op == "DepthwiseConv2d"
    groups = cin if depthwise else a["groups"]
    out = cin * a["multiplier"] if depthwise else a["out_channels"]
    pad = _symmetric(b, a["pads"], 2, "a Pad layer is not BVLC")
    p = {"num_output": out, "bias_term": bool(a["bias"]), **_hw("pad", pad), **_hw("kernel", a["kernel"]),
         **_hw("stride", a["stride"])}
    if groups != 1:
        p["group"] = groups
    if tuple(a["dilation"]) != (1, 1):
        if a["dilation"][0] != a["dilation"][1]:
            raise NotExpressible("Convolution: Caffe's dilation is one number per axis only through `dilation`, "
                                 "and OpenCV reads the first; unequal dilations are not written")
        p["dilation"] = [int(a["dilation"][0])]
    blobs = b.state("weight", "bias") if a["bias"] else b.state("weight")
    if b.node.op in ("StdConv2d", "ScaledStdConv2d"):  # the kernel as the convolution applies it
        blobs = _standardized_blobs(b, blobs)
    return [b.one("Convolution", b.bottoms, {"convolution_param": p}, blobs)]


def _standardized_blobs(b, blobs):
    from ..conversion import standardized_kernel

    node, gain = b.node, (b.state("gain") if b.node.op == "ScaledStdConv2d" else None)

    def made(state):
        weight, *rest = blobs(state)
        given = {"weight": weight, **({"gain": gain(state)[0]} if gain else {})}
        return [standardized_kernel(node, given), *rest]
    return made


@caffe_layer("ConvTranspose2d")
def deconvolution(b):
    a = b.a
    b.spatial()
    if any(a["output_padding"]):
        raise NotExpressible(f"ConvTranspose2d: output_padding {a['output_padding']} has no Caffe field")
    if tuple(a["dilation"]) != (1, 1):
        raise NotExpressible("ConvTranspose2d: dilation is not written for Caffe's Deconvolution")
    p = {"num_output": a["out_channels"], "bias_term": bool(a["bias"]), **_hw("pad", a["padding"]),
         **_hw("kernel", a["kernel"]), **_hw("stride", a["stride"])}
    if a["groups"] != 1:
        p["group"] = a["groups"]
    return [b.one("Deconvolution", b.bottoms, {"convolution_param": p},
                  b.state("weight", "bias") if a["bias"] else b.state("weight"))]


@caffe_layer("Upsample")
def upsample(b):
    """Nearest upsampling by whole factors is each pixel repeated: a per-channel Deconvolution of ones with
    kernel = stride = the factor (one product by 1.0 per output pixel: exact), its weights fixed (lr_mult 0), as
    FCN's fixed upsampling deconvolutions are. The Caffe importer reads such a layer back as Upsample."""
    a = b.a
    b.spatial()
    if a["mode"] != "nearest":
        raise NotExpressible(f"Upsample: mode {a['mode']!r} has no Caffe layer (nearest by whole factors is a "
                             "Deconvolution)")
    sizes = [b.known(d, "the spatial size") for d in b.t.shape[2:]]
    outs = [b.known(d, "the upsampled size") for d in b.out_types[0].shape[2:]]
    if any(o % i for i, o in zip(sizes, outs)):
        raise NotExpressible(f"Upsample: {tuple(sizes)} to {tuple(outs)} is not by whole factors (nearest by whole "
                             "factors is a Deconvolution; other sizes have no Caffe layer)")
    k = [o // i for i, o in zip(sizes, outs)]
    c = b.known(b.t.shape[1], "input channels")
    p = {"num_output": c, "bias_term": False, **_hw("pad", (0, 0)), **_hw("kernel", k), **_hw("stride", k),
         "group": c}

    def ones(state):
        import numpy as np

        return [np.ones((c, 1, *k), np.float32)]

    return [b.one("Deconvolution", b.bottoms, {"param": [{"lr_mult": 0.0, "decay_mult": 0.0}],
                                               "convolution_param": p}, ones)]


@caffe_layer("Linear")
def inner_product(b):
    a = b.a
    p = {"num_output": a["out_features"], "bias_term": bool(a["bias"])}
    if b.t.rank != 2:
        p["axis"] = b.t.rank - 1  # Linear acts on the last axis; InnerProduct flattens from `axis`
    return [b.one("InnerProduct", b.bottoms, {"inner_product_param": p},
                  b.state("weight", "bias") if a["bias"] else b.state("weight"))]


# ---- pooling -----------------------------------------------------------------------------------

def caffe_pooled(size: int, kernel: int, stride: int, pad: int) -> int:
    """Caffe's pooled size (pooling_layer.cpp): ceil rounding, the last window starting inside the input."""
    pooled = -(-(size + 2 * pad - kernel) // stride) + 1
    if pad and (pooled - 1) * stride >= size + pad:
        pooled -= 1
    return pooled


def _crop_to(b, blob: str, have: list, want: list, result: bool = True) -> str:
    """Drop the trailing rows / columns Caffe's ceil rounding added: a Slice per axis, the rest silenced. Exact:
    the first `want` windows of ceil rounding are floor rounding's windows. `result`: the last Slice's kept top
    is the node's result (named by its path)."""
    axes = [axis for axis, (h, w) in enumerate(zip(have, want), start=2) if h != w]
    for axis in axes:
        w = want[axis - 2]
        kept, extra = b.add("Slice", [blob], {"slice_param": {"axis": axis, "slice_point": [w]}},
                            what=f"floor{axis}", tops=2, result=result and axis == axes[-1])
        b.add("Silence", [extra], what=f"floor{axis}_rest", tops=0)
        blob = kept
    return blob


def _pool(b, method: str, kernel, stride, pads, want: list, global_pooling: bool = False, what: str = "",
          result: bool = True) -> str:
    b.spatial()
    if global_pooling:
        return b.one("Pooling", b.bottoms, {"pooling_param": {"pool": method, "global_pooling": True}}, what=what)
    pad = _symmetric(b, pads, 2, "Caffe pools pad both sides alike")
    for k, p in zip(kernel, pad):
        if p >= k:
            raise NotExpressible(f"{b.node.op}: padding {p} must be below the window {k} in Caffe")
    sizes = [b.known(d, "the pooled size") for d in b.t.shape[2:]]
    have = [caffe_pooled(s, k, st, p) for s, k, st, p in zip(sizes, kernel, stride, pad)]
    if any(h < w for h, w in zip(have, want)):
        raise NotExpressible(f"{b.node.op}: Caffe's pooled size {have} is smaller than {want}")
    params = {"pool": method, **_hw("pad", pad), **_hw("kernel", kernel), **_hw("stride", stride)}
    if have == want:
        return b.one("Pooling", b.bottoms, {"pooling_param": params}, what=what)
    top = b.one("Pooling", b.bottoms, {"pooling_param": params}, what="ceil")
    return _crop_to(b, top, have, want, result)


def window_ratio(sizes, kernel, stride, pad, want) -> list:
    """Per output position (the first `want` rows / columns): Caffe's AVE divisor over the count of input pixels
    in the window, per axis ([[h ratios], [w ratios]]). Caffe (pooling_layer.cpp, as torch's avg_pool2d) clips
    a window to the padded border for its divisor and to the input for the pixels it sums."""
    out = []
    for size, k, s, p, n in zip(sizes, kernel, stride, pad, want):
        ratios = []
        for o in range(n):
            start = o * s - p
            end = min(start + k, size + p)
            ratios.append((end - start) / (min(end, size) - max(start, 0)))
        out.append(ratios)
    return out


def _average_of_pixels(b, kernel, stride, pads, want: list) -> str:
    """AvgPool2d(count_include_pad=false): Caffe's AVE pooling (padded zeros counted) rescaled per output position
    by a one-input Scale over [H_out, W_out] whose fixed blob (lr_mult 0) is the padded window's size over the
    count of input pixels in it."""
    pooled = _pool(b, "AVE", kernel, stride, pads, want, what="padded", result=False)
    sizes = [b.known(d, "the pooled size") for d in b.t.shape[2:]]
    rh, rw = window_ratio(sizes, kernel, stride, pads[:2], want)

    def ratio(state):
        import numpy as np

        return [np.outer(np.asarray(rh, np.float64), np.asarray(rw, np.float64)).astype(np.float32)]

    p = {"param": [{"lr_mult": 0.0, "decay_mult": 0.0}],
         "scale_param": {"axis": 2, "num_axes": 2, "bias_term": False}}
    return b.one("Scale", [pooled], p, ratio)


@caffe_layer("MaxPool2d", "AvgPool2d")
def pooling(b):
    a = b.a
    if max(a.get("dilation") or (1,)) > 1:
        raise NotExpressible(f"{b.node.op}: Caffe pooling has no dilation")
    want = [b.known(d, "the pooled size") for d in b.out_types[0].shape[2:]]
    if b.node.op == "AvgPool2d" and not a["count_include_pad"] and any(a["pads"]):
        return [_average_of_pixels(b, a["kernel"], a["stride"], a["pads"], want)]
    return [_pool(b, "MAX" if b.node.op == "MaxPool2d" else "AVE", a["kernel"], a["stride"], a["pads"], want)]


@caffe_layer("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
def adaptive_pooling(b):
    method = "AVE" if "Avg" in b.node.op else "MAX"
    b.spatial()
    sizes = [b.known(d, "the input size") for d in b.t.shape[2:]]
    want = list(b.a["output_size"])
    if sizes == want:
        return [b.bottoms[0]]
    if want == [1, 1]:
        return [_pool(b, method, (), (), (), want, global_pooling=True)]
    if any(s % w for s, w in zip(sizes, want)):
        raise NotExpressible(f"{b.node.op}: output {tuple(want)} does not divide the input {tuple(sizes)}: "
                             "the windows differ in size, which Caffe pooling cannot do")
    kernel = [s // w for s, w in zip(sizes, want)]
    return [_pool(b, method, kernel, kernel, (0, 0, 0, 0), want)]


@caffe_layer("GlobalAvgPool", "GlobalMaxPool")
def global_pooling(b):
    keep = b.a["keepdims"]
    top = _pool(b, "AVE" if "Avg" in b.node.op else "MAX", (), (), (), [1, 1], global_pooling=True,
                what="" if keep else "pool")
    return [top if keep else b.one("Flatten", [top], {"flatten_param": {"axis": 1}})]


# ---- normalisation -----------------------------------------------------------------------------

@caffe_layer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def batch_norm(b):
    a = b.a
    if not a["track_running_stats"]:
        raise NotExpressible(f"{b.node.op} without running statistics normalises by the batch's own: "
                             "Caffe's deploy BatchNorm uses stored statistics")
    mean, var = b.key("running_mean"), b.key("running_var")

    def stats(state):
        import numpy as np

        return [state[mean], state[var], np.ones((1,), np.float32)]  # Caffe divides both by this factor

    p = {"use_global_stats": True, "eps": float(a["eps"])}
    if not a["affine"]:
        return [b.one("BatchNorm", b.bottoms, {"batch_norm_param": p}, stats)]
    normed = b.one("BatchNorm", b.bottoms, {"batch_norm_param": p}, stats, what="bn")
    return [b.one("Scale", [normed], {"scale_param": {"bias_term": True}}, b.state("weight", "bias"))]


@caffe_layer("LocalResponseNorm")
def lrn(b):
    a = b.a
    if a["size"] % 2 == 0:
        raise NotExpressible(f"LocalResponseNorm: size {a['size']} is even; Caffe's LRN window is odd and centred")
    if a["region"] == "within":
        # Caffe's WITHIN_CHANNEL computes 1 + alpha * mean(x^2): its `k` is not read there.
        if float(a["k"]) != 1.0:
            raise NotExpressible(f"LocalResponseNorm(region=\"within\"): k={a['k']}; Caffe's WITHIN_CHANNEL "
                                 "LRN adds 1")
        p = {"local_size": a["size"], "alpha": float(a["alpha"]), "beta": float(a["beta"]),
             "norm_region": "WITHIN_CHANNEL"}
        return [b.one("LRN", b.bottoms, {"lrn_param": p})]
    p = {"local_size": a["size"], "alpha": float(a["alpha"]), "beta": float(a["beta"]), "k": float(a["k"]),
         "norm_region": "ACROSS_CHANNELS"}
    return [b.one("LRN", b.bottoms, {"lrn_param": p})]


@caffe_layer("Scale", "LayerScale")
def scale(b):
    a = b.a
    axis = a["axis"] % b.t.rank
    bias = b.node.op == "Scale" and a["bias"]
    weights = b.state("weight", "bias") if bias else (b.state("weight") if b.node.op == "Scale" else b.state(""))
    return [b.one("Scale", b.bottoms, {"scale_param": {"axis": axis, "bias_term": bool(bias)}}, weights)]


# ---- activations -------------------------------------------------------------------------------

_SIMPLE = {"ReLU": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "TanH"}


@caffe_layer(*_SIMPLE)
def simple(b):
    return [b.one(_SIMPLE[b.node.op], b.bottoms)]


@caffe_layer("LeakyReLU")
def leaky_relu(b):
    return [b.one("ReLU", b.bottoms, {"relu_param": {"negative_slope": float(b.a["negative_slope"])}})]


@caffe_layer("ELU")
def elu(b):
    return [b.one("ELU", b.bottoms, {"elu_param": {"alpha": float(b.a["alpha"])}})]


@caffe_layer("SELU")
def selu(b):
    alpha, lam = 1.6732632423543772, 1.0507009873554805  # torch.nn.SELU's constants
    x = b.one("ELU", b.bottoms, {"elu_param": {"alpha": alpha}}, what="elu")
    return [b.one("Power", [x], {"power_param": {"scale": lam}})]


@caffe_layer("PReLU")
def prelu(b):
    shared = b.a["num_parameters"] == 1
    return [b.one("PReLU", b.bottoms, {"prelu_param": {"channel_shared": shared}}, b.state("weight"))]


def clip(b, x: str, low: float, high: float, what: str = "", last: bool = True) -> str:
    """min(max(x, low), high) = ReLU(x - low) - ReLU(x - high) + low, with Power shifts and an Eltwise sum."""
    def shifted(shift: float, tag: str) -> str:
        t = x if shift == 0 else b.one("Power", [x], {"power_param": {"shift": float(shift)}}, what=f"{what}{tag}_in")
        return b.one("ReLU", [t], what=f"{what}{tag}")

    lo, hi = shifted(-low, "relu_low"), shifted(-high, "relu_high")
    y = b.one("Eltwise", [lo, hi], {"eltwise_param": {"operation": "SUM", "coeff": [1.0, -1.0]}},
              what="" if (last and low == 0) else f"{what}clip")
    if low != 0:
        y = b.one("Power", [y], {"power_param": {"shift": float(low)}}, what="" if last else f"{what}clip_low")
    return y


@caffe_layer("ReLU6")
def relu6(b):
    return [clip(b, b.bottoms[0], 0.0, 6.0)]


@caffe_layer("Hardtanh")
def hardtanh(b):
    return [clip(b, b.bottoms[0], float(b.a["min_val"]), float(b.a["max_val"]))]


def _hardsigmoid(b, x: str, last: bool) -> str:
    """relu6(x + 3) / 6."""
    t = b.one("Power", [x], {"power_param": {"shift": 3.0}}, what="plus3")
    t = clip(b, t, 0.0, 6.0, what="hs_", last=False)
    return b.one("Power", [t], {"power_param": {"scale": 1.0 / 6.0}}, what="" if last else "hardsigmoid")


@caffe_layer("Hardsigmoid")
def hardsigmoid(b):
    return [_hardsigmoid(b, b.bottoms[0], last=True)]


@caffe_layer("Hardswish")
def hardswish(b):
    gate = _hardsigmoid(b, b.bottoms[0], last=False)
    return [b.one("Eltwise", [b.bottoms[0], gate], {"eltwise_param": {"operation": "PROD"}})]


@caffe_layer("SiLU")
def silu(b):
    gate = b.one("Sigmoid", b.bottoms, what="sigmoid")
    return [b.one("Eltwise", [b.bottoms[0], gate], {"eltwise_param": {"operation": "PROD"}})]


def _softplus(b, x: str, last: bool) -> str:
    beta = float(b.a.get("beta", 1.0))
    if beta == 1.0:
        return b.one("BNLL", [x], what="" if last else "softplus")
    t = b.one("Power", [x], {"power_param": {"scale": beta}}, what="beta")
    t = b.one("BNLL", [t], what="softplus")
    return b.one("Power", [t], {"power_param": {"scale": 1.0 / beta}}, what="" if last else "softplus_beta")


@caffe_layer("Softplus")
def softplus(b):
    # torch returns x where beta * x > threshold (20): BNLL's log(1 + exp(-x)) is below 2.1e-9 there.
    return [_softplus(b, b.bottoms[0], last=True)]


@caffe_layer("Mish")
def mish(b):
    t = _softplus(b, b.bottoms[0], last=False)
    t = b.one("TanH", [t], what="tanh")
    return [b.one("Eltwise", [b.bottoms[0], t], {"eltwise_param": {"operation": "PROD"}})]


@caffe_layer("Softmax", "LogSoftmax")
def softmax(b):
    axis = b.a["dim"] % b.t.rank
    if b.node.op == "Softmax":
        return [b.one("Softmax", b.bottoms, {"softmax_param": {"axis": axis}})]
    p = b.one("Softmax", b.bottoms, {"softmax_param": {"axis": axis}}, what="softmax")
    return [b.one("Log", [p])]


# ---- merges ------------------------------------------------------------------------------------

def _same_shapes(b) -> bool:
    return all(t.shape == b.out_types[0].shape for t in b.types)


def _broadcast_channels(b):
    """(index of the full input, index of the [N, C, 1, ...] one) for x * s / x + s, else None."""
    if len(b.types) != 2:
        return None
    full = b.out_types[0].shape
    for i, j in ((0, 1), (1, 0)):
        ti, tj = b.types[i].shape, b.types[j].shape
        if ti == full and len(tj) == len(full) and tj[:2] == full[:2] and all(d == 1 for d in tj[2:]):
            return i, j
    return None


@caffe_layer("Div", "Minimum")
def with_constant_only(b):
    """By a constant, Div and Minimum are Power / Scale; Div of two tensors is a product by Power(-1) of the
    divisor (tensor_layers.py); Minimum of two has no Eltwise operation."""
    layers = constant_layers(b)
    if layers is None and b.node.op == "Div":
        return divide(b)
    if layers is None:
        raise NotExpressible(f"{b.node.op} of two tensors: Caffe's Eltwise has no {b.node.op.lower()} (SUM, PROD, "
                             "MAX only)")
    return layers


@caffe_layer("Add", "Sub", "Mul", "Maximum", "Average")
def eltwise(b):
    op = b.node.op
    layers = constant_layers(b) if op != "Average" else None  # the one-tensor form (constants.py)
    if layers is not None:
        return layers
    if not _same_shapes(b):
        pair = _broadcast_channels(b) if op in ("Mul", "Add") else None
        if pair is None:
            raise NotExpressible(f"{op} of {[str(t) for t in b.types]}: Caffe's Eltwise needs equal shapes "
                                 "(a per-channel [N, C, 1, 1] operand is written as Scale / Bias)")
        i, j = pair
        flat = b.one("Flatten", [b.bottoms[j]], {"flatten_param": {"axis": 1}}, what="per_channel")
        layer, param = ("Scale", "scale_param") if op == "Mul" else ("Bias", "bias_param")
        return [b.one(layer, [b.bottoms[i], flat], {param: {"axis": 0}})]
    n = len(b.bottoms)
    if op == "Sub":
        p = {"operation": "SUM", "coeff": [1.0, -1.0]}
    elif op == "Average":
        p = {"operation": "SUM", "coeff": [1.0 / n] * n}
    else:
        p = {"operation": {"Add": "SUM", "Mul": "PROD", "Maximum": "MAX"}[op]}
    return [b.one("Eltwise", b.bottoms, {"eltwise_param": p})]


@caffe_layer("Concat")
def concat(b):
    return [b.one("Concat", b.bottoms, {"concat_param": {"axis": b.a["axis"] % b.t.rank}})]


# ---- shapes ------------------------------------------------------------------------------------

@caffe_layer("Flatten")
def flatten(b):
    rank = b.t.rank
    start, end = b.a["start_dim"] % rank, b.a["end_dim"] % rank
    if start == end:
        return [b.bottoms[0]]
    p = {"axis": start} if end == rank - 1 else {"axis": start, "end_axis": end}
    return [b.one("Flatten", b.bottoms, {"flatten_param": p})]


@caffe_layer("Reshape", "Squeeze", "Unsqueeze")
def reshape(b):
    if b.node.op == "Reshape" and b.a["batch"]:
        # Caffe's Reshape takes the whole shape too (one -1 inferred): the batch may change
        return [b.one("Reshape", b.bottoms, {"reshape_param": {"shape": {"dim": list(b.a["shape"])}}})]
    shape = b.out_types[0].shape
    if not shape or shape[0] != b.t.shape[0]:
        raise NotExpressible(f"{b.node.op}: a reshape of the batch axis is not written for Caffe")
    dims = [0] + [b.known(d, "a reshaped size") for d in shape[1:]]  # 0: the batch size, copied
    return [b.one("Reshape", b.bottoms, {"reshape_param": {"shape": {"dim": dims}}})]


@caffe_layer("Roll")
def roll(b):
    """Per rolled axis, a Slice cutting off the last `shift` entries and a Concat putting them first (the last
    Concat gives the node's result)."""
    steps = []
    for shift, dim in zip(b.a["shifts"], b.a["dims"]):
        axis = dim % b.t.rank
        size = b.known(b.t.shape[axis], f"the size of rolled axis {axis}")
        if shift % size:
            steps.append((axis, size - shift % size))
    top = b.bottoms[0]
    for k, (axis, point) in enumerate(steps):
        head, tail = b.add("Slice", [top], {"slice_param": {"axis": axis, "slice_point": [point]}},
                           what=f"cut{k}", tops=2)
        top = b.one("Concat", [tail, head], {"concat_param": {"axis": axis}},
                    what="" if k == len(steps) - 1 else f"roll{k}")
    return [top]


@caffe_layer("Split")
def split(b):
    a = b.a
    axis = a["axis"] % b.t.rank
    sizes = [b.known(t.shape[axis], "a split size") for t in b.out_types]
    points, at = [], 0
    for s in sizes[:-1]:
        at += s
        points.append(at)
    return b.add("Slice", b.bottoms, {"slice_param": {"axis": axis, "slice_point": points}}, tops=len(sizes))


@caffe_layer("Slice")
def slice_(b):
    a = b.a
    axis = a["axis"] % b.t.rank
    if a.get("step", 1) not in (1, None):
        raise NotExpressible("Slice: a step other than 1 has no Caffe layer")
    size = b.known(b.t.shape[axis], "the sliced size")
    start, end = a["start"], a["end"]
    start = 0 if start is None else (start + size if start < 0 else start)
    end = size if end is None else (end + size if end < 0 else min(end, size))
    return [keep_part(b, axis, start, end, size)]


def keep_part(b, axis: int, start: int, end: int, size: int) -> str:
    """Indices start..end of an axis: a Slice whose other parts go to a Silence (none where it is all)."""
    points = [p for p in (start, end) if 0 < p < size]
    if not points:
        return b.bottoms[0]
    tops = b.add("Slice", b.bottoms, {"slice_param": {"axis": axis, "slice_point": points}}, what="parts",
                 tops=len(points) + 1)
    keep = 1 if start > 0 else 0
    rest = [t for k, t in enumerate(tops) if k != keep]
    b.add("Silence", rest, what="rest", tops=0)
    return tops[keep]


@caffe_layer("Softsign")
def softsign(b):
    """x / (1 + |x|): AbsVal, Power (1 + |x|)^-1, a product."""
    t = b.one("AbsVal", b.bottoms, what="abs")
    t = b.one("Power", [t], {"power_param": {"power": -1.0, "shift": 1.0}}, what="inverse")
    return [b.one("Eltwise", [b.bottoms[0], t], {"eltwise_param": {"operation": "PROD"}})]


@caffe_layer("Threshold")
def threshold(b):
    """x if x > threshold else value = step * (x - value) + value, step from Caffe's Threshold (x > t: 1)."""
    t, v = float(b.a["threshold"]), float(b.a["value"])
    step = b.one("Threshold", b.bottoms, {"threshold_param": {"threshold": t}}, what="step")
    x = b.bottoms[0] if v == 0 else b.one("Power", b.bottoms, {"power_param": {"shift": -v}}, what="minus_value")
    y = b.one("Eltwise", [x, step], {"eltwise_param": {"operation": "PROD"}}, what="" if v == 0 else "gated")
    return [y if v == 0 else b.one("Power", [y], {"power_param": {"shift": v}})]


# ---- elementwise math ----------------------------------------------------------------------------

# Caffe's Power layer: (shift + scale * x) ** power
_POWER = {"Neg": {"scale": -1.0}, "Sqrt": {"power": 0.5}, "Reciprocal": {"power": -1.0}}


@caffe_layer("Abs")
def abs_(b):
    return [b.one("AbsVal", b.bottoms)]


@caffe_layer("Neg", "Sqrt", "Reciprocal", "Pow")
def power(b):
    if len(b.bottoms) > 1:
        raise NotExpressible("Pow of two tensors: Caffe's Power layer raises to a constant only")
    params = {"power": float(b.a["exponent"])} if b.node.op == "Pow" else _POWER[b.node.op]
    return [b.one("Power", b.bottoms, {"power_param": params})]


@caffe_layer("Exp", "Log")
def exp_log(b):
    return [b.one(b.node.op, b.bottoms)]  # base e (base -1), scale 1, shift 0: the defaults


# ---- Swin's layers: refused with what BVLC Caffe lacks ----------------------------------------------

@caffe_layer("ShiftedWindowAttention")
def shifted_window_attention(b):
    raise NotExpressible("ShiftedWindowAttention needs matrix products of two computed blobs (q k^T, the "
                         "attention weights by v): BVLC Caffe's InnerProduct and Convolution multiply by learned "
                         "blobs only, Eltwise PROD and a two-input Scale elementwise; its window partition also "
                         "needs a Permute, which BVLC Caffe lacks")


@caffe_layer("PatchMerging")
def patch_merging(b):
    raise NotExpressible("PatchMerging normalises each position over its 4C gathered channels (a LayerNorm on the "
                         "last axis of a channels-last map): BVLC Caffe has no LayerNorm (MVN normalises over all "
                         "the axes after the channel axis, not the last one alone) and no Permute to bring the "
                         "channels to axis 1")
