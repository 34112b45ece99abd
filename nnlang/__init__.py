"""nnlang: neural-network architectures as text (.nns network sketches)."""

__version__ = "0.1.0"
