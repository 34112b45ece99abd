"""Import keras on the torch backend (never TensorFlow). The only place keras is imported from."""

from __future__ import annotations

import collections
import contextlib
import os


def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as k

    if k.backend.backend() != "torch":
        raise RuntimeError(f"keras was imported with the {k.backend.backend()!r} backend; nnlang's Keras target "
                           "needs KERAS_BACKEND=torch")
    return k


def remember_saving_skipsets() -> None:
    """Keras 3.15's saving_lib.get_attr_skipset stores the attribute names it skips under
    'saving_attr_skipset_<type>' but looks them up under 'saving_attr_skiplist_<type>': the lookup never hits,
    and saving or loading a model builds a reference Layer and lists its attributes again for every layer
    and operation (Inception-v4: ~0.8 of its 2.6 s save). The same sets, stored where they are looked up.
    Keras keeps them per thread (global_state), so this is called in the thread that saves or loads; the
    files written are byte-identical (tests/test_determinism.py). A Keras without that function or state is
    left alone."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.saving import saving_lib
    except ImportError:
        return
    for obj_type in ("Operation", "Layer", "Functional"):
        key = f"saving_attr_skiplist_{obj_type}"
        try:
            if global_state.get_global_attribute(key) is None:
                global_state.set_global_attribute(key, saving_lib.get_attr_skipset(obj_type))
        except (AttributeError, ValueError):  # a Keras whose saving_lib changed: nothing to remember
            return


@contextlib.contextmanager
def fresh_auto_names():
    """Keras names the operations it names itself (`pad`, `pad_1` ...) from one counter per thread for the whole
    session: a second compile in one process wrote `pad_1` where the first wrote `pad`, and its file differed.
    Within this block the counter starts from zero; the session's own is put back after."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)
