"""The vendored Caffe schema: caffe.proto is BVLC's (same bytes as the corpus copy when present),
caffe.desc is exactly what protoc makes of it, and the messages read BVLC's own prototxts."""

import subprocess
import sys
from pathlib import Path

import pytest

from nnlang.targets.caffe.schema import caffe_pb2

PROTO_DIR = Path(__file__).resolve().parents[2] / "nnlang" / "targets" / "caffe" / "proto"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "caffe"


def test_descriptor_set_is_protocs_output(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates the descriptor set")
    out = tmp_path / "caffe.desc"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}",
                    "caffe.proto"], check=True, cwd=PROTO_DIR)
    assert out.read_bytes() == (PROTO_DIR / "caffe.desc").read_bytes(), \
        "caffe.desc is stale: regenerate it with grpc_tools.protoc --descriptor_set_out (see proto/LICENSE)"


def test_proto_is_bvlcs():
    if not (CORPUS / "caffe.proto").exists():
        pytest.skip(f"the shared corpus is absent ({CORPUS})")
    assert (PROTO_DIR / "caffe.proto").read_bytes() == (CORPUS / "caffe.proto").read_bytes()


def test_messages_parse_a_bvlc_prototxt():
    from google.protobuf import text_format

    pb = caffe_pb2()
    net = text_format.Parse('name: "n" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
                            'layer { name: "c" type: "Convolution" bottom: "data" top: "c"\n'
                            '  convolution_param { num_output: 4 kernel_size: 3 } }', pb.NetParameter())
    assert net.layer[0].convolution_param.num_output == 4
    assert list(net.input_dim) == [1, 3, 8, 8]
    with pytest.raises(text_format.ParseError, match="ceil_mode"):  # a fork's field: not BVLC's
        text_format.Parse('layer { pooling_param { ceil_mode: true } }', pb.NetParameter())
    assert pb.V1LayerParameter.LayerType.Value("CONVOLUTION") == 4
