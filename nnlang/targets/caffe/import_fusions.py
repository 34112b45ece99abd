"""Caffe idioms -> one layer, before the layers are mapped: what a Caffe writer (nnlang's own Caffe target
among them) builds from Power, ReLU and Eltwise for activations Caffe has no layer for.

    floor pool:   Pooling (ceil) -> Slice + Silence per spatial axis                          -> Pooling (floor)
    clamp:        ReLU(x [+ Power shift -lo]) - ReLU(x + Power shift -hi)  [+ Power shift lo]  -> Clip(lo, hi)
    hardsigmoid:  Power(shift 3) -> Clip(0, 6) -> Power(scale 1/6)                             -> _Hardsigmoid
    selu:         ELU(alpha 1.6733) -> Power(scale 1.0507)                                     -> _SELU

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
    for match in (_floor_pool, _clamp, _hardsigmoid, _selu):  # in this order: hardsigmoid reads a fused Clip
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
    if new_type == "Pooling":  # the pooling itself, its crop handed to the importer
        fused = pb.LayerParameter()
        fused.CopyFrom(layers[params["pool"]])
        del fused.top[:]
        extra[fused.name] = {"crop": params["crop"]}
    else:
        fused = pb.LayerParameter(name=layers[max(used)].name, type=new_type)
        fused.bottom.append(params["bottom"])
    fused.top.extend([params["top"]] if "top" in params else layers[max(used)].top)
    if new_type == "Clip":
        fused.clip_param.min, fused.clip_param.max = params["min"], params["max"]
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
