"""Language services for editors, independent of any protocol.

What is at a position, where each name is defined and used, what to show after each step, what
to offer while typing: computed from an `Analysis` (syntax tree + IR), so the language server
(`lsp/`) only converts positions and types. Nothing here imports a framework or pygls.
"""
