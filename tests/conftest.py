"""The whole suite. Being here puts tests/ on sys.path, so the shared helpers (zoo_oracle, zoo_cache) import
from every folder.

Tests marked `slow` (whole processes, wheel builds, big application and zoo models through a whole pipeline)
run by default -- `make test` and CI run everything; the local loop skips them with `pytest -m "not slow"`."""
