"""PyTorch -> registry layers: one small registered function per nn.Module class or traced call.

The reverse of layers.py, by family as the registry is (conv, dense, norm, activation, regularization,
recurrent, shape, merge, loss), plus the rewrites of multi-call idioms (patterns.py). `registry`
holds the tables and the contract. Imported inside the torch target only.
"""

from __future__ import annotations

from . import (activation, conv, dense, learned, loss, math, merge, norm, recurrent, regularization,  # noqa: F401
               shape, window)
from .learned import parameter_name, parameter_problem
from .patterns import rewrite
from .registry import (
    CALLS,
    MODULES,
    PARAMS_META,
    SIZE_CALLS,
    Call,
    Layer,
    Unsupported,
    call_importer,
    call_keys,
    find_call,
    is_mapped_module,
    module_importer,
    module_importer_for,
)

__all__ = ["CALLS", "MODULES", "PARAMS_META", "SIZE_CALLS", "Call", "Layer", "Unsupported", "call_importer",
           "call_keys", "find_call", "is_mapped_module", "module_importer", "module_importer_for", "parameter_name",
           "parameter_problem", "rewrite"]
