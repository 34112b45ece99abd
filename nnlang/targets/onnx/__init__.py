"""The ONNX target: IR graph -> ModelProto, built with onnx.helper. onnx, torch and numpy are imported
lazily, only when one of these is first used.

    from nnlang.targets.onnx import compile_to_dir
    compile_to_dir(analysis, "build/", opset=17)        # -> ["build/ResNet18.onnx"]
"""

_EXPORTS = {"compile_to_dir": "compile", "CompileError": "emit", "build_model": "emit", "emit_graph": "emit",
            "unsupported": "mapping", "DEFAULT_OPSET": "mapping", "MIN_OPSET": "mapping", "max_opset": "mapping"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
