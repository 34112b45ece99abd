"""Dropout: the modules become layers; the functional forms are inert in the eval-mode trace."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, module_importer


@module_importer("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def dropout(m, ins):
    return Layer(type(m).__name__, {"p": float(m.p)})


@call_importer(*(f"function:torch.nn.functional.{name}" for name in (
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")))
def dropout_call(call: Call):
    """No layer: F.dropout(x, p, training=self.training) passes x through in eval mode, where the trace
    runs; the registry's Dropout would need a module the original has not got."""
    if call.arg(2, "training", True) is True:  # torch's default: it drops in eval mode too
        raise Unsupported("dropout with training=True (the functional default) is random in eval mode too; "
                          "pass training=self.training or use an nn.Dropout module")
    return Layer("Identity", {}, [call.args[0]])
