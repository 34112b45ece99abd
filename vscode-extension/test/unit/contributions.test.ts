// package.json, the language configuration, the snippets and the grammar agree with the code and
// with the language (grammar/nns.lark).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";

import { DEFAULTS, RESTART_KEYS, SERVER_KEYS } from "../../src/logic/settings";

const ext = resolve(__dirname, "..", "..", "..");
const root = resolve(ext, "..");
const read = (p: string) => readFileSync(join(ext, p), "utf8");
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON documents */
const pkg = JSON.parse(read("package.json")) as any;
const props = pkg.contributes.configuration.properties as Record<string, any>;

describe("package.json", () => {
    it("contributes the nns language with its grammar, configuration and snippets", () => {
        const lang = pkg.contributes.languages.find((l: any) => l.id === "nns");
        assert.deepEqual(lang.extensions, [".nns"]);
        assert.deepEqual(lang.aliases, ["nnlang", "Network Sketch"]);
        assert.equal(lang.configuration, "./language-configuration.json");
        const grammar = pkg.contributes.grammars.find((g: any) => g.language === "nns");
        assert.equal(grammar.scopeName, "source.nns");
        assert.equal(JSON.parse(read(grammar.path)).scopeName, "source.nns");
        assert.equal(pkg.contributes.snippets[0].language, "nns");
        assert.equal(pkg.main, "./dist/extension.js");
        assert.equal(pkg.engines.vscode, "^1.91.0");
    });

    it("every command is registered by the extension, and every registered command is contributed", () => {
        const src = read("src/extension.ts");
        const registered = [...src.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]).sort();
        const contributed = (pkg.contributes.commands as any[]).map((c) => c.command).sort();
        assert.deepEqual(registered, contributed);
        assert.deepEqual(contributed, ["nnlang.compile", "nnlang.openPreview", "nnlang.restartServer", "nnlang.showLogs", "nnlang.showSummary"]);
    });

    it("declares every setting the extension reads, with the server's defaults", () => {
        for (const key of [...SERVER_KEYS, ...RESTART_KEYS, "nnlang.preview.throttleMs", "nnlang.trace.server"]) {
            assert.ok(props[key], `${key} is not contributed`);
        }
        assert.equal(props["nnlang.inlayHints.shapes"].default, DEFAULTS.inlayHints.shapes);
        assert.equal(props["nnlang.inlayHints.params"].default, DEFAULTS.inlayHints.params);
        assert.equal(props["nnlang.inlayHints.macs"].default, DEFAULTS.inlayHints.macs);
        assert.equal(props["nnlang.analysisDelayMs"].default, DEFAULTS.analysisDelayMs);
        assert.equal(props["nnlang.target"].default, DEFAULTS.target);
        assert.equal(props["nnlang.targetOpset"].default, DEFAULTS.targetOpset);
        assert.deepEqual(props["nnlang.trace.server"].enum, ["off", "messages", "verbose"]);
        assert.deepEqual(props["nnlang.server.command"].type, ["array", "string"]);
        // The server's own defaults (lsp/settings.py).
        const settingsPy = readFileSync(join(root, "lsp", "settings.py"), "utf8");
        assert.match(settingsPy, /inlay_shapes: bool = True/);
        assert.match(settingsPy, /analysis_delay_ms: float = 5\.0/);
    });

    it("the client's id matches the trace setting's prefix", () => {
        assert.match(read("src/server.ts"), /new LanguageClient\("nnlang",/);
    });
});

describe("language-configuration.json", () => {
    const cfg = JSON.parse(read("language-configuration.json")) as any;
    const rules = (cfg.onEnterRules as any[]).map((r) => ({
        before: new RegExp(r.beforeText), after: r.afterText ? new RegExp(r.afterText) : undefined, indent: r.action.indent as string,
    }));
    /** The first rule that applies (as VS Code does), else "default". */
    const onEnter = (before: string, after = "") =>
        rules.find((r) => r.before.test(before) && (!r.after || r.after.test(after)))?.indent ?? "default";

    it("comments, brackets and quotes", () => {
        assert.equal(cfg.comments.lineComment, "#");
        const pairs = (cfg.autoClosingPairs as any[]).map((p) => p.open + p.close);
        assert.deepEqual(pairs, ["{}", "[]", "()", '""', "''"]);
        assert.equal((cfg.surroundingPairs as string[][]).length, 5);
    });

    it("indents after an opening bracket, outdents a closing one", () => {
        const inc = new RegExp(cfg.indentationRules.increaseIndentPattern);
        const dec = new RegExp(cfg.indentationRules.decreaseIndentPattern);
        assert.ok(inc.test("network Net(classes: int = 10) {"));
        assert.ok(inc.test("    if stride != 1 {   # a comment"));
        assert.ok(inc.test("    y = x -> Conv2d("));
        assert.ok(!inc.test("    y = x -> Conv2d(3)"));
        assert.ok(dec.test("    }"));
        assert.ok(dec.test("  ) -> ReLU"));
        assert.ok(!dec.test("    output y"));
    });

    it("keeps a chain's continuation indentation", () => {
        assert.equal(onEnter("        -> conv1: Conv2d(6, 5) -> ReLU"), "none");
        assert.equal(onEnter("        -> conv1: Conv2d(6, 5) ->"), "none");
        assert.equal(onEnter("    logits = image"), "indent");
        assert.equal(onEnter("    out = (y, x)   # the sum"), "indent");
        assert.equal(onEnter("    y = x -> Conv2d(64, 3) ->"), "indent");
        assert.equal(onEnter("    y = x -> Conv2d(64, 3)"), "default");
        assert.equal(onEnter("    # y = x ->"), "none");
        assert.equal(onEnter("network Net {", "}"), "indentOutdent");
        assert.equal(onEnter("    output logits"), "default");
    });
});

describe("snippets", () => {
    const snippets = JSON.parse(read("snippets/nns.json")) as Record<string, { prefix: string[]; body: string[]; description: string }>;
    it("have unique prefixes, a body and a description", () => {
        const prefixes = Object.values(snippets).flatMap((s) => s.prefix);
        assert.equal(new Set(prefixes).size, prefixes.length);
        for (const [name, s] of Object.entries(snippets)) {
            assert.ok(s.body.length > 0 && s.description, name);
        }
        for (const name of ["network", "block", "residual block", "conv-bn-relu", "classifier head"]) assert.ok(snippets[name], name);
    });
});

describe("the TextMate grammar", () => {
    const grammar = JSON.parse(read("syntaxes/nns.tmLanguage.json")) as any;
    const text = read("syntaxes/nns.tmLanguage.json");

    it("every #include names a repository entry", () => {
        const includes = [...text.matchAll(/"include": "#([^"]+)"/g)].map((m) => m[1]!);
        for (const name of includes) assert.ok(grammar.repository[name], `#${name}`);
    });

    it("colours every keyword of grammar/nns.lark and no layer name", () => {
        const lark = readFileSync(join(root, "grammar", "nns.lark"), "utf8");
        const keywords = [...lark.matchAll(/^[A-Z]+: "([a-z]+)"$/gm)].map((m) => m[1]!);
        assert.equal(keywords.length, 15);
        const words = new Set<string>();
        for (const m of JSON.stringify(grammar.repository.keywords).matchAll(/\(([a-z|]+)\)/g)) m[1]!.split("|").forEach((w) => words.add(w));
        assert.deepEqual([...words].sort(), [...keywords].sort());
        for (const layer of ["Conv2d", "ReLU", "Linear", "BatchNorm2d"]) assert.ok(!text.includes(layer), layer);
    });
});
