"""Text -> span-carrying syntax tree, with error recovery."""

from .parser import ParseResult, parse

__all__ = ["parse", "ParseResult"]
