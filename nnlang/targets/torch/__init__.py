"""The PyTorch target. torch is imported lazily, only inside this package."""
