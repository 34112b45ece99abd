"""Caffe idioms -> one layer, before the layers are mapped: what a Caffe writer (nnlang's own Caffe target
among them) builds from Power, ReLU and Eltwise for activations Caffe has no layer for.

    floor pool:   Pooling (ceil) -> Slice + Silence per spatial axis                          -> Pooling (floor)
    pixel avg:    Pooling (AVE, padded) -> fixed Scale over [H, W] (window / pixels)   -> AvgPool2d, pads not counted
    crop:         Slice, every part but one read only by Silence                              -> _Crop (a Slice)
    clamp:        ReLU(x [+ Power shift -lo]) - ReLU(x + Power shift -hi)  [+ Power shift lo]  -> Clip(lo, hi)
    hardsigmoid:  Power(shift 3) -> Clip(0, 6) -> Power(scale 1/6)                             -> _Hardsigmoid
    selu:         ELU(alpha 1.6733) -> Power(scale 1.0507)                                     -> _SELU
    softplus:     Power(scale b) -> BNLL -> Power(scale 1/b)                                   -> _Softplus(beta b)
    gates:        x * Sigmoid(x), x * hardsigmoid(x), x * TanH(BNLL(x))             -> _SiLU, _Hardswish, _Mish
    softsign:     x * Power(AbsVal(x), power -1, shift 1)                                      -> _Softsign
    log softmax:  Softmax -> Log                                                               -> _LogSoftmax
    threshold:    Threshold(x) * (x - v) + v  (Caffe's Threshold is a 0/1 step)                 -> _Threshold

(Clip is BVLC's own layer; the underscored types are the importer's, no Caffe file has them.)

A match is taken only where every intermediate blob is read by the idiom alone, so nothing else sees a
value that no longer exists. The fused layer takes the last layer's name and tops and remembers the
layers it replaces (OpenCV runs those to verify).
"""

from __future__ import annotations

import bisect
from typing import Optional

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # torch.nn.SELU's constants


class _Versions:
    """Each top of each layer is a new value (Caffe's in-place layers reuse the name): who makes it, who reads it."""

    def __init__(self, layers: list):
        self.layers = layers
        self.made_by: dict = {}  # version -> layer index
        self.read_by: dict = {}  # version -> [layer index]
        self.bottoms: list = []  # per layer: [version]
        self.tops: list = []
        self.writes: dict = {}  # blob name -> [layer indices writing it], in order
        now: dict = {}
        for i, layer in enumerate(layers):
            vs = [now.get(b, ("input", b)) for b in layer.bottom]
            self.bottoms.append(vs)
            for v in vs:
                self.read_by.setdefault(v, []).append(i)
            outs = []
            for k, top in enumerate(layer.top):
                v = (i, k)
                self.made_by[v] = i
                now[top] = v
                self.writes.setdefault(top, []).append(i)
                outs.append(v)
            self.tops.append(outs)

    def only_reader(self, v, i: int) -> bool:
        return self.read_by.get(v, []) == [i]

    def producer(self, v) -> Optional[int]:
        return self.made_by.get(v)

    def name_at(self, v, at: int) -> Optional[str]:
        """The blob name holding version v when layer `at` runs, or None (written over in between)."""
        name = v[1] if v[0] == "input" else self.layers[v[0]].top[v[1]]
        writes = self.writes.get(name, [])
        before = writes[:bisect.bisect_left(writes, at)]  # the writers of that name that run before `at`
        last = before[-1] if before else None
        return name if (last is None and v[0] == "input") or (last is not None and last == v[0]) else None


def _plain_power(layer, scale: float = 1.0) -> Optional[float]:
    """The shift of a Power layer computing x * scale + shift (power 1), else None."""
    if layer.type != "Power":
        return None
    p = layer.power_param
    return float(p.shift) if p.power == 1 and abs(p.scale - scale) <= 1e-6 * abs(scale) else None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def fuse_idioms(layers: list, pb) -> tuple:
    """(layers with the idioms replaced, {fused layer name: [the layers it replaces]}, {fused layer name: extra
    fields for its importer})."""
    replaced: dict = {}
    extra: dict = {}
    # In this order: hardsigmoid reads a fused Clip, hardswish a fused hardsigmoid, a pixel average a floor pool.
    for match in (_floor_pool, _pixel_average, _crop, _clamp, _hardsigmoid, _selu, _softplus, _gate, _softsign,
                  _log_softmax, _threshold):
        versions = _Versions(layers)
        taken, placed = set(), {}  # one pass: every match whose layers no earlier match took
        for i in range(len(layers)):
            found = match(versions, i)
            if found is None or found[0] & taken:
                continue
            used, new_type, params = found
            taken |= used
            placed[params.get("at", max(used))] = _fused(layers, used, new_type, params, pb, replaced, extra)
        layers = [placed.get(k, la) for k, la in enumerate(layers) if k not in taken or k in placed]
    return layers, replaced, extra


def _fused(layers: list, used: set, new_type: str, params: dict, pb, replaced: dict, extra: dict):
    if new_type == "Pooling":  # the pooling itself, its crop or its rescaling handed to the importer
        pool = layers[params["pool"]]
        fused = pb.LayerParameter()
        fused.CopyFrom(pool)
        del fused.top[:]
        if "crop" in params:
            extra[fused.name] = {"crop": params["crop"]}
        else:  # named as the Scale: the importer reads the Scale's blob (the caffemodel's, by layer name)
            fused.name = layers[max(used)].name
            extra[fused.name] = {**extra.pop(pool.name, {}), "count_include_pad": False}
    elif "like" in params:  # a copy of one of the layers (its parameters), retyped
        fused = pb.LayerParameter()
        fused.CopyFrom(layers[params["like"]])
        fused.name, fused.type = layers[max(used)].name, new_type
        del fused.top[:]
        del fused.bottom[:]
        fused.bottom.append(params["bottom"])
    else:  # named as the last layer, or as the one it is placed at (a crop: its Slice)
        fused = pb.LayerParameter(name=layers[params.get("at", max(used))].name, type=new_type)
        fused.bottom.append(params["bottom"])
    fused.top.extend([params["top"]] if "top" in params else layers[max(used)].top)
    if new_type == "Clip":
        fused.clip_param.min, fused.clip_param.max = params["min"], params["max"]
    if "extra" in params:
        extra[fused.name] = params["extra"]
    replaced[fused.name] = [orig for k in sorted(used) for orig in replaced.pop(layers[k].name, [layers[k]])]
    return fused


def _floor_pool(versions: _Versions, i: int) -> Optional[tuple]:
    """Caffe pools with ceil rounding; floor pooling is written as the ceil pooling, then a Slice per spatial
    axis keeping the first rows / columns, the rest silenced. The pooling is kept with the slice points: its
    importer makes it a floor pooling where they are the floor sizes, else slices exactly as written."""
    layer = versions.layers[i]
    p = layer.pooling_param
    if layer.type != "Pooling" or p.global_pooling or p.round_mode != 0 or len(layer.top) != 1:
        return None
    used, crop, at, top = {i}, {}, i, None
    (v,) = versions.tops[i]
    while True:
        readers = versions.read_by.get(v, [])
        if len(readers) != 1:
            break
        j = readers[0]
        s = versions.layers[j]
        sp = s.slice_param
        axis = sp.slice_dim if sp.HasField("slice_dim") else sp.axis
        if s.type != "Slice" or len(s.top) != 2 or len(sp.slice_point) != 1 or axis not in (2, 3) or axis in crop:
            break
        rest = versions.read_by.get(versions.tops[j][1], [])
        if any(versions.layers[r].type != "Silence" or len(versions.layers[r].bottom) != 1 for r in rest):
            break
        crop[axis] = int(sp.slice_point[0])
        used |= {j, *rest}
        at, top, v = j, s.top[0], versions.tops[j][0]
    if not crop or _blob_at(versions, versions.bottoms[i][0], at) != layer.bottom[0]:
        return None
    return used, "Pooling", {"pool": i, "crop": crop, "at": at, "top": top}


def _pixel_average(versions: _Versions, i: int) -> Optional[tuple]:
    """AvgPool2d(count_include_pad=false) as the Caffe target writes it: padded AVE pooling (its floor crop fused
    already), then a fixed (lr_mult 0) one-input Scale over the two spatial axes, named as the result. The
    pooling's importer checks that the Scale's blob is the padded window's size over its pixel count."""
    layer = versions.layers[i]
    p = layer.scale_param
    if layer.type != "Scale" or len(layer.bottom) != 1 or len(layer.top) != 1 or p.axis != 2 or p.num_axes != 2 \
            or p.bias_term or not layer.param or any(s.lr_mult != 0 for s in layer.param):
        return None
    (v,) = versions.bottoms[i]
    j = versions.producer(v)
    if j is None or not versions.only_reader(v, i):
        return None
    pool = versions.layers[j]
    pp = pool.pooling_param
    if pool.type != "Pooling" or pp.pool != 1 or pp.global_pooling or len(pool.top) != 1 or len(pool.bottom) != 1 \
            or not (pp.pad or pp.pad_h or pp.pad_w):
        return None
    if _blob_at(versions, versions.bottoms[j][0], i) != pool.bottom[0]:
        return None
    return {i, j}, "Pooling", {"pool": j, "exclude": True}


def _crop(versions: _Versions, i: int) -> Optional[tuple]:
    """A Slice whose parts but one only Silence layers read (the Caffe target's Slice layer: one part of an
    axis kept): the part kept, as the registry's Slice."""
    layer = versions.layers[i]
    sp = layer.slice_param
    if layer.type != "Slice" or len(layer.bottom) != 1 or len(layer.top) < 2 or \
            len(sp.slice_point) != len(layer.top) - 1:
        return None
    rest = set(versions.tops[i])
    kept = []
    used = {i}
    for k, v in enumerate(versions.tops[i]):
        readers = versions.read_by.get(v, [])
        silenced = readers and all(versions.layers[r].type == "Silence" and set(versions.bottoms[r]) <= rest
                                   for r in readers)
        if silenced:
            used |= set(readers)
        else:
            kept.append(k)
    if len(kept) != 1:
        return None
    blob = _blob_at(versions, versions.bottoms[i][0], i)
    if blob is None:
        return None
    (k,) = kept
    bounds = [0] + [int(p) for p in sp.slice_point] + [None]
    axis = int(sp.slice_dim if sp.HasField("slice_dim") else sp.axis)
    extra = {"axis": axis, "start": bounds[k], "end": bounds[k + 1]}
    return used, "_Crop", {"bottom": blob, "top": layer.top[k], "at": i, "extra": extra}


def _input_of(versions: _Versions, i: int, v) -> Optional[tuple]:
    """(x version, shift) of a ReLU's input v: x itself, or a plain Power(x) + shift read only by the ReLU."""
    p = versions.producer(v)
    if p is not None and versions.only_reader(v, i):
        shift = _plain_power(versions.layers[p])
        if shift is not None:
            return versions.bottoms[p][0], shift, p
    return v, 0.0, None


def _blob_at(versions: _Versions, x, at: int) -> Optional[str]:
    return versions.name_at(x, at)


def _clamp(versions: _Versions, i: int) -> Optional[tuple]:
    layer = versions.layers[i]
    p = layer.eltwise_param
    if layer.type != "Eltwise" or p.operation != 1 or list(p.coeff) != [1.0, -1.0] or len(layer.bottom) != 2:
        return None
    parts = []
    for v in versions.bottoms[i]:
        relu = versions.producer(v)
        if relu is None or not versions.only_reader(v, i) or versions.layers[relu].type != "ReLU" \
                or versions.layers[relu].relu_param.negative_slope != 0:
            return None
        x, shift, power = _input_of(versions, relu, versions.bottoms[relu][0])
        parts.append((x, -shift, relu, power))
    (xa, lo, ra, pa), (xb, hi, rb, pb_) = parts
    if xa != xb or not lo < hi:
        return None
    used = {i, ra, rb} | {k for k in (pa, pb_) if k is not None}
    if lo != 0:  # clamp(x, lo, hi) - lo: the Power adding lo back must follow
        (out,) = versions.tops[i]
        readers = versions.read_by.get(out, [])
        shift = _plain_power(versions.layers[readers[0]]) if len(readers) == 1 else None
        if shift is None or not _close(shift, lo):
            return None
        used.add(readers[0])
    blob = _blob_at(versions, xa, max(used))
    if blob is None:
        return None
    return used, "Clip", {"bottom": blob, "min": lo, "max": hi}


def _hardsigmoid(versions: _Versions, i: int) -> Optional[tuple]:
    """Power(shift 3) -> Clip(0, 6) -> Power(scale 1/6)."""
    layer = versions.layers[i]
    if layer.type != "Clip" or layer.clip_param.min != 0 or layer.clip_param.max != 6:
        return None
    before = versions.producer(versions.bottoms[i][0])
    (out,) = versions.tops[i]
    after = versions.read_by.get(out, [])
    if before is None or len(after) != 1 or not versions.only_reader(versions.bottoms[i][0], i):
        return None
    shift = _plain_power(versions.layers[before])
    if shift is None or not _close(shift, 3.0):
        return None
    if _plain_power(versions.layers[after[0]], 1 / 6) != 0.0:
        return None
    used = {before, i, after[0]}
    blob = _blob_at(versions, versions.bottoms[before][0], max(used))
    return (used, "_Hardsigmoid", {"bottom": blob}) if blob is not None else None


def _selu(versions: _Versions, i: int) -> Optional[tuple]:
    layer = versions.layers[i]
    if layer.type != "ELU" or not _close(layer.elu_param.alpha, SELU_ALPHA):
        return None
    (out,) = versions.tops[i]
    after = versions.read_by.get(out, [])
    if len(after) != 1 or _plain_power(versions.layers[after[0]], SELU_SCALE) != 0.0:
        return None
    used = {i, after[0]}
    blob = _blob_at(versions, versions.bottoms[i][0], max(used))
    return (used, "_SELU", {"bottom": blob}) if blob is not None else None


def _single(versions: _Versions, i: int, k: int = 0) -> Optional[int]:
    """The one layer reading top k of layer i, or None."""
    readers = versions.read_by.get(versions.tops[i][k], []) if k < len(versions.tops[i]) else []
    return readers[0] if len(readers) == 1 else None


def _fed_by(versions: _Versions, i: int, k: int, layer_type: str) -> Optional[int]:
    """The layer of `layer_type` making bottom k of layer i, read by layer i alone, or None."""
    v = versions.bottoms[i][k]
    p = versions.producer(v)
    return p if p is not None and versions.layers[p].type == layer_type and versions.only_reader(v, i) else None


def _power(layer, power: float = 1.0) -> Optional[tuple]:
    """(scale, shift) of a Power layer with that power, else None."""
    if layer.type != "Power" or not _close(layer.power_param.power, power):
        return None
    return float(layer.power_param.scale), float(layer.power_param.shift)


def _found(versions: _Versions, used: set, new_type: str, x, **params) -> Optional[tuple]:
    blob = _blob_at(versions, x, max(used))
    return (used, new_type, {"bottom": blob, **params}) if blob is not None else None


def _softplus(versions: _Versions, i: int) -> Optional[tuple]:
    """Power(scale b) -> BNLL -> Power(scale 1/b): Softplus(beta=b)."""
    if versions.layers[i].type != "BNLL":
        return None
    before, after = _fed_by(versions, i, 0, "Power"), _single(versions, i)
    if before is None or after is None:
        return None
    inner, outer = _power(versions.layers[before]), _power(versions.layers[after])
    if inner is None or outer is None or inner[1] != 0 or outer[1] != 0 or not _close(inner[0] * outer[0], 1.0):
        return None
    beta = float(f"{inner[0]:.7g}")  # float32's digits: 2.0, not 2.0000000000000004
    return _found(versions, {before, i, after}, "_Softplus", versions.bottoms[before][0], extra={"beta": beta})


_GATES = {"Sigmoid": "_SiLU", "_Hardsigmoid": "_Hardswish"}


def _gate(versions: _Versions, i: int) -> Optional[tuple]:
    """x * gate(x): SiLU (Sigmoid), Hardswish (hardsigmoid), Mish (TanH of BNLL)."""
    layer = versions.layers[i]
    if layer.type != "Eltwise" or layer.eltwise_param.operation != 0 or len(layer.bottom) != 2:
        return None
    for g, x in ((1, 0), (0, 1)):
        gate = versions.producer(versions.bottoms[i][g])
        if gate is None or not versions.only_reader(versions.bottoms[i][g], i):
            continue
        gate_type = versions.layers[gate].type
        if gate_type in _GATES and versions.bottoms[gate][0] == versions.bottoms[i][x]:
            return _found(versions, {gate, i}, _GATES[gate_type], versions.bottoms[i][x])
        if gate_type == "TanH":
            soft = _fed_by(versions, gate, 0, "BNLL")
            if soft is not None and versions.bottoms[soft][0] == versions.bottoms[i][x]:
                return _found(versions, {soft, gate, i}, "_Mish", versions.bottoms[i][x])
    return None


def _softsign(versions: _Versions, i: int) -> Optional[tuple]:
    """x * (1 + |x|)^-1: AbsVal -> Power(power -1, shift 1) -> Eltwise PROD with x."""
    layer = versions.layers[i]
    if layer.type != "Eltwise" or layer.eltwise_param.operation != 0 or len(layer.bottom) != 2:
        return None
    for g, x in ((1, 0), (0, 1)):
        inverse = _fed_by(versions, i, g, "Power")
        if inverse is None or _power(versions.layers[inverse], -1.0) != (1.0, 1.0):
            continue
        absval = _fed_by(versions, inverse, 0, "AbsVal")
        if absval is not None and versions.bottoms[absval][0] == versions.bottoms[i][x]:
            return _found(versions, {absval, inverse, i}, "_Softsign", versions.bottoms[i][x])
    return None


def _log_softmax(versions: _Versions, i: int) -> Optional[tuple]:
    """Softmax -> Log (natural, scale 1, shift 0): LogSoftmax over the Softmax's axis."""
    layer = versions.layers[i]
    p = layer.log_param
    if layer.type != "Log" or p.base not in (-1, 2.718281828459045) or p.scale != 1 or p.shift != 0:
        return None
    soft = _fed_by(versions, i, 0, "Softmax")
    if soft is None:
        return None
    return _found(versions, {soft, i}, "_LogSoftmax", versions.bottoms[soft][0], like=soft)


def _threshold(versions: _Versions, i: int) -> Optional[tuple]:
    """x if x > t else v = step * (x - v) + v, step = Caffe's Threshold (1 where x > t): torch's Threshold."""
    layer = versions.layers[i]
    if layer.type != "Threshold":
        return None
    prod = _single(versions, i)
    if prod is None or versions.layers[prod].type != "Eltwise" or versions.layers[prod].eltwise_param.operation != 0:
        return None
    x = versions.bottoms[i][0]
    others = [v for v in versions.bottoms[prod] if v != versions.tops[i][0]]
    if len(others) != 1:
        return None
    used, value = {i, prod}, 0.0
    if others[0] != x:  # x - v, then + v after the product
        shift = versions.producer(others[0])
        moved = _power(versions.layers[shift]) if shift is not None else None
        back = _single(versions, prod)
        undo = _power(versions.layers[back]) if back is not None else None
        if moved is None or undo is None or moved[0] != 1 or undo[0] != 1 or not _close(-moved[1], undo[1]) \
                or versions.bottoms[shift][0] != x or not versions.only_reader(others[0], prod):
            return None
        used |= {shift, back}
        value = undo[1]
    extra = {"threshold": float(f"{layer.threshold_param.threshold:.7g}"), "value": float(f"{value:.7g}")}
    return _found(versions, used, "_Threshold", x, extra=extra)
