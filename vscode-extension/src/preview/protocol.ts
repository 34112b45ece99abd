/**
 * The live preview's message protocol: between the extension (PreviewSession, ./session.ts) and the
 * webview page (media/preview.js). Pure: no "vscode" import, so `node --test` runs it.
 *
 * Extension -> page (webview.postMessage; the page listens to window "message" events)
 *
 *   {type: "update", epoch, version, seq, uri, payload, expand, collapse, view?}
 *       A new diagram. `payload` is the `nnlang/diagram` result as the server sent it (network, dot,
 *       ranges: {element id: LSP range {start, end, origin?}}, paths: {block id: path}, state,
 *       unknown, version). `version` is the analysed document version, `seq` the number of the
 *       request within this panel, `epoch` counts the times the document was reopened (its
 *       versions restart at 1). (epoch, version, seq) orders updates: the page drops any message
 *       not newer than the last one it accepted. `expand` / `collapse`: the block paths the
 *       extension keeps for this panel (the page saves them with setState so a restored panel
 *       gets them back). `view` {x, y, k}: only after a window reload, the pan/zoom to restore.
 *   {type: "error", epoch, version, seq, message}
 *       The request failed (server not running, document closed...). The page keeps the last
 *       diagram and shows the message above it (or alone, when there is no diagram yet).
 *   {type: "cursor", line, character}
 *       The editor's cursor moved (0-based, UTF-16 like LSP; throttled). The page highlights the
 *       innermost drawn element whose range contains it, and scrolls it into view only when it
 *       is off screen.
 *
 * Page -> extension (acquireVsCodeApi().postMessage)
 *
 *   {type: "ready"}                           the page is loaded (again): the extension replays
 *                                             the last update (and error, and cursor).
 *   {type: "reveal", id}                      a click on element `id` (a layer, input, output; a
 *                                             block with Ctrl/Cmd): select its source range in the
 *                                             editor, or its `origin` file's range when it was
 *                                             written in another file.
 *   {type: "toggle", id, path, expanded}      open (expanded: true) or close (false) the block
 *                                             `path` (payload.paths[id]); the extension updates
 *                                             its expand / collapse lists and requests again.
 *   {type: "log", message}                    something for the extension's log (layout errors).
 *
 * Everything the page saves with vscode.setState is {uri, expand, collapse, view}: the state a
 * WebviewPanelSerializer gets back after a window reload (see PanelState).
 */

/** An LSP position: 0-based line, UTF-16 character. */
export interface Position {
    line: number;
    character: number;
}

/** Where an element was written when it is not in the previewed document (a block from `use`):
 *  nnlang's 1-based span of that file (start / end are code-point offsets). */
export interface Origin {
    path: string;
    start: number;
    end: number;
    line: number;
    column: number;
    end_line: number;
    end_column: number;
}

export interface ElementRange {
    start: Position;
    end: Position;
    origin?: Origin;
}

/** The `nnlang/diagram` result (lsp/features/requests.py; nnlang.diagram.diagram_payload). */
export interface DiagramPayload {
    network: string | null;
    dot: string | null;
    svg?: string | null;
    svg_error?: string;
    ranges: Record<string, ElementRange>;
    paths?: Record<string, string>;
    state: { expanded: string[]; rolled: string[] } | null;
    unknown: string[];
    version: number | null;
}

/** The `nnlang/diagram` request's parameters. */
export interface DiagramParams {
    uri: string;
    depth?: number | "auto" | "all";
    expand: string[];
    collapse: string[];
    roll?: boolean;
    svg: boolean;
}

/** The pan / zoom of the page: the top-left corner in graph units and screen pixels per unit. */
export interface View {
    x: number;
    y: number;
    k: number;
}

/** What a panel saves (page setState) and a restored panel starts from. */
export interface PanelState {
    uri: string;
    expand: string[];
    collapse: string[];
    view?: View;
}

export interface UpdateMessage {
    type: "update";
    epoch: number;
    version: number;
    seq: number;
    uri: string;
    payload: DiagramPayload;
    expand: string[];
    collapse: string[];
    view?: View;
}

export interface ErrorMessage {
    type: "error";
    epoch: number;
    version: number;
    seq: number;
    message: string;
}

export interface CursorMessage {
    type: "cursor";
    line: number;
    character: number;
}

export type ToPage = UpdateMessage | ErrorMessage | CursorMessage;

export interface ReadyMessage {
    type: "ready";
}

export interface RevealMessage {
    type: "reveal";
    id: string;
}

export interface ToggleMessage {
    type: "toggle";
    id?: string;
    path: string;
    expanded: boolean;
}

export interface LogMessage {
    type: "log";
    message: string;
}

export type FromPage = ReadyMessage | RevealMessage | ToggleMessage | LogMessage;

function isObject(x: unknown): x is Record<string, unknown> {
    return typeof x === "object" && x !== null && !Array.isArray(x);
}

const ELEMENT_ID = /^[nsio]\d+$/;

/** The page's message, checked (it comes from a page that shows text of the document), or null. */
export function parsePageMessage(x: unknown): FromPage | null {
    if (!isObject(x)) return null;
    switch (x.type) {
        case "ready":
            return { type: "ready" };
        case "reveal":
            return typeof x.id === "string" && ELEMENT_ID.test(x.id) ? { type: "reveal", id: x.id } : null;
        case "toggle":
            if (typeof x.path !== "string" || x.path === "" || typeof x.expanded !== "boolean") return null;
            if (x.id !== undefined && !(typeof x.id === "string" && ELEMENT_ID.test(x.id))) return null;
            return x.id === undefined
                ? { type: "toggle", path: x.path, expanded: x.expanded }
                : { type: "toggle", id: x.id, path: x.path, expanded: x.expanded };
        case "log":
            return typeof x.message === "string" ? { type: "log", message: x.message.slice(0, 2000) } : null;
        default:
            return null;
    }
}

function stringList(x: unknown): string[] {
    return Array.isArray(x) ? x.filter((s): s is string => typeof s === "string" && s !== "") : [];
}

function isView(x: unknown): x is View {
    return isObject(x) && [x.x, x.y, x.k].every((v) => typeof v === "number" && Number.isFinite(v)) && (x.k as number) > 0;
}

/** A serializer's saved state, checked: null when it names no document. */
export function parsePanelState(x: unknown): PanelState | null {
    if (!isObject(x) || typeof x.uri !== "string" || x.uri === "") return null;
    const out: PanelState = { uri: x.uri, expand: stringList(x.expand), collapse: stringList(x.collapse) };
    if (isView(x.view)) out.view = { x: x.view.x, y: x.view.y, k: x.view.k };
    return out;
}

/** The order of updates: (epoch, version, seq). Positive when `a` is newer than `b`. */
export function compareStamps(
    a: { epoch: number; version: number; seq: number },
    b: { epoch: number; version: number; seq: number },
): number {
    return a.epoch - b.epoch || a.version - b.version || a.seq - b.seq;
}
