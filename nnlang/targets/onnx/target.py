"""The ONNX target's descriptor (framework-free: read by the CLI, the language server, the editor)."""

from .. import Option, Target

TARGET = Target(
    name="onnx",
    description="ONNX: one .onnx model (weights inside, or in .onnx.data beside it)",
    writes=(".onnx", ".onnx.data"),
    reads=(".onnx",),  # read as data only
    options=(
        Option("opset", "ONNX opset to write, default 17", kind="int", metavar="N"),
        Option("dynamic_batch", "make dim 0 of every input dynamic"),
        Option("external_data", "write the weights to <network>.onnx.data beside the model, whatever their size"),
        Option("no_weights", "write the graph alone, its weights graph inputs: a small file to view"),
    ),
    extra="onnx",
    prepare="compile:prepare_options",
    capability="mapping:capability",
    importer="load:import_model",
    import_options=("name", "verify"),
    rank=10,
)
