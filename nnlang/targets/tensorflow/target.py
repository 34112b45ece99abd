"""The TensorFlow target's descriptor (framework-free): import only, no compile."""

from .. import Target

TARGET = Target(
    name="tensorflow",
    description="TensorFlow: a GraphDef (.pb binary or .pbtxt text), read as data (import only)",
    reads=(".pb", ".pbtxt"),  # parsed with the GraphDef protos of the tensorboard package; nothing is executed
    extra="tensorflow",
    compile=None,  # import only: not a choice of compile --to / check --target
    compile_error=None,
    importer="load:import_file",
    import_options=("name",),
    rank=40,
)
