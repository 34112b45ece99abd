"""One module per feature; each has `register(server, guard)`, called once by server.create_server.
`guard(what)` wraps a handler so an internal error is logged and answered, never fatal."""

from . import code_actions, completion, diagnostics, formatting, hover, inlay, navigation, requests, sync
from . import folding, semantic_tokens, symbols

FEATURES = (sync, diagnostics, hover, inlay, navigation, formatting, requests, completion, code_actions,
            symbols, folding, semantic_tokens)
