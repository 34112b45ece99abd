"""The Caffe target's descriptor (framework-free: read by the CLI, the language server, the editor)."""

from .. import Target

TARGET = Target(
    name="caffe",
    description="Caffe: a deploy .prototxt and its .caffemodel (strict BVLC Caffe; runs in OpenCV's DNN)",
    writes=(".prototxt", ".caffemodel"),
    reads=(".prototxt",),  # read as data through BVLC's schema; --weights NET.caffemodel
    extra="caffe",
    capability="capability:capability",  # framework-free: the editor's W601 for `target: caffe`
    importer="load:import_file",
    import_options=("weights", "name", "verify", "inputs"),
    rank=20,
)
