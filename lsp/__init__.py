"""nnlang_lsp: the nnlang language server (pygls), a thin adapter over nnlang's analysis.

Started by `nnlang lsp` or `python -m nnlang_lsp` (stdio). Imports no framework (torch, onnx ...)
unless a compile request runs.
"""

__version__ = "0.1.0"
