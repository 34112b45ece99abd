"""The ONNX mapping of every registry layer, one module per family (as nnlang/layers/).

Importing this package registers every mapping with mapping.onnx_layer.
"""

from . import activation, attention, conv, dense, learned, loss, math, merge, norm, recurrent, shape, window  # noqa: F401,E501
