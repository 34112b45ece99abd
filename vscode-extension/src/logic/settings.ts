/**
 * The extension's settings and what the server is sent. Pure logic: a `ConfigReader` is
 * `vscode.workspace.getConfiguration("nnlang")` in the extension and a plain object in tests.
 */

export interface ConfigReader {
    /** A setting under `nnlang.` (`"inlayHints.shapes"`), undefined when unset and without default. */
    get<T>(key: string): T | undefined;
}

/** What the language server reads (lsp/settings.py), under `nnlang`. */
export interface ServerSettings {
    inlayHints: { shapes: boolean; params: boolean; macs: boolean };
    analysisDelayMs: number;
    target: string;
    targetOpset: number;
}

export const DEFAULTS: ServerSettings = {
    inlayHints: { shapes: true, params: false, macs: false },
    analysisDelayMs: 5,
    target: "",
    targetOpset: 0,
};

/** Settings whose change restarts the server (they choose which server runs). */
export const RESTART_KEYS = ["nnlang.server.command", "nnlang.server.pythonPath"] as const;

/** Settings the server is sent (initializationOptions, workspace/didChangeConfiguration). */
export const SERVER_KEYS = [
    "nnlang.inlayHints.shapes",
    "nnlang.inlayHints.params",
    "nnlang.inlayHints.macs",
    "nnlang.analysisDelayMs",
    "nnlang.target",
    "nnlang.targetOpset",
] as const;

function bool(v: unknown, d: boolean): boolean {
    return typeof v === "boolean" ? v : d;
}

function nonNegative(v: unknown, d: number, integer: boolean): number {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return d;
    return integer ? Math.floor(v) : v;
}

/** The server's settings from the configuration; a missing or bad value takes the default. */
export function serverSettings(cfg: ConfigReader): ServerSettings {
    const target = cfg.get<unknown>("target");
    return {
        inlayHints: {
            shapes: bool(cfg.get("inlayHints.shapes"), DEFAULTS.inlayHints.shapes),
            params: bool(cfg.get("inlayHints.params"), DEFAULTS.inlayHints.params),
            macs: bool(cfg.get("inlayHints.macs"), DEFAULTS.inlayHints.macs),
        },
        analysisDelayMs: nonNegative(cfg.get("analysisDelayMs"), DEFAULTS.analysisDelayMs, false),
        target: typeof target === "string" ? target.trim().toLowerCase() : DEFAULTS.target,
        targetOpset: nonNegative(cfg.get("targetOpset"), DEFAULTS.targetOpset, true),
    };
}

/** `initializationOptions` of the initialize request: `{nnlang: {...}}` (the server takes that shape
 * or the bare object). */
export function initializationOptions(cfg: ConfigReader): { nnlang: ServerSettings } {
    return { nnlang: serverSettings(cfg) };
}

/** The params of workspace/didChangeConfiguration. */
export function didChangeConfigurationParams(cfg: ConfigReader): { settings: { nnlang: ServerSettings } } {
    return { settings: { nnlang: serverSettings(cfg) } };
}

export interface ConfigChange {
    /** A server setting changed: restart the server. */
    restart: boolean;
    /** A setting the server reads changed: send it. */
    notify: boolean;
    /** The preview's settings changed. */
    preview: boolean;
}

/** What a configuration change means; `affects` is `event.affectsConfiguration`. */
export function classifyChange(affects: (section: string) => boolean): ConfigChange {
    if (!affects("nnlang")) return { restart: false, notify: false, preview: false };
    return {
        restart: RESTART_KEYS.some((k) => affects(k)),
        notify: SERVER_KEYS.some((k) => affects(k)),
        preview: affects("nnlang.preview"),
    };
}

/** `nnlang.server.*` as the resolver takes them. */
export function resolveSettings(cfg: ConfigReader): { command: string | string[] | null; pythonPath: string | null } {
    const command = cfg.get<unknown>("server.command");
    const pythonPath = cfg.get<unknown>("server.pythonPath");
    return {
        command: typeof command === "string" || (Array.isArray(command) && command.every((a) => typeof a === "string"))
            ? (command as string | string[]) : null,
        pythonPath: typeof pythonPath === "string" ? pythonPath : null,
    };
}

/** `nnlang.preview.throttleMs` (150 when unset or bad). */
export function previewThrottleMs(cfg: ConfigReader): number {
    return nonNegative(cfg.get("preview.throttleMs"), 150, false);
}

/** A ConfigReader over a plain object of dotted keys (`{"inlayHints.shapes": false}`) or nested ones. */
export function objectReader(obj: Record<string, unknown>): ConfigReader {
    return {
        get<T>(key: string): T | undefined {
            if (key in obj) return obj[key] as T;
            let cur: unknown = obj;
            for (const part of key.split(".")) {
                if (cur === null || typeof cur !== "object" || !(part in (cur as Record<string, unknown>))) return undefined;
                cur = (cur as Record<string, unknown>)[part];
            }
            return cur as T;
        },
    };
}
