"""The Keras target's descriptor (framework-free: read by the CLI, the language server, the editor)."""

from .. import Option, Target

TARGET = Target(
    name="keras",
    description="Keras: one .keras model (Keras 3, functional, built on the torch backend)",
    writes=(".keras",),
    reads=(".keras", ".h5", ".json"),  # read as data (zipfile / h5py / json), checked before Keras loads it
    options=(
        Option("layout", "tensor layout of the Keras model: channels_last (default) or channels_first",
               kind="str", metavar="LAYOUT"),
    ),
    extra="keras",
    prepare="compile:prepare_options",
    capability="compile:capability",
    importer="load:import_file",
    import_options=("weights", "name", "verify"),
    rank=30,
)
