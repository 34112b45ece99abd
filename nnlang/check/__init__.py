"""Semantic checks that need no shapes (shape checks run during lowering)."""
