import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { checkTarget, compileBlocker, compileParams, compileReport, TARGETS, targetPickItems, targetsFromServer } from "../../src/logic/compile";

// What the server's nnlang/targets answers (nnlang.targets.REGISTRY), here with a third target.
const SERVER = {
    targets: [
        { name: "torch", description: "PyTorch: a readable nn.Module source file (.py) and its weights (.safetensors)", options: [] },
        { name: "onnx", description: "ONNX: one .onnx model (weights inside, or in .onnx.data beside it)", options: [{ name: "opset" }] },
        { name: "keras", description: "Keras: a .keras model", options: [] },
    ],
};

describe("compile targets", () => {
    it("offers the targets that exist, torch and onnx; the configured one first and picked", () => {
        assert.deepEqual(targetPickItems(undefined).map((i) => i.target), ["torch", "onnx"]);
        const items = targetPickItems("onnx");
        assert.deepEqual(items.map((i) => i.target), ["onnx", "torch"]);
        assert.equal(items[0]!.picked, true);
        assert.equal(items.filter((i) => i.picked).length, 1);
    });

    it("the picker shows exactly the server's targets, in its order, labelled from their descriptions", () => {
        const targets = targetsFromServer(SERVER);
        assert.deepEqual(targets.map((t) => [t.id, t.label]), [["torch", "PyTorch"], ["onnx", "ONNX"], ["keras", "Keras"]]);
        const items = targetPickItems("keras", targets);
        assert.deepEqual(items.map((i) => i.target), ["keras", "torch", "onnx"]);
        assert.equal(items[0]!.description, "a .keras model");
        assert.deepEqual(checkTarget("keras", targets), { ok: true, target: "keras" });
        assert.equal(compileReport({ ok: true, written: ["/w/m.keras"] }, "keras", "m.nns", targets).message, "nnlang: compiled m.nns to Keras: /w/m.keras");
        assert.deepEqual(targetsFromServer({}), []);
        assert.deepEqual(targetsFromServer({ targets: [{ name: 3 }, { name: "x" }] }).map((t) => [t.id, t.label]), [["x", "x"]]);
    });

    it("torch and onnx go to the server", () => {
        assert.deepEqual(checkTarget("torch"), { ok: true, target: "torch" });
        assert.deepEqual(checkTarget(" ONNX"), { ok: true, target: "onnx" });
    });

    it("a target the server does not list is refused by name (no 'not available yet' entries)", () => {
        for (const t of ["caffe", "keras"]) {
            const c = checkTarget(t);
            assert.ok(!c.ok && c.message.includes(`"${t}"`) && c.message.includes("torch, onnx"), t);
        }
        assert.deepEqual(TARGETS.map((t) => t.id), ["torch", "onnx"]);
    });

    it("an unknown target is named", () => {
        const c = checkTarget("tflite");
        assert.ok(!c.ok && c.message.includes('"tflite"'));
    });

    it("params: the opset only for onnx and only when set", () => {
        assert.deepEqual(compileParams("file:///a.nns", "onnx", { targetOpset: 13 }), { uri: "file:///a.nns", target: "onnx", opset: 13 });
        assert.deepEqual(compileParams("file:///a.nns", "onnx", { targetOpset: 0 }), { uri: "file:///a.nns", target: "onnx" });
        assert.deepEqual(compileParams("file:///a.nns", "torch", { targetOpset: 13 }), { uri: "file:///a.nns", target: "torch" });
    });

    it("an unsaved or foreign document cannot be compiled", () => {
        assert.match(compileBlocker({ scheme: "untitled", isUntitled: true, languageId: "nns" })!, /save the file first/);
        assert.match(compileBlocker({ scheme: "file", isUntitled: false, languageId: "python" })!, /not a \.nns file/);
        assert.equal(compileBlocker({ scheme: "file", isUntitled: false, languageId: "nns" }), undefined);
    });
});

describe("compile results", () => {
    it("success names the written files", () => {
        const r = compileReport({ ok: true, written: ["/w/build/LeNet5.py", "/w/build/LeNet5.safetensors"], error: null }, "torch", "lenet5.nns");
        assert.equal(r.level, "info");
        assert.equal(r.message, "nnlang: compiled lenet5.nns to PyTorch: 2 files");
        assert.equal(r.firstFile, "/w/build/LeNet5.py");
        assert.match(r.log, /wrote \/w\/build\/LeNet5\.safetensors/);
        assert.equal(compileReport({ ok: true, written: ["/w/m.onnx"] }, "onnx", "m.nns").message, "nnlang: compiled m.nns to ONNX: /w/m.onnx");
    });

    it("failure shows the last line of the error, the whole error in the log", () => {
        const r = compileReport({ ok: false, written: [], error: "Traceback...\n  File x\nModuleNotFoundError: No module named 'torch'\n" }, "torch", "a.nns");
        assert.equal(r.level, "error");
        assert.equal(r.message, "nnlang: compiling a.nns to PyTorch failed: ModuleNotFoundError: No module named 'torch'");
        assert.match(r.log, /Traceback/);
        const cli = compileReport({ ok: false, error: "nnlang: error: a.nns:3:5: E301 unknown layer" }, "onnx", "a.nns");
        assert.equal(cli.message, "nnlang: compiling a.nns to ONNX failed: a.nns:3:5: E301 unknown layer");
        assert.match(compileReport({ ok: false }, "onnx", "a.nns").message, /without a message/);
    });
});
