"""The Keras target: IR graph -> a Keras 3 functional model (`.keras`), built with Keras's own API on the
torch backend. keras is imported lazily (nnlang/targets/keras/backend.py), only when one of these is used.

    from nnlang.targets.keras import compile_to_dir
    compile_to_dir(analysis, "build/", layout="channels_last")      # -> ["build/ResNet18.keras"]
"""

_EXPORTS = {"compile_to_dir": "compile", "CompileError": "emit", "build_model": "emit", "unsupported": "emit"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
