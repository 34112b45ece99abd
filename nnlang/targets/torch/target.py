"""The PyTorch target's descriptor (framework-free: read by the CLI, the language server, the editor)."""

from .. import Target

TARGET = Target(
    name="torch",
    description="PyTorch: a readable nn.Module source file (.py) and its weights (.safetensors)",
    writes=(".py", ".safetensors"),
    reads=(".py",),  # FILE.py:ClassName, the user's model code (run)
    extra="torch",
    importer="load:import_file",
    import_options=("inputs", "kwargs", "weights", "name", "verify"),
    rank=0,
)
