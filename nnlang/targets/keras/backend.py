"""Import keras on the torch backend (never TensorFlow). The only place keras is imported from."""

from __future__ import annotations

import os


def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as k

    if k.backend.backend() != "torch":
        raise RuntimeError(f"keras was imported with the {k.backend.backend()!r} backend; nnlang's Keras target "
                           "needs KERAS_BACKEND=torch")
    return k
