"""Normalisation: the modules, and the functional forms that take no weights or statistics."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, module_importer, no_tensor_args, t_


@module_importer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def batch_norm(m, ins):
    return Layer(type(m).__name__, {"eps": float(m.eps), "momentum": m.momentum, "affine": m.affine,
                                    "track_running_stats": m.track_running_stats})


@module_importer("LayerNorm")
def layer_norm(m, ins):
    return Layer("LayerNorm", {"normalized_shape": t_(m.normalized_shape), "eps": float(m.eps),
                               "elementwise_affine": m.elementwise_affine,
                               "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine})


@module_importer("RMSNorm")
def rms_norm(m, ins):
    return Layer("RMSNorm", {"normalized_shape": t_(m.normalized_shape),
                             "eps": None if m.eps is None else float(m.eps),
                             "elementwise_affine": m.elementwise_affine})


@module_importer("GroupNorm")
def group_norm(m, ins):
    return Layer("GroupNorm", {"num_groups": m.num_groups, "eps": float(m.eps), "affine": m.affine})


@module_importer("LocalResponseNorm")
def local_response_norm(m, ins):
    return Layer("LocalResponseNorm", {"size": m.size, "alpha": float(m.alpha), "beta": float(m.beta),
                                       "k": float(m.k)})


@module_importer("WithinChannelLRN")
def within_channel_lrn(m, ins):
    return Layer("LocalResponseNorm", {"size": m.size, "alpha": float(m.alpha), "beta": float(m.beta),
                                       "k": float(m.k), "region": "within"})


@call_importer("function:torch.nn.functional.layer_norm")
def layer_norm_call(call: Call):
    no_tensor_args(call, "layer_norm", (2, "weight"), (3, "bias"))
    return Layer("LayerNorm", {"normalized_shape": t_(call.arg(1, "normalized_shape")),
                               "eps": float(call.arg(4, "eps", 1e-5)), "elementwise_affine": False},
                 [call.args[0]])


@call_importer("function:torch.nn.functional.group_norm")
def group_norm_call(call: Call):
    no_tensor_args(call, "group_norm", (2, "weight"), (3, "bias"))
    return Layer("GroupNorm", {"num_groups": call.arg(1, "num_groups"), "eps": float(call.arg(4, "eps", 1e-5)),
                               "affine": False}, [call.args[0]])


@call_importer("function:torch.nn.functional.instance_norm")
def instance_norm_call(call: Call):
    no_tensor_args(call, "instance_norm", (1, "running_mean"), (2, "running_var"), (3, "weight"), (4, "bias"))
    if not call.arg(5, "use_input_stats", True):
        raise Unsupported("instance_norm with use_input_stats=False")
    n = len(call.shape(call.args[0])) - 2  # F.instance_norm takes a batch: [N, C, spatial...]
    if n not in (1, 2, 3):
        raise Unsupported(f"instance_norm of a rank-{n + 2} tensor")
    return Layer(f"InstanceNorm{n}d", {"eps": float(call.arg(7, "eps", 1e-5))}, [call.args[0]])


@call_importer("function:torch.nn.functional.local_response_norm")
def local_response_norm_call(call: Call):
    return Layer("LocalResponseNorm", {"size": call.arg(1, "size"), "alpha": float(call.arg(2, "alpha", 1e-4)),
                                       "beta": float(call.arg(3, "beta", 0.75)), "k": float(call.arg(4, "k", 1.0))},
                 [call.args[0]])
