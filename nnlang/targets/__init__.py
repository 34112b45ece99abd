"""Framework targets: each imported lazily, only here (importing this package imports no framework)."""

# The targets that exist: `compile --to`, `check --target` and the capability checks offer these and no others.
TARGETS = ("torch", "onnx")
