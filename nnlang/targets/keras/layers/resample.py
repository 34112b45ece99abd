"""Upsample. Nearest by whole factors: Keras's UpSampling1D/2D/3D (a repeat). Every other case (fractional
factors, given sizes, linear / bilinear / bicubic / trilinear, align_corners either way) is separable: along each
spatial axis the result is a fixed matrix applied to that axis, written as a non-trainable EinsumDense whose
kernel is torch's own interpolation of the identity (so torch's coordinate rule, clamping and cubic coefficients
are the ones used, and the file holds the matrices as weights)."""

from __future__ import annotations

import string

import numpy as np

from ..mapping import NotExpressible, keras_layer

MAX_MATRIX = 1 << 26  # entries of one interpolation matrix (256 MB of float32): bounded before it is made


UNKNOWN_SIZE_BOUND = 1 << 14  # an unknown spatial size: torch's nearest rule is checked up to this size
MAX_CHECKED = 1 << 22  # output indices emulated at most (exact in float32, a few MB)


def _repeats(size: int, out: int, k: int, scale) -> bool:
    """torch's nearest source index (float32: floor(dst * scale), at most size - 1) is dst // k for every dst."""
    dst = np.arange(out, dtype=np.float32)
    src = np.minimum(np.floor(dst * np.float32(scale)), size - 1).astype(np.int64)
    return bool(np.array_equal(src, np.arange(out) // k))


def _factors(a, n: int, sizes: list, outs: list):
    """Per spatial axis the whole factor k when torch's nearest rule picks source index dst // k for every
    output index (its float32 arithmetic emulated; for an unknown size, for every size up to
    UNKNOWN_SIZE_BOUND), else None."""
    if a["mode"] != "nearest":
        return None
    sf = a["scale_factor"]
    if sf is not None:
        sf = list(sf) * n if len(sf) == 1 else list(sf)
    factors = []
    for d in range(n):
        size, out = sizes[d], outs[d]
        if sf is not None:
            if not float(sf[d]).is_integer() or sf[d] < 1:
                return None
            k = int(sf[d])
            scale = np.float32(1.0 / float(sf[d]))
        else:
            if size is None or out is None or out % size:
                return None
            k = out // size
            scale = np.float32(size) / np.float32(out)
        if size is None:
            size, out = UNKNOWN_SIZE_BOUND, UNKNOWN_SIZE_BOUND * k
        if out in (size, 2 * size):  # torch special-cases 1x and 2x
            factors.append(k)
            continue
        if out > MAX_CHECKED or not _repeats(size, out, k, scale):  # unchecked (its arrays too big) or not
            return None
        factors.append(k)
    return factors


def resample_matrix(a, n: int, d: int, size: int, out: int) -> np.ndarray:
    """[size, out]: torch's Upsample of the identity along spatial axis d (1 elsewhere, unchanged there)."""
    import torch
    import torch.nn.functional as F

    shape = [size if k == d else 1 for k in range(n)]
    eye = torch.eye(size, dtype=torch.float32).reshape(size, 1, *shape)
    kw = {"mode": a["mode"]}
    if a["mode"] not in ("nearest", "nearest-exact"):
        kw["align_corners"] = bool(a["align_corners"])
    if a["scale_factor"] is not None:
        sf = list(a["scale_factor"]) * n if len(a["scale_factor"]) == 1 else list(a["scale_factor"])
        kw["scale_factor"] = tuple(float(sf[d]) if k == d else 1.0 for k in range(n))
    else:
        kw["size"] = tuple(out if k == d else 1 for k in range(n))
    with torch.no_grad():
        y = F.interpolate(eye, **kw)
    return y.reshape(size, out).numpy().astype(np.float32)


@keras_layer("Upsample")
def upsample(b):
    a = b.a
    n = b.t.rank - 2
    b.need_batched(n)
    sizes = [d if isinstance(d, int) else None for d in b.t.shape[2:]]
    outs = [d if isinstance(d, int) else None for d in b.out_types[0].shape[2:]]
    x = b.cl()
    factors = _factors(a, n, sizes, outs)
    if factors is not None and (n > 1 or b.channels_last):
        cls = getattr(b.L, f"UpSampling{n}D")
        kw = {"size": factors[0]} if n == 1 else {"size": tuple(factors), "data_format": b.data_format}
        if n == 2:
            kw["interpolation"] = "nearest"
        return b.spatial_out(b.layer(cls, **kw)(x))
    letters = string.ascii_lowercase[:n + 2]
    t = x
    for d in range(n):
        size = b.known(b.t.shape[2 + d], "the input size of an interpolated axis")
        out = b.known(b.out_types[0].shape[2 + d], "the output size of an interpolated axis")
        if size * out > MAX_MATRIX:
            raise NotExpressible(f"Upsample: interpolating {size} -> {out} needs a {size} x {out} matrix, more "
                                 f"than {MAX_MATRIX} entries")
        k = 1 + d if b.channels_last else 2 + d
        result = letters[:k] + "z" + letters[k + 1:]
        shape = list(t.shape[1:])
        shape[k - 1] = out
        layer = b.layer(b.L.EinsumDense, f"axis{d}", equation=f"{letters},{letters[k]}z->{result}",
                        output_shape=tuple(shape), trainable=False)
        t = layer(t)
        b.weighted(layer, [], lambda values, d=d, size=size, out=out: [resample_matrix(a, n, d, size, out)])
    return b.spatial_out(t)
