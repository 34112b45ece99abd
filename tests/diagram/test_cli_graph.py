"""`nnlang graph`: formats by suffix, options, and the errors a user meets."""

import pytest
from diagram_util import ROOT, need_dot

from nnlang.cli import main

RESNET = str(ROOT / "examples" / "resnet18.nns")


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".dot", b"digraph")])
def test_formats(suffix, magic, tmp_path, capsys):
    if suffix != ".dot":
        need_dot()
    out = tmp_path / f"r{suffix}"
    assert main(["graph", RESNET, "-o", str(out), "--depth", "2", "--expand", "layer3.0", "--roll"]) == 0
    assert out.read_bytes().startswith(magic)
    assert capsys.readouterr().out.strip() == str(out)


def test_depth_expand_and_collapse_reach_the_dot(tmp_path):
    out = tmp_path / "r.dot"
    assert main(["graph", RESNET, "-o", str(out), "--depth", "1", "--expand", "layer2"]) == 0
    dot = out.read_text()
    assert "subgraph cluster_s4 " in dot and "cluster_s1 " not in dot
    assert main(["graph", RESNET, "-o", str(out), "--depth", "all", "--collapse", "BasicBlock"]) == 0
    dot = out.read_text()
    assert 's2 [id="s2" class="nn-scope nn-collapsed kind-block"' in dot  # layer1.0, a closed box
    assert "subgraph cluster_s1 " in dot and "subgraph cluster_s2 " not in dot


def test_missing_dot_names_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", RESNET, "-o", str(tmp_path / "r.svg")]) == 2  # a missing dependency
    err = capsys.readouterr().err
    assert "dot" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "r.svg").exists()


def test_usage_errors(tmp_path, capsys):
    assert main(["graph", RESNET, "-o", str(tmp_path / "r.jpg")]) == 2
    assert "unknown diagram format" in capsys.readouterr().err
    assert main(["graph", RESNET, "-o", str(tmp_path / "r.dot"), "--expand", "layer9"]) == 2
    err = capsys.readouterr().err
    assert "no block named 'layer9'" in err and "layer3" in err
    with pytest.raises(SystemExit):
        main(["graph", RESNET, "-o", str(tmp_path / "r.dot"), "--depth", "0"])


def test_a_file_with_errors_draws_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.nns"
    bad.write_text("network B {\n    input x: [N, 2]\n    y = x -> Nope\n    output y\n}\n")
    assert main(["graph", str(bad), "-o", str(tmp_path / "b.dot")]) == 1
    assert "E" in capsys.readouterr().err and not (tmp_path / "b.dot").exists()


def test_an_unknown_block_lists_names_a_user_wrote_never_repeat(tmp_path, capsys):
    code = main(["graph", str(ROOT / "examples" / "resnet18.nns"), "-o", str(tmp_path / "r.dot"), "--expand", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "no block named 'nope' in ResNet18 (blocks: BasicBlock, Sequential, layer1," in err
    assert "Repeat" not in err
