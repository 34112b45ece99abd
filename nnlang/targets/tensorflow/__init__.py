"""The TensorFlow importer: a GraphDef (.pb / .pbtxt) -> .nns, read as data through the GraphDef protos of
the tensorboard package (TensorFlow itself is never imported). Import only: there is no TensorFlow compile.

    from nnlang.targets.tensorflow.load import import_file
    result = import_file("graph.pbtxt")        # result.text: .nns source; result.model: the PyTorch build
"""
