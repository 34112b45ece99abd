"""The whole suite. Being here puts tests/ on sys.path, so the shared helpers (zoo_oracle, zoo_cache) import
from every folder.

Tests marked `slow` (whole processes, wheel builds, big application and zoo models through a whole pipeline)
run by default -- `make test` and CI run everything; the local loop skips them with `pytest -m "not slow"`."""

import os
import shutil
import sys
import tempfile
from collections import Counter

import pytest

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
        from zoo_cache import SHARED_ENV

        os.environ.pop(SHARED_ENV, None)


# Files whose few tests take long (whole processes, campaigns, npm, a wheel build): handed out first. pytest-xdist's
# loadfile hands files out by their number of tests, most first, which put these last: the run then ended with
# one worker on one of them and the other idle. `make test` passes --no-loadscope-reorder so xdist keeps this order.
RUN_FIRST = ("tests/test_determinism.py", "tests/test_incremental.py", "tests/test_fuzz.py",
             "tests/test_file_budget.py", "tests/test_vscode_extension.py", "tests/targets/test_keras_import_apps.py",
             "tests/targets/test_onnx_constant_folding.py", "tests/test_packaging.py", "tests/test_cancel.py",
             "tests/lsp/test_lsp_robustness.py", "tests/lsp/test_compile_options.py",
             "tests/lsp/test_server_imports.py", "tests/lsp/test_cancel_lsp.py")


@pytest.hookimpl(trylast=True)  # after pytest's own ordering within each file, which a stable sort keeps
def pytest_collection_modifyitems(session, config, items):
    """RUN_FIRST, then the other files by their number of tests, most first (xdist's own order)."""
    def file_of(item) -> str:
        return item.nodeid.split("::", 1)[0]

    count = Counter(file_of(item) for item in items)
    first_seen: dict = {}
    for k, item in enumerate(items):
        first_seen.setdefault(file_of(item), k)

    def key(item):
        f = file_of(item)
        if f in RUN_FIRST:
            return (0, RUN_FIRST.index(f), 0)
        return (1, -count[f], first_seen[f])

    items.sort(key=key)
