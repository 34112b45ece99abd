"""assets/dotview.js (the HTML viewer's DOT writer) gives exactly the DOT that dot.py gives."""

import json
import subprocess

import pytest
from diagram_util import ROOT, example, need_node

from nnlang.diagram import build_model, resolve_state, to_dot
from nnlang.diagram.html import _shareable
from nnlang.diagram.view import max_depth

RUNNER = """
const NNDot = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.states.map((s) => NNDot.toDot(input.model, {
  expanded: new Set(s.expanded), rolled: new Set(s.rolled), edgeLabels: s.edgeLabels, tooltips: s.tooltips,
  wrap: s.wrap}));
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.parametrize("name", ["resnet18", "bert_encoder", "inception_v3", "densenet121", "googlenet",
                                  "lstm_classifier", "mobilenet_v2", "unet"])
def test_js_and_python_write_the_same_dot(name):
    need_node()
    model = build_model(example(name).graph)
    states = [resolve_state(model, d) for d in range(1, max_depth(model) + 1)]
    states += [resolve_state(model, "all", roll=True), resolve_state(model, 2, roll=True, edge_labels="all"),
               resolve_state(model, 1, edge_labels="none", tooltips=False, wrap=0),
               resolve_state(model, "auto", expand=[s["tname"] for s in model.scopes.values()][:1])]
    data = _shareable(model)
    js = subprocess.run(["node", "-e", RUNNER, str(ROOT / "nnlang" / "diagram" / "assets" / "dotview.js")],
                        input=json.dumps({"model": data, "states": [s.to_json() for s in states]}),
                        capture_output=True, text=True, check=True, timeout=60).stdout
    for state, dot in zip(states, json.loads(js)):
        assert dot == to_dot(model, state), state
