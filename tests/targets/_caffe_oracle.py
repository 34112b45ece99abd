"""The Caffe oracle for tests: OpenCV's DNN module (4.x) running a prototxt + caffemodel, and a caffemodel
writer (BVLC's BlobProto through nnlang's vendored schema).

    outs = run_caffe("deploy.prototxt", "net.caffemodel", {"data": x})   # {output blob name: array}
    write_caffemodel("net.caffemodel", {"conv1": [w, b], ...})
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _outputs(prototxt: str) -> list:
    """(blob, the layer that last writes it) of every blob whose last value no layer reads: the outputs."""
    from google.protobuf import text_format

    from nnlang.targets.caffe.schema import caffe_pb2

    net = text_format.Parse(Path(prototxt).read_text(), caffe_pb2().NetParameter(), allow_unknown_field=True)
    writer, unread = {}, {}
    for layer in list(net.layer) or list(net.layers):  # new-style, or legacy V1 `layers`
        for b in layer.bottom:
            unread.pop(b, None)
        for top in layer.top:
            writer[top] = layer.name
            if str(layer.type) != "Input":
                unread[top] = True
    return [(blob, writer[blob]) for blob in unread]


def run_caffe(prototxt, caffemodel, feeds: dict, outputs=None) -> dict:
    """{output blob: array} of OpenCV's run; outputs: blob names (default: the blobs no layer reads)."""
    import cv2

    pairs = _outputs(str(prototxt))
    if outputs is not None:
        writer = dict(pairs)
        pairs = [(b, writer[b]) for b in outputs]
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    for name, array in feeds.items():
        net.setInput(np.ascontiguousarray(array, np.float32), name)
    known = set(net.getLayerNames())  # OpenCV may rename a last layer after its top: ask by whichever it has
    outs = net.forward([layer if layer in known else blob for blob, layer in pairs])
    return {blob: np.asarray(o) for (blob, _), o in zip(pairs, outs)}


def write_caffemodel(path, blobs: dict, name: str = "net") -> None:
    """A binary NetParameter holding {layer name: [arrays]} (each a BlobProto with its shape)."""
    from nnlang.targets.caffe.schema import caffe_pb2

    pb = caffe_pb2()
    net = pb.NetParameter(name=name)
    for layer_name, arrays in blobs.items():
        layer = net.layer.add(name=layer_name)
        for a in arrays:
            blob = layer.blobs.add()
            blob.shape.dim.extend(a.shape)
            blob.data.extend(np.asarray(a, np.float32).ravel().tolist())
    Path(path).write_bytes(net.SerializeToString())


def _pair(repeated, h: int, w: int, default: int) -> tuple:
    values = [int(v) for v in repeated]
    if h or w:
        return int(h), int(w)
    return (default, default) if not values else (values[0], values[-1])


def blob_shapes(layer, bottoms: list) -> list:
    """The shapes of a Caffe layer's learned blobs (Caffe's own layout), from its bottoms' shapes."""
    t = layer.type
    if t in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        cin, out, g = bottoms[0][1], p.num_output, p.group or 1
        k = _pair(p.kernel_size, p.kernel_h, p.kernel_w, 0)
        w = (out, cin // g) + k if t == "Convolution" else (cin, out // g) + k
        return [w] + ([(out,)] if p.bias_term else [])
    if t == "InnerProduct":
        p = layer.inner_product_param
        features = int(np.prod(bottoms[0][p.axis % len(bottoms[0]):]))
        return [(p.num_output, features)] + ([(p.num_output,)] if p.bias_term else [])
    if t == "BatchNorm":
        return [(bottoms[0][1],), (bottoms[0][1],), (1,)]
    if t == "Scale" and len(bottoms) == 1:
        c = bottoms[0][layer.scale_param.axis]
        return [(c,)] + ([(c,)] if layer.scale_param.bias_term else [])
    if t == "PReLU":
        return [(1,) if layer.prelu_param.channel_shared else (bottoms[0][1],)]
    if t == "Embed":
        p = layer.embed_param
        return [(p.input_dim, p.num_output)] + ([(p.num_output,)] if p.bias_term else [])
    return []


def random_blobs(layer, bottoms: list, rng) -> list:
    """Perturbed weights for one layer: fan-in scaled weights, biases and BN statistics moved off their
    initial values, a BN scale factor other than 1."""
    shapes = blob_shapes(layer, bottoms)
    t = layer.type
    if t == "BatchNorm":
        c = shapes[0][0]
        factor = np.float32(rng.uniform(0.5, 2.0))
        return [(rng.normal(0, 0.5, c) * factor).astype(np.float32),
                (rng.uniform(0.5, 2.0, c) * factor).astype(np.float32), np.array([factor], np.float32)]
    if t == "Scale":
        return [rng.uniform(0.5, 1.5, s).astype(np.float32) if k == 0 else rng.normal(0, 0.2, s).astype(np.float32)
                for k, s in enumerate(shapes)]
    if t == "PReLU":
        return [rng.uniform(0.05, 0.5, shapes[0]).astype(np.float32)]
    out = []
    for k, s in enumerate(shapes):
        if k == 0:
            fan_in = int(np.prod(s[1:])) if t != "Deconvolution" else int(np.prod(s[1:])) * 1
            out.append((rng.standard_normal(s) / np.sqrt(max(fan_in, 1))).astype(np.float32))
        else:
            out.append(rng.normal(0, 0.3, s).astype(np.float32))
    return out
