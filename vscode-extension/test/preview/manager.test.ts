// The thin VS Code wrapper (src/preview/manager.ts) against a fake "vscode" module: panels, the
// serializer, the html, and what the page's messages do in the editor.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";
import type * as vscode from "vscode";
import type { PreviewDeps } from "../../src/preview/api";
import { Emitter, FakeDocument, FakeEditor, installFakeVscode, makeFakeVscode, Selection, Uri, type FakePanel } from "./fake-vscode";
import { fixture, response, settle } from "./fakes";

const fake = makeFakeVscode();
installFakeVscode(fake);
const { PreviewManager, VIEW_TYPE } = createRequire(__filename)("../../src/preview/manager") as typeof import("../../src/preview/manager");

const EXT = path.resolve(__dirname, "../../..");
const REPO = path.resolve(EXT, "..");
const resnet = fixture("resnet18");
const initial = response(resnet, "initial").result;
const DOC = resnet.document; // file:///nnlang/examples/resnet18.nns
// the recorded paths say /nnlang for the repository: read those files from here
fake.files.set("/nnlang/examples/resnet18.nns", resnet.texts["1"]);
const std = fs.readFileSync(path.join(REPO, "nnlang/std/resnet.nns"), "utf8");
fake.files.set("/nnlang/nnlang/std/resnet.nns", std);

const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;

function setup(open = true) {
    fake.panels.length = 0;
    fake.shown.length = 0;
    fake.opened.length = 0;
    fake.editors.length = 0;
    fake.documents.length = 0;
    const analysed = new Emitter<vscode.Uri>();
    const requests: { method: string; params: Record<string, unknown> }[] = [];
    const logs: string[] = [];
    const deps: PreviewDeps = {
        extensionUri: Uri.file(EXT) as unknown as vscode.Uri,
        request: async <R>(method: string, params: unknown) => {
            requests.push({ method, params: params as Record<string, unknown> });
            return initial as R;
        },
        onDidAnalyse: analysed.event as unknown as vscode.Event<vscode.Uri>,
        throttleMs: () => 0,
        log: (m) => logs.push(m),
    };
    const manager = new PreviewManager(deps);
    const fdoc = new FakeDocument(Uri.parse(DOC), resnet.texts["1"]);
    if (open) fake.documents.push(fdoc);
    const doc = fdoc as unknown as vscode.TextDocument;
    return { manager, deps, analysed, requests, logs, doc };
}

test("open: one panel per document, beside the editor, titled after the file, with a strict page", async () => {
    const { manager, requests, doc } = setup();
    manager.open(doc);
    assert.equal(fake.panels.length, 1);
    const panel = fake.panels[0];
    assert.equal(panel.viewType, VIEW_TYPE);
    assert.equal(panel.viewType, "nnlang.preview");
    assert.equal(panel.title, "Preview: resnet18.nns");
    assert.deepEqual(panel.showOptions, { viewColumn: -2, preserveFocus: true }); // ViewColumn.Beside
    const options = panel.webview.options as { enableScripts: boolean; localResourceRoots: Uri[]; retainContextWhenHidden: boolean };
    assert.equal(options.enableScripts, true);
    assert.deepEqual(options.localResourceRoots.map(String), [`file://${EXT}/media`]);
    const html = panel.webview.html;
    const nonce = /'nonce-([^']+)'/.exec(html)![1];
    assert.match(html, new RegExp(`script-src 'nonce-${nonce.replace(/[+/]/g, "\\$&")}' 'wasm-unsafe-eval';`));
    for (const f of ["preview.css", "graphviz.js", "preview-core.js", "preview.js"]) {
        assert.ok(html.includes(`https://fake.vscode-cdn.net${EXT}/media/${f}`), f);
    }
    await settle();
    assert.deepEqual(requests, [{ method: "nnlang/diagram", params: { uri: DOC, expand: [], collapse: [], svg: false } }]);
    // the page loads: it gets the diagram
    panel.webview.fromPage.fire({ type: "ready" });
    assert.deepEqual(
        panel.webview.posted.map((m) => [m.type, m.version]),
        [["update", 1]],
    );
    // again: the panel is revealed, not duplicated
    manager.open(doc);
    assert.equal(fake.panels.length, 1);
    assert.deepEqual(panel.reveals, [[-2, true]]);
    manager.dispose();
    assert.equal(panel.disposed, true);
    assert.equal(fake.serializers.size, 0);
});

test("analyses and cursor moves reach the right panel", async () => {
    const { manager, analysed, requests, doc } = setup();
    manager.open(doc);
    const panel = fake.panels[0];
    panel.webview.fromPage.fire({ type: "ready" });
    await settle();
    analysed.fire(Uri.parse("file:///elsewhere.nns") as unknown as vscode.Uri);
    await settle();
    assert.equal(requests.length, 1);
    analysed.fire(Uri.parse(DOC) as unknown as vscode.Uri);
    await settle();
    assert.equal(requests.length, 2);
    const editor = new FakeEditor(doc as unknown as FakeDocument, 1);
    editor.selection = new Selection(11, 20, 11, 25);
    manager.onCursor(editor as unknown as vscode.TextEditor);
    assert.deepEqual(panel.webview.posted.at(-1), { type: "cursor", line: 11, character: 25 });
    // hidden: no requests; shown again: one
    panel.setVisible(false);
    analysed.fire(Uri.parse(DOC) as unknown as vscode.Uri);
    await settle();
    assert.equal(requests.length, 2);
    panel.setVisible(true);
    await settle();
    assert.equal(requests.length, 3);
    // closed by the user: nothing more for it, and open makes a new one
    panel.dispose();
    analysed.fire(Uri.parse(DOC) as unknown as vscode.Uri);
    await settle();
    assert.equal(requests.length, 3);
    manager.open(doc);
    assert.equal(fake.panels.length, 2);
    manager.dispose();
});

test("reveal selects the element's source: in the document's editor, or in the file it came from", async () => {
    const { manager, doc } = setup();
    const sourceEditor = new FakeEditor(doc as unknown as FakeDocument, 1);
    fake.editors.push(sourceEditor);
    manager.open(doc);
    const panel = fake.panels[0];
    panel.webview.fromPage.fire({ type: "ready" });
    await settle();
    panel.webview.fromPage.fire({ type: "reveal", id: "n0" });
    await settle();
    const first = fake.shown[0];
    assert.equal(first.doc.uri.toString(), DOC);
    assert.equal(first.options.viewColumn, 1, "the column of the document's editor, not the preview's");
    assert.deepEqual(plain(first.options.selection), { start: { line: 11, character: 18 }, end: { line: 11, character: 64 } });

    const [id, range] = Object.entries(initial.ranges).find(([, r]) => r.origin)!;
    panel.webview.fromPage.fire({ type: "reveal", id });
    await settle();
    const second = fake.shown[1];
    assert.equal(second.doc.uri.toString(), "file:///nnlang/nnlang/std/resnet.nns");
    assert.equal(second.options.viewColumn, 1);
    const o = range.origin!;
    assert.deepEqual(plain(second.options.selection), {
        start: { line: o.line - 1, character: o.column - 1 },
        end: { line: o.end_line - 1, character: o.end_column - 1 },
    });
    assert.equal(std.slice(o.start, o.end).length > 0, true);
    manager.dispose();
});

test("a panel restored after a reload gets its document, block lists and view back", async () => {
    const { manager, requests } = setup(false); // after a reload the document may not be open
    const serializer = fake.serializers.get("nnlang.preview")!;
    const restored = (fake.api.window as { createWebviewPanel: (...a: unknown[]) => FakePanel }).createWebviewPanel(
        "nnlang.preview",
        "old title",
        { viewColumn: 2 },
        {},
    );
    const view = { x: 12, y: 34, k: 0.8 };
    await serializer.deserializeWebviewPanel(restored, { uri: DOC, expand: ["layer2.0"], collapse: ["layer3"], view });
    await settle();
    assert.equal(restored.title, "Preview: resnet18.nns");
    assert.match(restored.webview.html, /Content-Security-Policy/);
    assert.deepEqual(requests[0].params, { uri: DOC, expand: ["layer2.0"], collapse: ["layer3"], svg: false });
    assert.ok(fake.opened.includes(DOC), "the document is opened so the server has it");
    restored.webview.fromPage.fire({ type: "ready" });
    const update = restored.webview.posted.find((m) => m.type === "update")!;
    assert.deepEqual(update.view, view);
    assert.deepEqual(update.expand, ["layer2.0"]);
    // a state without a document cannot be restored: the panel is closed
    const broken = (fake.api.window as { createWebviewPanel: (...a: unknown[]) => FakePanel }).createWebviewPanel(
        "nnlang.preview",
        "x",
        {},
        {},
    );
    await serializer.deserializeWebviewPanel(broken, { view });
    assert.equal(broken.disposed, true);
    manager.dispose();
});

test("a document opened again starts a new epoch (its versions restart)", async () => {
    const { manager, requests, doc } = setup();
    manager.open(doc);
    const panel = fake.panels[0];
    panel.webview.fromPage.fire({ type: "ready" });
    await settle();
    fake.openEmitter.fire(doc as unknown as FakeDocument);
    await settle();
    assert.equal(requests.length, 2);
    const epochs = panel.webview.posted.filter((m) => m.type === "update").map((m) => m.epoch);
    assert.deepEqual(epochs, [0, 1]);
    manager.dispose();
});

test("a document closed meanwhile is opened again before the preview asks the server", async () => {
    const { manager, requests, doc } = setup();
    manager.open(doc);
    const panel = fake.panels[0];
    panel.webview.fromPage.fire({ type: "ready" });
    await settle();
    assert.deepEqual(fake.opened, []);
    fake.documents.length = 0; // its editor was closed: VS Code dropped it, the server too
    panel.webview.fromPage.fire({ type: "toggle", id: "s5", path: "layer2.0", expanded: true });
    await settle();
    assert.deepEqual(fake.opened, [DOC]);
    assert.deepEqual(requests[1].params.expand, ["layer2.0"]);
    manager.dispose();
});
