"""Safe Python source fragments: literals and names from a .nns file never become code.

Every value that reaches emitted Python goes through `literal` (repr of plain data only), and
every name through `is_attribute_name` (else it is used as a string key: add_module / getattr).
"""

from __future__ import annotations

import keyword
import math
import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def literal(value) -> str:
    """A Python literal for plain data (None, bool, int, float, str, tuples and lists of them)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(float(value))
    if isinstance(value, str):
        return repr(str(value))  # a quoted literal with every quote, newline and escape escaped
    if isinstance(value, (tuple, list)):
        inner = ", ".join(literal(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"not plain data: {type(value).__name__}")


def is_attribute_name(name: str) -> bool:
    """Can `name` be written as `self.name`? (ASCII identifier, not a keyword, not dunder.)"""
    return bool(_IDENT.match(name)) and not keyword.iskeyword(name) and not name.startswith("__")
