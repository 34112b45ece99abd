import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    classifyChange, DEFAULTS, didChangeConfigurationParams, initializationOptions, objectReader,
    previewThrottleMs, resolveSettings, serverSettings,
} from "../../src/logic/settings";

describe("settings -> the server's settings", () => {
    it("defaults when nothing is set", () => {
        assert.deepEqual(serverSettings(objectReader({})), DEFAULTS);
    });

    it("maps every setting (dotted keys, as VS Code's getConfiguration('nnlang') reads them)", () => {
        const cfg = objectReader({
            "inlayHints.shapes": false, "inlayHints.params": true, "inlayHints.macs": true,
            analysisDelayMs: 20, target: "ONNX ", targetOpset: 13,
        });
        assert.deepEqual(initializationOptions(cfg), {
            nnlang: { inlayHints: { shapes: false, params: true, macs: true }, analysisDelayMs: 20, target: "onnx", targetOpset: 13 },
        });
    });

    it("reads nested objects too", () => {
        const cfg = objectReader({ inlayHints: { params: true } });
        assert.equal(serverSettings(cfg).inlayHints.params, true);
        assert.equal(serverSettings(cfg).inlayHints.shapes, true);
    });

    it("a bad value keeps the default", () => {
        const cfg = objectReader({ "inlayHints.shapes": "yes", analysisDelayMs: -1, targetOpset: 12.7, target: 3 });
        const s = serverSettings(cfg);
        assert.equal(s.inlayHints.shapes, true);
        assert.equal(s.analysisDelayMs, DEFAULTS.analysisDelayMs);
        assert.equal(s.targetOpset, 12);
        assert.equal(s.target, "");
    });

    it("didChangeConfiguration sends {settings: {nnlang: ...}} (the shape lsp/settings.py reads)", () => {
        const p = didChangeConfigurationParams(objectReader({ "inlayHints.macs": true }));
        assert.deepEqual(Object.keys(p), ["settings"]);
        assert.equal(p.settings.nnlang.inlayHints.macs, true);
        // Only what the server reads: never the server command or the preview's settings.
        assert.deepEqual(Object.keys(p.settings.nnlang).sort(), ["analysisDelayMs", "inlayHints", "target", "targetOpset"]);
    });

    it("the resolver's settings and the preview throttle", () => {
        assert.deepEqual(resolveSettings(objectReader({ "server.command": ["a", "b"], "server.pythonPath": "/p" })), { command: ["a", "b"], pythonPath: "/p" });
        assert.deepEqual(resolveSettings(objectReader({ "server.command": [1], "server.pythonPath": 2 })), { command: null, pythonPath: null });
        assert.equal(previewThrottleMs(objectReader({})), 150);
        assert.equal(previewThrottleMs(objectReader({ "preview.throttleMs": 40 })), 40);
    });
});

describe("classifyChange", () => {
    const affects = (...keys: string[]) => (section: string) => keys.some((k) => k === section || k.startsWith(section + "."));
    it("server settings restart", () => {
        assert.deepEqual(classifyChange(affects("nnlang.server.pythonPath")), { restart: true, notify: false, preview: false });
        assert.deepEqual(classifyChange(affects("nnlang.server.command")), { restart: true, notify: false, preview: false });
    });
    it("analysis settings are sent", () => {
        assert.deepEqual(classifyChange(affects("nnlang.inlayHints.params")), { restart: false, notify: true, preview: false });
        assert.deepEqual(classifyChange(affects("nnlang.targetOpset")), { restart: false, notify: true, preview: false });
    });
    it("others do neither", () => {
        assert.deepEqual(classifyChange(affects("nnlang.preview.throttleMs")), { restart: false, notify: false, preview: true });
        assert.deepEqual(classifyChange(affects("nnlang.trace.server")), { restart: false, notify: false, preview: false });
        assert.deepEqual(classifyChange(affects("editor.fontSize")), { restart: false, notify: false, preview: false });
    });
});
