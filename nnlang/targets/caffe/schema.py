"""BVLC Caffe's message classes, built from the vendored schema (proto/caffe.proto, compiled to
proto/caffe.desc) in a private descriptor pool.

Why a descriptor set and not a generated caffe_pb2.py: generated code pins the protobuf runtime to
at least the generator's version and registers 'caffe.proto' in the process-wide pool (clashing with
any other Caffe module loaded beside us); a descriptor set works with every protobuf >= 4.21 and
keeps BVLC's names to ourselves. tests/targets/test_caffe_schema.py regenerates it and checks it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from types import SimpleNamespace


@lru_cache(maxsize=1)
def caffe_pb2() -> SimpleNamespace:
    """The schema's messages by name (NetParameter, LayerParameter, BlobProto, ...), as a
    namespace shaped like a generated module, plus its file descriptor."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    data = resources.files(__package__).joinpath("proto", "caffe.desc").read_bytes()
    file_set = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:
        pool.Add(file_proto)
    file = pool.FindFileByName("caffe.proto")
    module = SimpleNamespace(DESCRIPTOR=file)
    for name, message in file.message_types_by_name.items():
        setattr(module, name, message_factory.GetMessageClass(message))
    for name, enum in file.enum_types_by_name.items():
        setattr(module, name, enum)
    return module
