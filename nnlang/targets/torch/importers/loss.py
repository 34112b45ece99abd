"""Losses: the torch.nn loss modules (class weights included) and their functional forms."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, floats, module_importer, no_tensor_args


def _no_weight(m):
    if getattr(m, "weight", None) is not None:
        raise Unsupported(f"{type(m).__name__} with a weight tensor (the registry layer has no such parameter)")


@module_importer("MSELoss", "L1Loss", "BCELoss")
def simple_loss(m, ins):
    _no_weight(m)
    return Layer(type(m).__name__, {"reduction": m.reduction})


@module_importer("CrossEntropyLoss", "NLLLoss")
def classification_loss(m, ins):
    params = {"weight": None if m.weight is None else floats(m.weight), "ignore_index": m.ignore_index,
              "reduction": m.reduction}
    if type(m).__name__ == "CrossEntropyLoss":
        params["label_smoothing"] = float(m.label_smoothing)
    return Layer(type(m).__name__, params)


@module_importer("BCEWithLogitsLoss")
def bce_with_logits_loss(m, ins):
    _no_weight(m)
    pos_weight = m.pos_weight
    if pos_weight is not None and pos_weight.dim() != 1:  # the registry's weight is [k]; torch's may be []
        raise Unsupported("BCEWithLogitsLoss with a pos_weight that is not 1-D (write it as torch.tensor([w]))")
    return Layer("BCEWithLogitsLoss", {"reduction": m.reduction,
                                       "pos_weight": None if pos_weight is None else floats(pos_weight)})


@module_importer("SmoothL1Loss")
def smooth_l1_loss(m, ins):
    return Layer("SmoothL1Loss", {"reduction": m.reduction, "beta": float(m.beta)})


@module_importer("HuberLoss")
def huber_loss(m, ins):
    return Layer("HuberLoss", {"reduction": m.reduction, "delta": float(m.delta)})


@module_importer("KLDivLoss")
def kl_div_loss(m, ins):
    return Layer("KLDivLoss", {"reduction": m.reduction, "log_target": bool(m.log_target)})


# ---- functional forms: F.<name>(input, target, ...) keyword arguments ----------------------------

# F.<name> -> (layer, ((parameter, torch default), ...)), the parameters read from keywords only:
# the legacy size_average / reduce sit between them positionally.
_FUNCTIONAL = {
    "mse_loss": ("MSELoss", (("reduction", "mean"),)),
    "l1_loss": ("L1Loss", (("reduction", "mean"),)),
    "binary_cross_entropy": ("BCELoss", (("reduction", "mean"),)),
    "binary_cross_entropy_with_logits": ("BCEWithLogitsLoss", (("reduction", "mean"),)),
    "cross_entropy": ("CrossEntropyLoss", (("ignore_index", -100), ("reduction", "mean"), ("label_smoothing", 0.0))),
    "nll_loss": ("NLLLoss", (("ignore_index", -100), ("reduction", "mean"))),
    "smooth_l1_loss": ("SmoothL1Loss", (("reduction", "mean"), ("beta", 1.0))),
    "huber_loss": ("HuberLoss", (("reduction", "mean"), ("delta", 1.0))),
    "kl_div": ("KLDivLoss", (("reduction", "mean"), ("log_target", False))),
}


def _functional(name: str, op: str, params: tuple):
    def importer(call: Call):
        if len(call.args) > 2:
            raise Unsupported(f"{name} with positional options (pass them by keyword)")
        no_tensor_args(call, name, (2, "weight"), (2, "pos_weight"))
        if call.kwargs.get("size_average") is not None or call.kwargs.get("reduce") is not None:
            raise Unsupported(f"{name} with the legacy size_average / reduce (use reduction=)")
        return Layer(op, {p: call.kwargs.get(p, default) for p, default in params}, [call.args[0], call.args[1]])

    return importer


for _name, (_op, _params) in _FUNCTIONAL.items():
    call_importer(f"function:torch.nn.functional.{_name}")(_functional(_name, _op, _params))
