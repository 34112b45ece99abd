/**
 * The extension's entry point: the language client (server.ts), the commands, the status bar item,
 * the summary documents and the live preview (preview/, behind preview/api.ts).
 */
import * as path from "node:path";
import * as vscode from "vscode";

import { checkTarget, compileBlocker, compileParams, compileReport, type CompileResult, TARGETS, type TargetsAnswer, targetPickItems, targetsFromServer } from "./logic/compile";
import { type SummaryResult, summaryMarkdown } from "./logic/format";
import { classifyChange, previewThrottleMs, serverSettings } from "./logic/settings";
import { StatusController } from "./logic/status";
import type { PreviewApi, PreviewDeps } from "./preview/api";
import { PreviewManager } from "./preview/manager";
import { ServerController } from "./server";
import { configReader, onPythonInterpreterChange } from "./vscodeApi";

const LANGUAGE = "nns";
const SUMMARY_SCHEME = "nnlang-summary";

let server: ServerController | undefined;

function nnsEditor(): vscode.TextEditor | undefined {
    const e = vscode.window.activeTextEditor;
    return e?.document.languageId === LANGUAGE ? e : undefined;
}

/** The document a command acts on: the editor's (from a menu, its uri) or the active nns editor's. */
async function targetDocument(arg: unknown): Promise<vscode.TextDocument | undefined> {
    if (arg instanceof vscode.Uri) {
        const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === arg.toString());
        return open ?? (await vscode.workspace.openTextDocument(arg));
    }
    const doc = nnsEditor()?.document;
    if (doc === undefined) void vscode.window.showWarningMessage("nnlang: open a .nns file first.");
    return doc;
}

function errorMessage(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** `nnlang-summary:/<name> summary.md?<source uri>`: the summary of a document, kept up to date. */
class SummaryDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;
    private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

    constructor(private readonly srv: ServerController) {}

    static uriFor(source: vscode.Uri): vscode.Uri {
        const name = path.posix.basename(source.path) || "untitled";
        return vscode.Uri.from({ scheme: SUMMARY_SCHEME, path: `/${name} summary.md`, query: source.toString() });
    }

    async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
        const source = vscode.Uri.parse(uri.query);
        const label = source.scheme === "file" ? vscode.workspace.asRelativePath(source) : source.toString();
        try {
            const result = await this.srv.request<SummaryResult>("nnlang/summary", { uri: source.toString() }, token);
            return summaryMarkdown(result, label);
        } catch (e) {
            return `# ${label}\n\nNo summary: ${errorMessage(e)}\n`;
        }
    }

    /** A source was analysed again: refresh its open summary (throttled). */
    onAnalysed(source: vscode.Uri): void {
        const uri = SummaryDocuments.uriFor(source);
        const key = uri.toString();
        if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === key) || this.timers.has(key)) return;
        this.timers.set(key, setTimeout(() => {
            this.timers.delete(key);
            this.changed.fire(uri);
        }, 300));
    }

    dispose(): void {
        for (const t of this.timers.values()) clearTimeout(t);
        this.changed.dispose();
    }
}

async function showSummary(arg: unknown): Promise<void> {
    const doc = await targetDocument(arg);
    if (doc === undefined) return;
    const summary = await vscode.workspace.openTextDocument(SummaryDocuments.uriFor(doc.uri));
    await vscode.window.showTextDocument(summary, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
}

async function compile(arg: unknown, srv: ServerController): Promise<void> {
    const doc = await targetDocument(arg);
    if (doc === undefined) return;
    const settings = serverSettings(configReader(doc.uri));
    // The targets are the server's (its target descriptors); an older server without the request: the built-in two.
    let targets = TARGETS;
    try {
        const listed = targetsFromServer(await srv.request<TargetsAnswer>("nnlang/targets", {}));
        if (listed.length > 0) targets = listed;
    } catch (e) {
        srv.log(`nnlang/targets: ${errorMessage(e)}`);
    }
    const pick = await vscode.window.showQuickPick(targetPickItems(settings.target, targets), {
        title: `nnlang: compile ${path.basename(doc.fileName)} to`,
        placeHolder: "the target framework",
    });
    if (pick === undefined) return;
    const check = checkTarget(pick.target, targets);
    if (!check.ok) {
        void vscode.window.showWarningMessage(check.message);
        return;
    }
    const blocker = compileBlocker({ scheme: doc.uri.scheme, isUntitled: doc.isUntitled, languageId: doc.languageId });
    if (blocker !== undefined) {
        void vscode.window.showWarningMessage(blocker);
        return;
    }
    const fileName = path.basename(doc.fileName);
    let result: CompileResult;
    try {
        // The server reports its own $/progress while the compiler runs.
        result = await srv.request<CompileResult>("nnlang/compile", compileParams(doc.uri.toString(), check.target, { targetOpset: settings.targetOpset }));
    } catch (e) {
        srv.log(`compile ${fileName}: ${errorMessage(e)}`);
        void vscode.window.showErrorMessage(`nnlang: compile failed: ${errorMessage(e)}`, "Show Logs").then((c) => c && vscode.commands.executeCommand("nnlang.showLogs"));
        return;
    }
    const report = compileReport(result, check.target, fileName, targets);
    srv.log(report.log);
    if (report.level === "error") {
        const c = await vscode.window.showErrorMessage(report.message, "Show Logs");
        if (c) await vscode.commands.executeCommand("nnlang.showLogs");
        return;
    }
    const first = report.firstFile;
    const c = await vscode.window.showInformationMessage(report.message, ...(first ? ["Open"] : []));
    if (c === "Open" && first) {
        const file = path.isAbsolute(first) ? first : path.join(path.dirname(doc.fileName), first);
        await vscode.window.showTextDocument(vscode.Uri.file(file));
    }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel("nnlang", { log: true });
    const srv = new ServerController(output);
    server = srv;
    context.subscriptions.push(output, srv);

    // The status bar: the active network's totals; click for the logs.
    const item = vscode.window.createStatusBarItem("nnlang.status", vscode.StatusBarAlignment.Right, 100);
    item.name = "nnlang";
    item.command = "nnlang.showLogs";
    context.subscriptions.push(item);
    const status = new StatusController({
        summary: (uri) => srv.request<SummaryResult>("nnlang/summary", { uri }),
        activeUri: () => nnsEditor()?.document.uri.toString(),
        render: (view) => {
            if (view === undefined) {
                item.hide();
                return;
            }
            item.text = view.text;
            item.tooltip = view.tooltip;
            item.backgroundColor = view.severity === "none" ? undefined
                : new vscode.ThemeColor(view.severity === "error" ? "statusBarItem.errorBackground" : "statusBarItem.warningBackground");
            item.show();
        },
        log: (m) => srv.log(m),
        throttleMs: () => 500,
    });
    context.subscriptions.push(status);

    // The preview: everything it needs comes through PreviewDeps (preview/api.ts).
    const deps: PreviewDeps = {
        extensionUri: context.extensionUri,
        request: (method, params, token) => srv.request(method, params, token),
        onDidAnalyse: srv.onDidAnalyse,
        throttleMs: () => previewThrottleMs(configReader()),
        log: (m) => srv.log(`preview: ${m}`),
    };
    const preview: PreviewApi = new PreviewManager(deps);
    context.subscriptions.push(preview);

    const summaries = new SummaryDocuments(srv);
    context.subscriptions.push(summaries, vscode.workspace.registerTextDocumentContentProvider(SUMMARY_SCHEME, summaries));

    context.subscriptions.push(
        srv.onDidChangeState((s) => status.setServerState(s)),
        srv.onDidAnalyse((uri) => {
            status.onAnalysed(uri.toString());
            summaries.onAnalysed(uri);
        }),
        vscode.window.onDidChangeActiveTextEditor(() => status.onActiveEditor()),
        vscode.window.onDidChangeTextEditorSelection((e) => {
            if (e.textEditor.document.languageId === LANGUAGE) preview.onCursor(e.textEditor);
        }),
        vscode.workspace.onDidChangeConfiguration((e) => {
            const change = classifyChange((section) => e.affectsConfiguration(section));
            if (change.restart) {
                srv.log("a server setting changed: restarting the server");
                void srv.restart();
            } else if (change.notify) {
                void srv.sendSettings();
            }
        }),
        vscode.commands.registerCommand("nnlang.openPreview", async (arg: unknown) => {
            const doc = await targetDocument(arg);
            if (doc !== undefined) await preview.open(doc);
        }),
        vscode.commands.registerCommand("nnlang.compile", (arg: unknown) => compile(arg, srv)),
        vscode.commands.registerCommand("nnlang.showSummary", (arg: unknown) => showSummary(arg)),
        vscode.commands.registerCommand("nnlang.restartServer", async () => {
            srv.log("restart requested");
            await srv.restart();
        }),
        vscode.commands.registerCommand("nnlang.showLogs", () => output.show(true)),
    );

    // A new interpreter in the Python extension may be the one with nnlang: try again if it could matter.
    void onPythonInterpreterChange(() => {
        if (srv.source === undefined || srv.source === "python-extension") {
            srv.log("the Python interpreter changed: restarting the server");
            void srv.restart();
        }
    }).then((d) => d && context.subscriptions.push(d));

    await srv.start();
}

export function deactivate(): Promise<void> | undefined {
    const s = server;
    server = undefined;
    return s?.stop();
}
