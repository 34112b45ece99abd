import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { compactCount, formatOutputShape, formatShape, groupedCount, megabytes, statusView, type SummaryResult, summaryMarkdown } from "../../src/logic/format";

// What the server answered for examples/lenet5.nns (nnlang summary --format json), trimmed.
const LENET: SummaryResult = {
    network: "LeNet5",
    inputs: [{ name: "image", shape: ["N", 1, 28, 28], dtype: "f32" }],
    layers: [
        { name: "conv1", type: "Conv2d", output_shape: ["N", 6, 28, 28], params: 156, macs: 117600 },
        { name: "1", type: "ReLU", output_shape: ["N", 6, 28, 28], params: 0, macs: 0 },
        { name: "split", type: "Split", output_shape: [["N", 3], ["N", 3]], params: 0, macs: null },
    ],
    total_params: 61706, trainable_params: 61706, total_macs: 416520, macs_complete: true,
    param_bytes: 246824, buffer_bytes: 0, activation_bytes: 60008, errors: 0, version: 3,
};

describe("numbers and shapes", () => {
    it("compact counts", () => {
        assert.equal(compactCount(11689512), "11.7M");
        assert.equal(compactCount(25557032), "25.6M");
        assert.equal(compactCount(61706), "61.7K");
        assert.equal(compactCount(1000), "1K");
        assert.equal(compactCount(156), "156");
        assert.equal(compactCount(0), "0");
        assert.equal(compactCount(1.82e9), "1.82G");
        assert.equal(compactCount(138357544), "138M");
        assert.equal(compactCount(null), "?");
    });
    it("grouped counts, sizes, shapes", () => {
        assert.equal(groupedCount(11689512), "11,689,512");
        assert.equal(groupedCount(999), "999");
        assert.equal(groupedCount(undefined), "?");
        assert.equal(megabytes(246824), "0.25 MB");
        assert.equal(formatShape(["N", 3, 224, 224]), "[N, 3, 224, 224]");
        assert.equal(formatShape([null, 3]), "[?, 3]");
        assert.equal(formatOutputShape([["N", 3], ["N", 4]]), "[N, 3], [N, 4]");
        assert.equal(formatOutputShape(null), "?");
    });
});

describe("the status bar text", () => {
    it("the network's total params", () => {
        const v = statusView({ kind: "summary", summary: LENET });
        assert.equal(v.text, "$(circuit-board) LeNet5: 61.7K params");
        assert.equal(v.severity, "none");
        assert.match(v.tooltip, /Parameters: 61,706\n/);
        assert.match(v.tooltip, /MACs: 416,520 \(417K\)/);
        assert.match(v.tooltip, /Click to show the nnlang logs/);
    });
    it("errors instead of totals", () => {
        const v = statusView({ kind: "summary", summary: { network: "Net", errors: 2, version: 1 } });
        assert.equal(v.text, "$(error) Net: 2 errors");
        assert.equal(v.severity, "warning");
        assert.equal(statusView({ kind: "summary", summary: { network: "Net", errors: 1 } }).text, "$(error) Net: 1 error");
    });
    it("no network, server states", () => {
        assert.equal(statusView({ kind: "summary", summary: { network: null, errors: 0 } }).text, "$(circuit-board) nnlang");
        assert.equal(statusView({ kind: "starting" }).text, "$(loading~spin) nnlang");
        const failed = statusView({ kind: "failed", message: "nnlang: the language server was not found." });
        assert.equal(failed.severity, "error");
        assert.match(failed.tooltip, /was not found/);
        assert.equal(statusView({ kind: "stopped" }).severity, "warning");
    });
    it("incomplete MACs and frozen params are said", () => {
        const v = statusView({ kind: "summary", summary: { ...LENET, macs_complete: false, trainable_params: 100 } });
        assert.match(v.tooltip, /some layers unknown/);
        assert.match(v.tooltip, /\(100 trainable\)/);
    });
});

describe("the summary document", () => {
    it("aligned markdown tables", () => {
        const md = summaryMarkdown(LENET, "examples/lenet5.nns");
        const lines = md.split("\n");
        assert.equal(lines[0], "# LeNet5");
        assert.ok(lines.includes("| `image` | [N, 1, 28, 28] | f32  |"), md);
        const layerRows = lines.filter((l) => l.startsWith("| `conv1`") || l.startsWith("| `1`") || l.startsWith("| Layer"));
        assert.equal(layerRows.length, 3);
        assert.equal(new Set(layerRows.map((l) => l.length)).size, 1, "columns are aligned");
        assert.match(md, /\| `conv1` +\| Conv2d +\| \[N, 6, 28, 28\] +\| +156 \| +117,600 \|/);
        assert.match(md, /\| Parameters +\| +61,706 \|/);
        assert.match(md, /\| `split` .*\[N, 3\], \[N, 3\] .*\| +\? \|/);
    });
    it("no summary when the file has errors or no network", () => {
        assert.match(summaryMarkdown({ network: "Net", errors: 3 }, "a.nns"), /No summary: the network has 3 errors/);
        assert.match(summaryMarkdown({ network: null, errors: 1 }, "a.nns"), /the file has 1 error \(/);
        assert.match(summaryMarkdown({ network: null, errors: 0 }, "a.nns"), /No network in this file/);
    });
});
