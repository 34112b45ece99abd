"""The model zoo (issue 20): `nnlang zoo` lists every example with its parameters, `nnlang new NAME --from
MODEL` copies one with the network renamed, `nnlang new NAME` writes a starter; nothing is ever overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnlang import zoo
from nnlang.analyze import analyze
from nnlang.cli import main
from nnlang.syntax.format import format_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.nns"))


def test_zoo_lists_every_example_with_its_network_parameters_and_source(capsys):
    assert main(["zoo", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert sorted(rows) == EXAMPLES
    resnet = rows["resnet18"]
    assert resnet["network"] == "ResNet18" and resnet["params"] == 11_689_512
    assert resnet["summary"] == "ResNet-18 (He et al., 2015), as torchvision.models.resnet18"
    assert all(r["params"] for r in rows.values())  # every zoo model checks clean
    assert main(["zoo"]) == 0
    text = capsys.readouterr().out
    assert "resnet18" in text and "11.69 M" in text and "nnlang new MyNet --from" in text


@pytest.mark.parametrize("source", ["resnet18", "ViT_B_16", "lenet5.nns"])
def test_new_from_a_zoo_model_is_that_network_renamed(tmp_path, capsys, source):
    out = tmp_path / "mine" / "Mine.nns"
    assert main(["new", "Mine", "--from", source, "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    model = zoo.find(source)
    original = analyze(model.path.read_text(), str(model.path))
    copied = analyze(out.read_text(), str(out))
    assert copied.errors == [] and copied.graph.name == "Mine"
    assert copied.graph.total_params == original.graph.total_params
    assert out.read_text().replace("network Mine", f"network {model.network}", 1) == model.path.read_text()


def test_new_without_a_source_is_a_clean_formatted_starter(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "Starter"]) == 0
    text = (tmp_path / "Starter.nns").read_text()
    a = analyze(text, "Starter.nns")
    assert a.diagnostics == [] and a.graph.name == "Starter"
    assert format_text(text).text == text


@pytest.mark.parametrize("argv, message", [
    (["new", "1bad"], "'1bad': a network name is a letter or '_' then letters, digits or '_'"),
    (["new", "Net", "--from", "resnet1"], "no zoo model 'resnet1' (`nnlang zoo` lists them: alexnet, "),
    (["new", "Net", "-o", "net.txt"], "-o net.txt: the output must be a .nns path"),
])
def test_new_refuses_bad_names_and_unknown_models(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"nnlang: error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_new_never_overwrites(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Net.nns").write_text("mine")
    assert main(["new", "Net", "--from", "resnet18"]) == 2
    assert "Net.nns: exists" in capsys.readouterr().err
    assert (tmp_path / "Net.nns").read_text() == "mine"


def test_the_zoo_table_is_current():
    """docs/zoo.md (`make zoo`) lists every example with its parameters and MACs as analysed now, and refuses
    exactly the cells the targets' capability checks refuse, for the same reasons; every other cell is a ✓
    measured in its runtime. The diagrams it shows exist."""
    import zoo_table

    doc = zoo_table.parse((ROOT / "docs" / "zoo.md").read_text(encoding="utf-8"))
    # Keras's capability check builds each model in Keras (~40 s for the zoo): its cells are all ✓, which
    # tests/targets/test_keras_examples.py keeps true by compiling and running every example.
    checked = tuple(t for t in zoo_table.TARGETS if t != "keras")
    rows = zoo_table.static_rows(checked)
    assert sorted(doc) == [r["name"] for r in rows], "docs/zoo.md is not current: run `make zoo`"
    for row in rows:
        cells = doc[row["name"]]
        assert cells["params"] == zoo_table._count(row["params"]), row["name"]
        assert cells["macs"] == zoo_table._macs(row["macs"]), row["name"]
        assert cells["keras"].startswith("✓"), (row["name"], cells["keras"])
        for target in checked:
            why = row["refused"][target]
            want = f"✗ {why}" if why else "✓"
            assert cells[target].startswith(want), (row["name"], target, cells[target], want)
        for suffix in (".svg", ".full.svg"):
            assert (ROOT / "docs" / "zoo" / f"{row['name']}{suffix}").is_file()
