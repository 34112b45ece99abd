/**
 * The boundary between the extension (client, commands, status bar) and the live preview.
 *
 * The extension owns this file and `src/extension.ts`; the preview owns `src/preview/manager.ts`
 * and `media/preview.*`. `manager.ts` exports
 *
 *     export class PreviewManager implements PreviewApi {
 *         constructor(deps: PreviewDeps) { ... }
 *     }
 *
 * The extension creates one PreviewManager on activation (after the language client is created),
 * calls `open(document)` for the `nnlang.openPreview` command, `onCursor(editor)` on every
 * selection change of an `nns` editor, and `dispose()` on deactivation (it is also pushed to the
 * extension's subscriptions). Everything the preview needs from the rest of the extension comes
 * through `PreviewDeps`, so the preview never reaches into the client directly.
 */
import type * as vscode from "vscode";

/** What the extension calls on the preview. */
export interface PreviewApi extends vscode.Disposable {
    /** Show (or reveal) the preview of `document` beside its editor (ViewColumn.Beside, preserveFocus). */
    open(document: vscode.TextDocument): void | Promise<void>;
    /** The cursor/selection of an `nns` editor moved: highlight the element under it, if previewed. */
    onCursor(editor: vscode.TextEditor): void;
    /** Close every preview panel and drop every listener. */
    dispose(): void;
}

/** What the extension gives the preview. */
export interface PreviewDeps {
    /** The extension's root (for `media/` via `vscode.Uri.joinPath(extensionUri, "media", ...)`). */
    readonly extensionUri: vscode.Uri;
    /**
     * Send a request to the language server (e.g. `"nnlang/diagram"` with `{uri, depth?, expand?,
     * collapse?, roll?, svg?}`; see lsp/features/requests.py). Waits for the server to be running;
     * rejects when it is not available (the error message says why).
     */
    request<R = unknown>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R>;
    /**
     * Fires with a document's uri each time the server has analysed it again (its diagnostics were
     * published: after every edit, once the analysis of the newest text is done) and when the server
     * (re)starts (with every open `nns` document). Requests sent after this see the new analysis.
     */
    readonly onDidAnalyse: vscode.Event<vscode.Uri>;
    /** The `nnlang.preview.throttleMs` setting (read each time: it may change). */
    throttleMs(): number;
    /** A line in the extension's output channel ("nnlang" log). */
    log(message: string): void;
}

/** The constructor `src/preview/manager.ts` exports as `PreviewManager`. */
export type PreviewManagerConstructor = new (deps: PreviewDeps) => PreviewApi;
