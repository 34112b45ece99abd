"""The shipped .nns library (use "std/resnet")."""
