"""A Plan (plan.py) -> caffe.proto messages: the deploy NetParameter (text format, .prototxt) and the same net
with its blobs (binary, .caffemodel). Every field goes through BVLC's schema (json_format.ParseDict refuses a
field or an enum value the schema does not have), so no name or number from a .nns file is ever spliced into
text: protobuf's text format escapes strings itself.
"""

from __future__ import annotations

import numpy as np

from .schema import caffe_pb2


def _layer_dict(layer) -> dict:
    out = {"name": layer.name, "type": layer.type}
    if layer.bottom:
        out["bottom"] = list(layer.bottom)
    if layer.top:
        out["top"] = list(layer.top)
    out.update(layer.params)
    return out


def deploy_net(plan):
    """The NetParameter of the deploy net (no blobs)."""
    from google.protobuf import json_format

    pb = caffe_pb2()
    return json_format.ParseDict({"name": plan.name, "layer": [_layer_dict(x) for x in plan.layers]},
                                 pb.NetParameter())


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def blob_proto(array):
    """A BlobProto of `array` (float32). The data go in as one packed field parsed by protobuf: extending the
    repeated field from Python costs ~1.5 s per 25 M values, parsing the packed bytes ~0.1 s."""
    pb = caffe_pb2()
    a = np.ascontiguousarray(array, dtype="<f4")
    blob = pb.BlobProto()
    blob.shape.dim.extend(int(d) for d in a.shape)
    # field 5 (data), length-delimited: packed little-endian floats
    blob.MergeFromString(b"".join((b"\x2a", _varint(a.nbytes), memoryview(a).cast("B"))))
    return blob


def weights_net(plan, state: dict):
    """The deploy net with each layer's blobs (the caffemodel's NetParameter)."""
    net = deploy_net(plan)
    for layer, message in zip(plan.layers, net.layer):
        if layer.blobs is None:
            continue
        for array in layer.blobs(state):
            message.blobs.append(blob_proto(np.asarray(array, dtype=np.float32)))
    return net


def prototxt_text(net) -> str:
    from google.protobuf import text_format

    return text_format.MessageToString(net)
