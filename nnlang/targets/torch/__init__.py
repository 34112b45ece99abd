"""The PyTorch target. torch is imported lazily: only when a builder function is first used.

    from nnlang.targets import torch as nt
    model = nt.build("examples/resnet18.nns", classes=10)   # an nn.Module, IR paths as names
    result = nt.import_module(model, ["image: [N, 3, 224, 224]"])   # and back: result.text is .nns
"""

_EXPORTS = {"build": "builder", "build_graph": "builder", "BuildError": "builder", "NetworkModule": "builder",
            "import_module": "load", "import_file": "load", "ImportResult": "load"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
