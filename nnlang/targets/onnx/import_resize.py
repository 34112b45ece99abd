"""ONNX Resize (opset 11+) as the Upsample layer.

Nearest: ONNX picks source pixels by a coordinate transform and a rounding rule; torch has two rules (nearest:
floor(dst / scale), nearest-exact: floor((dst + 0.5) / scale)). With the sizes known, the source index of every
output pixel is computed both ways and the torch rule picking the same pixels is used -- ONNX's default
(half_pixel, round_prefer_floor) is nearest-exact except where (dst + 0.5) / scale is a whole number, so it is
checked per axis, not assumed. Linear and cubic take torch's coordinates (half_pixel, align_corners) and
antialiasing; the rest (tf_crop_and_resize, half_pixel_symmetric, other cubic coefficients) is refused.
"""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, _one, onnx_op

_LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def _scales_and_sizes(op: Op):
    """(scales per spatial axis or None, input sizes, output sizes) with `axes` applied."""
    rank = op.rank(0)
    axes = [int(a) % rank for a in op.attrs.get("axes", range(rank))]
    shape, out = op.shape(op.input(0)), op.shape(op.node.output[0])
    if out is None or any(not isinstance(d, int) for d in out[2:]):
        raise Unsupported("Resize to sizes that are not constant")
    scales = op.const(op.input(2)) if op.input(2) else None
    full = None
    if scales is not None and scales.size:
        full = [1.0] * rank
        for a, f in zip(axes, np.asarray(scales, dtype=np.float64).reshape(-1)):
            full[a] = float(f)
    elif op.attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch" and \
            (op.input(3) is None or op.const(op.input(3)) is None):
        raise Unsupported("Resize with keep_aspect_ratio_policy to sizes that are not constant")
    if any(out[k] != shape[k] for k in (0, 1)) or (full and full[:2] != [1.0, 1.0]):
        raise Unsupported("Resize of the batch or channel dim")
    return (None if full is None else full[2:]), list(shape[2:]), list(out[2:])


def _onnx_scale(op: Op, size: int, out: int, k: int, scales, sizes_in, sizes_out) -> float:
    if scales is not None:
        return scales[k]
    policy = op.attrs.get("keep_aspect_ratio_policy", "stretch")
    ratios = [o / i for i, o in zip(sizes_in, sizes_out)]
    if policy == "stretch":
        return out / size
    # the requested sizes, not the output's (rounded): one scale for every axis
    want = [int(v) for v in np.asarray(op.const(op.input(3))).reshape(-1)]
    rank = op.rank(0)
    axes = [int(a) % rank for a in op.attrs.get("axes", range(rank))]
    req = {a: w for a, w in zip(axes, want)}
    ratios = [req.get(2 + j, o) / i for j, (i, o) in enumerate(zip(sizes_in, sizes_out)) if 2 + j in req]
    return min(ratios) if policy == "not_larger" else max(ratios)


def _onnx_nearest(op: Op, size: int, out: int, scale: float) -> np.ndarray:
    """ONNX's source index for each output index along one axis (the reference's formulas)."""
    x = np.arange(out, dtype=np.float64)
    transform = op.attrs.get("coordinate_transformation_mode", "half_pixel")
    if transform == "half_pixel":
        v = (x + 0.5) / scale - 0.5
    elif transform == "pytorch_half_pixel":
        v = (x + 0.5) / scale - 0.5 if out > 1 else np.zeros_like(x)
    elif transform == "asymmetric":
        v = x / scale
    elif transform == "align_corners":
        v = x * (size - 1) / (out - 1) if out > 1 else np.zeros_like(x)
    elif transform == "half_pixel_symmetric":
        adjust = out / (scale * size)
        v = size / 2 * (1 - adjust) + (x + 0.5) / scale - 0.5
    else:
        raise Unsupported(f"nearest Resize with {transform} coordinates")
    rounding = op.attrs.get("nearest_mode", "round_prefer_floor")
    v = {"round_prefer_floor": lambda t: np.ceil(t - 0.5), "round_prefer_ceil": lambda t: np.floor(t + 0.5),
         "floor": np.floor, "ceil": np.ceil}[rounding](v)
    return np.clip(v, 0, size - 1).astype(np.int64)


def _torch_nearest(mode: str, size: int, out: int, factor) -> np.ndarray:
    """torch's source index (its float32 arithmetic): factor = the scale_factor given, or None (a size)."""
    inv = np.float32(1.0 / factor) if factor is not None else np.float32(size) / np.float32(out)
    dst = np.arange(out, dtype=np.float32) + (np.float32(0.5) if mode == "nearest-exact" else np.float32(0))
    return np.minimum(np.floor(dst * inv), size - 1).astype(np.int64)


def _nearest(op: Op, scales, sizes, outs) -> dict:
    """Upsample params whose torch rule picks ONNX's source pixels on every axis, or refuse."""
    wanted = [_onnx_nearest(op, s, o, _onnx_scale(op, s, o, k, scales, sizes, outs))
              for k, (s, o) in enumerate(zip(sizes, outs))]
    forms = []
    if scales is not None and all(int(np.floor(s * f)) == o for s, f, o in zip(sizes, scales, outs)):
        forms.append({"scale_factor": _one(tuple(float(f) for f in scales))})
    forms.append({"size": _one(tuple(outs))})
    for mode in ("nearest", "nearest-exact"):
        for form in forms:
            factors = scales if "scale_factor" in form else [None] * len(sizes)
            if all(np.array_equal(_torch_nearest(mode, s, o, f), w)
                   for s, o, f, w in zip(sizes, outs, factors, wanted)):
                return {"mode": mode, **form}
    raise Unsupported(f"nearest Resize ({op.attrs.get('coordinate_transformation_mode', 'half_pixel')}, "
                      f"{op.attrs.get('nearest_mode', 'round_prefer_floor')}) from {tuple(sizes)} to {tuple(outs)}: "
                      "torch's nearest and nearest-exact pick other source pixels")


@onnx_op("Resize", since=11)
def resize(op: Op):
    rank = op.rank(0)
    if rank < 3:
        raise Unsupported(f"Resize of a rank-{rank} input (Upsample resizes the dims after [N, C])")
    mode = op.attrs.get("mode", "nearest")
    transform = op.attrs.get("coordinate_transformation_mode", "half_pixel")
    scales, sizes, outs = _scales_and_sizes(op)
    if mode == "nearest":
        if any(not isinstance(s, int) for s in sizes):
            raise Unsupported("nearest Resize of an input whose sizes are not known")
        return Layer("Upsample", _nearest(op, scales, sizes, outs))
    name = _LINEAR.get(rank) if mode == "linear" else ("bicubic" if mode == "cubic" and rank == 4 else None)
    if name is None or transform not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        raise Unsupported(f"Resize mode {mode} with {transform} coordinates")
    antialias = bool(op.attrs.get("antialias", 0))
    a = float(op.attrs.get("cubic_coeff_a", -0.75))
    if mode == "cubic" and abs(a - (-0.5 if antialias else -0.75)) > 1e-6:
        raise Unsupported(f"cubic Resize with a = {a} (torch's bicubic: -0.75, antialiased -0.5)")
    if bool(op.attrs.get("exclude_outside", 0)) != antialias:  # torch's antialiasing renormalises at borders
        raise Unsupported(f"Resize with antialias={int(antialias)} and exclude_outside="
                          f"{op.attrs.get('exclude_outside', 0)} (torch: both 0, or both 1 when antialiased)")
    if antialias and (name not in ("bilinear", "bicubic") or transform == "align_corners"):
        raise Unsupported(f"antialiased Resize mode {mode} with {transform} coordinates (torch antialiases "
                          "bilinear and bicubic with half-pixel coordinates)")
    if transform == "pytorch_half_pixel" and any(o == 1 for o in outs):
        raise Unsupported("Resize with pytorch_half_pixel to a size of 1 (ONNX takes source 0, torch the centre)")
    params = {"mode": name, "align_corners": transform == "align_corners"}
    if antialias:
        params["antialias"] = True
    if scales is not None:
        params["scale_factor"] = _one(tuple(float(f) for f in scales))
    else:
        params["size"] = _one(tuple(outs))
    return Layer("Upsample", params)
