/**
 * The part of the "vscode" module the preview manager uses, faked for `node --test` (VS Code itself
 * cannot run here: @vscode/test-electron downloads it). `installFakeVscode()` makes
 * `require("vscode")` return it; every call the manager makes is recorded.
 */
import * as fs from "node:fs";
import Module from "node:module";

type Listener<T> = (e: T) => unknown;

export class Emitter<T> {
    private listeners: Listener<T>[] = [];
    event = (l: Listener<T>) => {
        this.listeners.push(l);
        return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
    };
    fire(e: T): void {
        for (const l of [...this.listeners]) l(e);
    }
    get count(): number {
        return this.listeners.length;
    }
}

export class Uri {
    constructor(
        readonly scheme: string,
        readonly path: string,
    ) {}
    static parse(s: string): Uri {
        const m = /^([a-z][\w+.-]*):(?:\/\/)?(.*)$/i.exec(s);
        if (!m) throw new Error(`bad uri ${s}`);
        return new Uri(m[1], m[1] === "file" ? decodeURIComponent(m[2]) : m[2]);
    }
    static file(p: string): Uri {
        return new Uri("file", p);
    }
    static joinPath(u: Uri, ...parts: string[]): Uri {
        return new Uri(u.scheme, [u.path.replace(/\/$/, ""), ...parts].join("/"));
    }
    get fsPath(): string {
        return this.path;
    }
    toString(): string {
        return this.scheme === "file" ? `file://${this.path}` : `${this.scheme}://${this.path}`;
    }
}

export class Position {
    constructor(
        readonly line: number,
        readonly character: number,
    ) {}
}

export class Range {
    readonly start: Position;
    readonly end: Position;
    constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
        if (typeof a === "number") {
            this.start = new Position(a, b as number);
            this.end = new Position(c as number, d as number);
        } else {
            this.start = a;
            this.end = b as Position;
        }
    }
    get isEmpty(): boolean {
        return this.start.line === this.end.line && this.start.character === this.end.character;
    }
}

export class Selection extends Range {
    get active(): Position {
        return this.end;
    }
}

export class FakeDocument {
    constructor(
        readonly uri: Uri,
        private readonly text: string,
    ) {}
    getText(): string {
        return this.text;
    }
    positionAt(offset: number): Position {
        const before = this.text.slice(0, offset);
        const line = before.split("\n").length - 1;
        return new Position(line, offset - (before.lastIndexOf("\n") + 1));
    }
}

export class FakeEditor {
    selection = new Selection(0, 0, 0, 0);
    revealed: { range: Range; type: number }[] = [];
    constructor(
        readonly document: FakeDocument,
        readonly viewColumn: number,
    ) {}
    revealRange(range: Range, type: number): void {
        this.revealed.push({ range, type });
    }
}

export class FakeWebview {
    html = "";
    options: unknown;
    cspSource = "https://fake.vscode-cdn.net";
    posted: { type: string; [k: string]: unknown }[] = [];
    readonly fromPage = new Emitter<unknown>();
    onDidReceiveMessage = this.fromPage.event;
    constructor(options: unknown) {
        this.options = options;
    }
    asWebviewUri(u: Uri): Uri {
        return new Uri("https", `fake.vscode-cdn.net${u.path}`);
    }
    postMessage(m: { type: string }): Promise<boolean> {
        this.posted.push(JSON.parse(JSON.stringify(m)));
        return Promise.resolve(true);
    }
}

export class FakePanel {
    readonly webview: FakeWebview;
    reveals: unknown[][] = [];
    disposed = false;
    visible = true;
    iconPath: unknown;
    viewColumn = 2;
    private readonly disposeEmitter = new Emitter<void>();
    private readonly viewState = new Emitter<{ webviewPanel: FakePanel }>();
    onDidDispose = this.disposeEmitter.event;
    onDidChangeViewState = this.viewState.event;
    constructor(
        readonly viewType: string,
        public title: string,
        readonly showOptions: unknown,
        options: unknown,
    ) {
        this.webview = new FakeWebview(options);
    }
    reveal(...args: unknown[]): void {
        this.reveals.push(args);
    }
    setVisible(v: boolean): void {
        this.visible = v;
        this.viewState.fire({ webviewPanel: this });
    }
    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        this.disposeEmitter.fire();
    }
}

export interface FakeVscode {
    api: Record<string, unknown>;
    panels: FakePanel[];
    serializers: Map<string, { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> | void }>;
    shown: { doc: FakeDocument; options: { viewColumn?: number; selection?: Range; preserveFocus?: boolean } }[];
    opened: string[];
    editors: FakeEditor[];
    openEmitter: Emitter<FakeDocument>;
    /** the open documents (workspace.textDocuments) */
    documents: FakeDocument[];
    /** path -> text of the files openTextDocument reads (else the disk) */
    files: Map<string, string>;
    active: FakeEditor | undefined;
}

export function makeFakeVscode(): FakeVscode {
    const fake: FakeVscode = {
        api: {},
        panels: [],
        serializers: new Map(),
        shown: [],
        opened: [],
        editors: [],
        openEmitter: new Emitter<FakeDocument>(),
        files: new Map(),
        documents: [],
        active: undefined,
    };
    const docOf = (uri: Uri) => {
        const text = fake.files.get(uri.path) ?? fs.readFileSync(uri.fsPath, "utf8");
        return new FakeDocument(uri, text);
    };
    fake.api = {
        Uri,
        Position,
        Range,
        Selection,
        ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2, Three: 3 },
        TextEditorRevealType: { Default: 0, InCenter: 1, InCenterIfOutsideViewport: 2, AtTop: 3 },
        window: {
            createWebviewPanel(viewType: string, title: string, show: unknown, options: unknown) {
                const p = new FakePanel(viewType, title, show, options);
                fake.panels.push(p);
                return p;
            },
            registerWebviewPanelSerializer(viewType: string, s: { deserializeWebviewPanel(p: unknown, st: unknown): Promise<void> }) {
                fake.serializers.set(viewType, s);
                return { dispose: () => fake.serializers.delete(viewType) };
            },
            get activeTextEditor() {
                return fake.active;
            },
            get visibleTextEditors() {
                return fake.editors;
            },
            async showTextDocument(doc: FakeDocument, options: { viewColumn?: number; selection?: Range }) {
                fake.shown.push({ doc, options });
                const e = new FakeEditor(doc, options.viewColumn ?? 1);
                return e;
            },
        },
        workspace: {
            onDidOpenTextDocument: fake.openEmitter.event,
            get textDocuments() {
                return fake.documents;
            },
            async openTextDocument(uri: Uri) {
                fake.opened.push(uri.toString());
                let doc = fake.documents.find((d) => d.uri.toString() === uri.toString());
                if (!doc) {
                    doc = docOf(uri);
                    fake.documents.push(doc);
                    fake.openEmitter.fire(doc);
                }
                return doc;
            },
        },
    };
    return fake;
}

/** Make `require("vscode")` return `fake.api` (before the manager is loaded). */
export function installFakeVscode(fake: FakeVscode): void {
    const M = Module as unknown as {
        _resolveFilename: (request: string, ...rest: unknown[]) => string;
        _cache: Record<string, unknown>;
    };
    const original = M._resolveFilename;
    M._resolveFilename = function (request: string, ...rest: unknown[]) {
        if (request === "vscode") return "vscode";
        return original.call(this, request, ...rest);
    };
    M._cache["vscode"] = { id: "vscode", filename: "vscode", loaded: true, exports: fake.api };
}
