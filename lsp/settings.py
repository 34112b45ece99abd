"""Server settings: from `initializationOptions`, then `workspace/didChangeConfiguration`
(`{"nnlang": {...}}` or the object itself). Unknown keys are ignored; a bad value keeps the default."""

from __future__ import annotations

from dataclasses import dataclass, fields


MAX_DELAY_MS = 2000.0  # the longest wait after a change before analysing that a setting can ask for


@dataclass
class Settings:
    inlay_shapes: bool = True  # the output shape after each step
    inlay_params: bool = False  # ... and its parameter count
    inlay_macs: bool = False  # ... and its multiply-accumulates
    analysis_delay_ms: float = 5.0  # wait this long after a change before analysing (coalesces bursts)
    target: str = ""  # a compile target (nnlang.targets.TARGETS; "": none): warn where a layer cannot be expressed
    target_opset: int = 0  # with target "onnx": the opset (0: the default, 17)

    _KEYS = {"inlayHints.shapes": "inlay_shapes", "inlayHints.params": "inlay_params",
             "inlayHints.macs": "inlay_macs", "analysisDelayMs": "analysis_delay_ms", "target": "target",
             "targetOpset": "target_opset"}

    def update(self, raw) -> None:
        if not isinstance(raw, dict):
            return
        raw = raw.get("nnlang", raw) if isinstance(raw.get("nnlang", raw), dict) else raw
        flat = _flatten(raw)
        types = {f.name: type(f.default) for f in fields(self)}
        for key, attr in self._KEYS.items():
            if key not in flat:
                continue
            value = flat[key]
            want = types[attr]
            if want is float and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                # finite and at most MAX_DELAY_MS: 1e12 or Infinity (JSON's 1e999) silenced the server for good
                setattr(self, attr, min(float(value), MAX_DELAY_MS) if value == value else getattr(self, attr))
            elif want is int and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self, attr, value)
            elif want is bool and isinstance(value, bool):
                setattr(self, attr, value)
            elif want is str and isinstance(value, str):
                if attr == "target" and value and value not in _targets():
                    continue  # a target that does not exist keeps the current one
                setattr(self, attr, value)


def _targets() -> tuple:
    from nnlang.targets import TARGETS  # the descriptors: no framework is imported

    return TARGETS


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
