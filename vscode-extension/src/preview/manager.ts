/**
 * The live preview: one webview panel per `nns` document, beside its editor, titled
 * "Preview: <file>", restored after a window reload. This file is the thin wrapper of the VS Code
 * API; the logic is in ./session.ts (per panel), the protocol in ./protocol.ts, the page in
 * media/preview.{html,js,css} (+ media/preview-core.js, media/graphviz.js built by
 * src/preview/graphviz/build.mjs).
 */
import * as fs from "node:fs";
import * as vscode from "vscode";
import type { PreviewApi, PreviewDeps } from "./api";
import { makeNonce, renderPage } from "./html";
import { parsePanelState, type PanelState } from "./protocol";
import { PreviewSession, type RevealTarget } from "./session";
import { baseName, originFallback, originOffsets } from "./text";

export const VIEW_TYPE = "nnlang.preview";

interface Entry {
    panel: vscode.WebviewPanel;
    session: PreviewSession;
    disposables: vscode.Disposable[];
}

export class PreviewManager implements PreviewApi {
    private readonly entries = new Map<string, Entry>();
    private readonly disposables: vscode.Disposable[] = [];
    private template: string | undefined;

    constructor(private readonly deps: PreviewDeps) {
        this.disposables.push(
            vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
                deserializeWebviewPanel: (panel, state) => this.restore(panel, state),
            }),
            deps.onDidAnalyse((uri) => this.entries.get(uri.toString())?.session.analysed()),
            vscode.workspace.onDidOpenTextDocument((doc) => this.entries.get(doc.uri.toString())?.session.reopened()),
        );
    }

    open(document: vscode.TextDocument): void {
        const key = document.uri.toString();
        const entry = this.entries.get(key);
        if (entry) {
            entry.panel.reveal(vscode.ViewColumn.Beside, true);
            return;
        }
        const panel = vscode.window.createWebviewPanel(
            VIEW_TYPE,
            this.title(key),
            { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
            this.options(),
        );
        this.attach(panel, { uri: key, expand: [], collapse: [] });
        const editor = vscode.window.activeTextEditor;
        if (editor && editor.document.uri.toString() === key) this.onCursor(editor);
    }

    onCursor(editor: vscode.TextEditor): void {
        const entry = this.entries.get(editor.document.uri.toString());
        if (!entry) return;
        const p = editor.selection.active;
        entry.session.cursor({ line: p.line, character: p.character });
    }

    dispose(): void {
        for (const entry of [...this.entries.values()]) entry.panel.dispose();
        this.entries.clear();
        for (const d of this.disposables.splice(0)) d.dispose();
    }

    private title(uri: string): string {
        return `Preview: ${baseName(uri)}`;
    }

    private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
        return {
            enableScripts: true,
            localResourceRoots: [vscode.Uri.joinPath(this.deps.extensionUri, "media")],
            retainContextWhenHidden: false, // the page saves its view (setState) and gets the last update replayed
        };
    }

    private async restore(panel: vscode.WebviewPanel, raw: unknown): Promise<void> {
        const state = parsePanelState(raw);
        if (!state || this.entries.has(state.uri)) {
            panel.dispose();
            return;
        }
        panel.title = this.title(state.uri);
        panel.webview.options = this.options();
        this.attach(panel, state);
        await this.ensureOpen(state.uri);
    }

    /** The server knows only the open documents: after a reload, or once its editor was closed
     *  long enough, the previewed one may not be (opening it is what sends didOpen). */
    private async ensureOpen(uri: string): Promise<void> {
        if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri)) return;
        try {
            await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
        } catch (err) {
            this.deps.log(`cannot open ${uri}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }

    private attach(panel: vscode.WebviewPanel, state: PanelState): void {
        const key = state.uri;
        const webview = panel.webview;
        const session = new PreviewSession(
            key,
            {
                post: (msg) => void webview.postMessage(msg),
                request: async (params) => {
                    await this.ensureOpen(key);
                    return this.deps.request("nnlang/diagram", params);
                },
                reveal: (target) => this.reveal(target, panel),
                log: (msg) => this.deps.log(msg),
            },
            { throttleMs: () => this.deps.throttleMs() },
            state,
        );
        const entry: Entry = { panel, session, disposables: [] };
        this.entries.set(key, entry);
        entry.disposables.push(
            webview.onDidReceiveMessage((msg) => session.receive(msg)),
            panel.onDidChangeViewState((e) => session.setVisible(e.webviewPanel.visible)),
            panel.onDidDispose(() => {
                session.dispose();
                for (const d of entry.disposables.splice(0)) d.dispose();
                if (this.entries.get(key) === entry) this.entries.delete(key);
            }),
        );
        panel.iconPath = vscode.Uri.joinPath(this.deps.extensionUri, "media", "preview-icon.svg");
        webview.html = this.html(webview);
    }

    private html(webview: vscode.Webview): string {
        const media = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(this.deps.extensionUri, "media", name)).toString();
        if (this.template === undefined) {
            this.template = fs.readFileSync(vscode.Uri.joinPath(this.deps.extensionUri, "media", "preview.html").fsPath, "utf8");
        }
        return renderPage(this.template, {
            cspSource: webview.cspSource,
            nonce: makeNonce(),
            css: media("preview.css"),
            graphviz: media("graphviz.js"),
            core: media("preview-core.js"),
            script: media("preview.js"),
        });
    }

    /** Select the element's source in an editor: the previewed document, or the file it came from. */
    private async reveal(target: RevealTarget, panel: vscode.WebviewPanel): Promise<void> {
        const source = vscode.Uri.parse(target.uri);
        // The column of the previewed document's editor (not the preview's own).
        const shown = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === target.uri);
        let column = shown?.viewColumn;
        if (column === undefined) column = panel.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
        let doc: vscode.TextDocument;
        let range: vscode.Range;
        if (target.origin) {
            doc = await vscode.workspace.openTextDocument(vscode.Uri.file(target.origin.path));
            const { start, end } = originOffsets(doc.getText(), target.origin);
            range = new vscode.Range(doc.positionAt(start), doc.positionAt(end));
            if (range.isEmpty) {
                const r = originFallback(target.origin);
                range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
            }
        } else {
            doc = await vscode.workspace.openTextDocument(source);
            range = new vscode.Range(target.start.line, target.start.character, target.end.line, target.end.character);
        }
        const editor = await vscode.window.showTextDocument(doc, { viewColumn: column, preserveFocus: false, selection: range });
        editor.selection = new vscode.Selection(range.start, range.end);
        editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
}
