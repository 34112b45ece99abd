"""The whole suite. Being here puts tests/ on sys.path, so the shared helpers (zoo_oracle, zoo_cache) import
from every folder.

Tests marked `slow` (whole processes, wheel builds, big application and zoo models through a whole pipeline)
run by default -- `make test` and CI run everything; the local loop skips them with `pytest -m "not slow"`."""

import os
import shutil
import sys
import tempfile

# Each pytest-xdist worker is a process of its own, and torch (OpenMP), ONNX Runtime and OpenCV each size their
# thread pools to the machine: two workers on two cores then run four or more compute threads that spin against
# each other (two processes x two torch threads ran a convolution stack 5.7x slower than one thread each).
# One compute thread per worker; a run without workers keeps the libraries' defaults.
ONE_THREAD = bool(os.environ.get("PYTEST_XDIST_WORKER"))
if ONE_THREAD:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM"):
        os.environ[_var] = "1"
    if "torch" in sys.modules:  # imported by a plugin before this file: the variable came too late
        sys.modules["torch"].set_num_threads(1)


def pytest_configure(config):
    _share_a_directory(config)
    if not ONE_THREAD:
        return
    try:
        import onnxruntime as ort
    except ImportError:
        return
    plain = ort.InferenceSession
    if getattr(plain, "one_thread", False):
        return

    class OneThreadSession(plain):
        """ONNX Runtime's intra-op pool sized 1 (it reads no environment variable), whatever the test asked."""
        one_thread = True

        def __init__(self, path_or_bytes, sess_options=None, *args, **kwargs):
            sess_options = sess_options if sess_options is not None else ort.SessionOptions()
            sess_options.intra_op_num_threads = 1
            sess_options.inter_op_num_threads = 1
            super().__init__(path_or_bytes, sess_options, *args, **kwargs)

    ort.InferenceSession = OneThreadSession



def _share_a_directory(config):
    """The run's directory for what zoo_cache makes once for every process (the examples' reference weights and
    ONNX files): made by the controlling process before the xdist workers start (they inherit the variable)."""
    from zoo_cache import SHARED_ENV

    if hasattr(config, "workerinput") or os.environ.get(SHARED_ENV):
        return
    os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="nnlang-test-shared-")
    config._nnlang_shared = os.environ[SHARED_ENV]


def pytest_unconfigure(config):
    shared = getattr(config, "_nnlang_shared", None)
    if shared:
        shutil.rmtree(shared, ignore_errors=True)
        os.environ.pop("NNLANG_TEST_SHARED", None)
