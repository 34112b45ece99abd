"""A bare ONNX LSTM / GRU / RNN node (no exporter's glue around it) as the registry's recurrent layer plus the
layout layers giving ONNX's outputs: Y [T, dirs, N, H] (layout 1: [N, T, dirs, H]) from the layer's
[T, N, dirs * H] by a Reshape (and a Permute), Y_h / Y_c [dirs, N, H] (layout 1: [N, dirs, H]) from torch's
final states; direction=reverse is the forward layer between two reversals of the sequence (Slices joined by
Concat). What torch's layers do not compute (peepholes, clip, input_forget, other
activations, non-zero initial states, per-example lengths) is refused by name. GRU's reset gate before the
recurrent product (linear_before_reset=0, ONNX's default) is the cell written out step by step. The exporters'
form (Squeeze / Transpose glue, stacked layers) is fusions_recurrent.py's.
"""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, onnx_op

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _read(op: Op, name: str) -> bool:
    return bool(name) and (bool(op.consumers(name)) or name in op.graph_outputs)


def _checked(op: Op, kind: str) -> tuple:
    """(hidden, directions, nonlinearity) or refuse."""
    a = op.attrs
    h = a.get("hidden_size")
    direction = a.get("direction", "forward")
    if h is None:
        raise Unsupported(f"{kind} without hidden_size")
    if direction not in ("forward", "bidirectional", "reverse"):
        raise Unsupported(f"{kind} with direction={direction}")
    if a.get("clip") is not None:
        raise Unsupported(f"{kind} with clip (torch's layers do not clip the cell input)")
    if a.get("input_forget", 0):
        raise Unsupported(f"{kind} with input_forget (coupled gates)")
    acts = list(a.get("activations", []))
    nonlinearity = "tanh"
    if kind == "RNN" and acts:
        if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu"):
            raise Unsupported(f"RNN with activations {acts} (torch: tanh or relu)")
        nonlinearity = acts[0].lower()
    elif acts and acts != {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}.get(kind, []) * \
            (2 if direction == "bidirectional" else 1):
        raise Unsupported(f"{kind} with activations {acts} (torch: sigmoid gates, tanh)")
    ins = list(op.node.input) + [""] * 8
    if kind == "LSTM" and ins[7]:
        raise Unsupported("LSTM with peepholes (P)")
    if ins[4]:
        lens, shape = op.const(ins[4]), op.shape(op.input(0))
        seq = shape[1 if a.get("layout", 0) else 0] if shape else None
        if lens is None or not isinstance(seq, int) or np.any(np.asarray(lens) != seq):
            raise Unsupported(f"{kind} with sequence_lens other than the full length (per-example lengths)")
    for state in ins[5:7]:
        value = op.const(state) if state else None
        if state and (value is None or np.any(value)):
            raise Unsupported(f"{kind} with a non-zero or non-constant initial state (not a layer parameter)")
    return int(h), 2 if direction == "bidirectional" else 1, nonlinearity


@onnx_op("LSTM", "GRU", "RNN", since=7)
def recurrent(op: Op):
    from .fusions_recurrent import torch_weights  # fusions_recurrent imports importers, which registers this module

    kind = op.node.op_type
    h, dirs, nonlinearity = _checked(op, kind)
    if kind == "GRU" and op.attrs.get("linear_before_reset", 0) != 1:
        return _gru_unrolled(op, h, dirs)
    w, r = op.const_input(1, "W"), op.const_input(2, "R")
    b = op.const_input(3, "B")
    weights = torch_weights(w, r, b, kind, h, dirs, "_l0")
    batchwise = bool(op.attrs.get("layout", 0))
    outs = list(op.node.output) + ["", "", ""]
    y, states = outs[0], [s for s in outs[1:3 if kind == "LSTM" else 2]]
    state_read = [_read(op, s) for s in states]
    out = y or f"{op.node.output[1] or kind}#y"
    seq = f"{out}#seq"
    params = {"hidden_size": h, "bias": b is not None, "batch_first": batchwise, "bidirectional": dirs == 2,
              "return_state": any(state_read)}
    if kind == "RNN":
        params["nonlinearity"] = nonlinearity
    # torch's h_n / c_n are [dirs, N, H] whatever batch_first is: ONNX's own for layout 0; layout 1 puts the
    # batch first (a Permute)
    finals = [s if read and not batchwise else f"{out}#state{k}"
              for k, (s, read) in enumerate(zip(states, state_read))] if any(state_read) else []
    layers = [Layer(kind, params, inputs=[op.input(0)], outputs=[seq, *finals], weights=weights)]
    if op.attrs.get("direction") == "reverse":  # the forward layer on the sequence reversed, its output reversed
        axis = 1 if batchwise else 0
        layers = _reversed(op, op.input(0), f"{out}#x_rev", axis) + layers
        layers[-1].inputs = [f"{out}#x_rev"]
        layers[-1].outputs = [f"{seq}_rev", *finals]
        layers += _reversed(op, f"{seq}_rev", seq, axis)
    if _read(op, y):  # [T, N, dirs * H] -> [T, N, dirs, H] -> [T, dirs, N, H]; batchwise: [N, T, dirs, H]
        if batchwise:
            layers.append(Layer("Reshape", {"shape": (-1, dirs, h)}, inputs=[seq], outputs=[y]))
        else:
            layers += [Layer("Reshape", {"shape": (-1, dirs, h)}, inputs=[seq], outputs=[f"{out}#split"]),
                       Layer("Permute", {"dims": (0, 2, 1, 3)}, inputs=[f"{out}#split"], outputs=[y])]
    if batchwise:
        layers += [Layer("Permute", {"dims": (1, 0, 2)}, inputs=[final], outputs=[name])
                   for name, final, read in zip(states, finals, state_read) if read]
    return layers


def _reversed(op: Op, src: str, out: str, axis: int) -> list:
    """src reversed along the time axis: one Slice per step, joined last first by Concat (T known, at most 256)."""
    shape = op.shape(op.input(0))
    steps = shape[axis] if shape is not None else None
    if not isinstance(steps, int) or steps > 256:
        raise Unsupported(f"{op.node.op_type} with direction=reverse over {steps} steps (reversed by Slices: the "
                          "length must be known)")
    if steps == 1:
        return [Layer("Identity", inputs=[src], outputs=[out])]
    parts = [f"{out}#{t}" for t in range(steps)]
    return [Layer("Slice", {"axis": axis, "start": t, "end": t + 1}, inputs=[src], outputs=[name])
            for t, name in zip(range(steps), parts)] + [Layer("Concat", {"axis": axis}, inputs=parts[::-1],
                                                              outputs=[out])]


def _gru_unrolled(op: Op, h: int, dirs: int) -> list:
    """GRU with linear_before_reset=0 (ONNX's default; torch's GRU resets after the recurrent product), written
    out step by step for a known, short sequence: z = sigmoid(x Wz + h Rz + b), r likewise, candidate
    = tanh(x Wh + (r * h) Rh + b), h' = candidate + z * (h - candidate) -- Linear, Slice, Sigmoid, Tanh, Mul, Add,
    Sub; the first step's zero state left out. Y and Y_h stacked in ONNX's layout (Unsqueeze, Concat)."""
    batchwise = bool(op.attrs.get("layout", 0))
    axis = 1 if batchwise else 0
    shape = op.shape(op.input(0))
    steps = shape[axis] if shape is not None else None
    if not isinstance(steps, int) or steps > 16:
        raise Unsupported(f"GRU with linear_before_reset=0 over {steps} steps (written out step by step: at most 16)")
    w, r = op.const_input(1, "W"), op.const_input(2, "R")
    b = op.const_input(3, "B")
    b = np.zeros((dirs, 6 * h), np.float32) if b is None else np.asarray(b, np.float32)
    outs = list(op.node.output) + ["", ""]
    y, y_h = outs[0], outs[1]
    base = y or y_h or "gru"
    reverse = op.attrs.get("direction") == "reverse"
    layers, per_step, finals = [], [[None] * dirs for _ in range(steps)], []
    for d in range(dirs):
        order = range(steps - 1, -1, -1) if reverse or d == 1 else range(steps)
        prev = None
        for t in order:
            p = f"{base}#d{d}t{t}"
            layers += [Layer("Select", {"axis": axis, "index": t}, inputs=[op.input(0)], outputs=[f"{p}x"]),
                       Layer("Linear", {"out_features": 3 * h, "bias": True}, inputs=[f"{p}x"], outputs=[f"{p}xg"],
                             weights={"weight": np.asarray(w[d], np.float32),
                                      "bias": b[d, :3 * h] + b[d, 3 * h:]}),  # all of R's bias is outside r * h
                       *(Layer("Slice", {"axis": -1, "start": k * h, "end": (k + 1) * h}, inputs=[f"{p}xg"],
                               outputs=[f"{p}x{g}"]) for k, g in enumerate("zrh"))]
            if prev is None:  # h = 0: z = sigmoid(xz), candidate = tanh(xh), h' = candidate - z * candidate
                layers += [Layer("Sigmoid", inputs=[f"{p}xz"], outputs=[f"{p}z"]),
                           Layer("Tanh", inputs=[f"{p}xh"], outputs=[f"{p}c"]),
                           Layer("Mul", {}, inputs=[f"{p}z", f"{p}c"], outputs=[f"{p}zc"]),
                           Layer("Sub", {}, inputs=[f"{p}c", f"{p}zc"], outputs=[f"{p}h"])]
            else:
                rz = np.asarray(r[d], np.float32)
                layers += [Layer("Linear", {"out_features": 2 * h, "bias": False}, inputs=[prev], outputs=[f"{p}hg"],
                                 weights={"weight": rz[:2 * h]}),
                           Layer("Slice", {"axis": -1, "start": 0, "end": h}, inputs=[f"{p}hg"], outputs=[f"{p}hz"]),
                           Layer("Slice", {"axis": -1, "start": h, "end": 2 * h}, inputs=[f"{p}hg"],
                                 outputs=[f"{p}hr"]),
                           Layer("Add", {}, inputs=[f"{p}xz", f"{p}hz"], outputs=[f"{p}z0"]),
                           Layer("Sigmoid", inputs=[f"{p}z0"], outputs=[f"{p}z"]),
                           Layer("Add", {}, inputs=[f"{p}xr", f"{p}hr"], outputs=[f"{p}r0"]),
                           Layer("Sigmoid", inputs=[f"{p}r0"], outputs=[f"{p}r"]),
                           Layer("Mul", {}, inputs=[f"{p}r", prev], outputs=[f"{p}rh"]),
                           Layer("Linear", {"out_features": h, "bias": False}, inputs=[f"{p}rh"], outputs=[f"{p}hh"],
                                 weights={"weight": rz[2 * h:]}),
                           Layer("Add", {}, inputs=[f"{p}xh", f"{p}hh"], outputs=[f"{p}c0"]),
                           Layer("Tanh", inputs=[f"{p}c0"], outputs=[f"{p}c"]),
                           Layer("Sub", {}, inputs=[prev, f"{p}c"], outputs=[f"{p}diff"]),
                           Layer("Mul", {}, inputs=[f"{p}z", f"{p}diff"], outputs=[f"{p}zd"]),
                           Layer("Add", {}, inputs=[f"{p}c", f"{p}zd"], outputs=[f"{p}h"])]
            prev = per_step[t][d] = f"{p}h"
        finals.append(prev)

    def stacked(names, at, out):  # [N, H] each -> one more dim at `at`, joined there
        if len(names) == 1:
            return [Layer("Unsqueeze", {"dim": at}, inputs=names, outputs=[out])]
        parts = [f"{out}#{k}" for k in range(len(names))]
        return [Layer("Unsqueeze", {"dim": at}, inputs=[n], outputs=[q]) for n, q in zip(names, parts)] + \
            [Layer("Concat", {"axis": at}, inputs=parts, outputs=[out])]

    if _read(op, y):  # per step [dirs, N, H] (layout 1: [N, dirs, H]), then the steps
        for t in range(steps):
            layers += stacked(per_step[t], 1 if batchwise else 0, f"{base}#y{t}")
        layers += stacked([f"{base}#y{t}" for t in range(steps)], 1 if batchwise else 0, y)
    if _read(op, y_h):
        layers += stacked(finals, 1 if batchwise else 0, y_h)
    return layers
