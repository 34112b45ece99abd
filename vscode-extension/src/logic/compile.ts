/** `nnlang: Compile Network…`: the targets (the server's `nnlang/targets` list), its params and result. */

/** A target's name as the server gives it (`nnlang.targets.TARGETS`). */
export type TargetId = string;

export interface TargetInfo {
    id: TargetId;
    label: string;
    description: string;
    /** The server's nnlang/compile supports it (every target the server lists does). */
    available: boolean;
}

/** Used only when the server cannot be asked (an older server without `nnlang/targets`). */
export const TARGETS: readonly TargetInfo[] = [
    { id: "torch", label: "PyTorch", description: "a Python module (nn.Module) — torch", available: true },
    { id: "onnx", label: "ONNX", description: "an .onnx model — onnx", available: true },
];

/** The answer of the server's `nnlang/targets` request. */
export interface TargetsAnswer {
    targets?: { name?: unknown; description?: unknown }[];
}

/** The targets the server lists, in its order: "PyTorch: a readable ..." -> label PyTorch, the rest as description. */
export function targetsFromServer(answer: TargetsAnswer | undefined | null): TargetInfo[] {
    const out: TargetInfo[] = [];
    for (const t of answer?.targets ?? []) {
        if (typeof t?.name !== "string" || t.name.length === 0) continue;
        const text = typeof t.description === "string" ? t.description : "";
        const colon = text.indexOf(":");
        const label = colon > 0 ? text.slice(0, colon).trim() : t.name;
        const description = colon > 0 ? text.slice(colon + 1).trim() : text;
        out.push({ id: t.name, label, description, available: true });
    }
    return out;
}

export interface TargetPickItem {
    label: string;
    description: string;
    detail?: string;
    target: TargetId;
    picked: boolean;
}

/** The quick pick's items: every target, the configured one (`nnlang.target`) first. */
export function targetPickItems(configured: string | undefined, targets: readonly TargetInfo[] = TARGETS): TargetPickItem[] {
    const items = targets.map((t) => ({
        label: t.label,
        description: t.description,
        target: t.id,
        picked: t.id === configured,
        ...(t.id === configured ? { detail: "nnlang.target" } : {}),
    }));
    const i = items.findIndex((t) => t.picked);
    if (i > 0) items.unshift(...items.splice(i, 1));
    return items;
}

export type TargetCheck = { ok: true; target: TargetId } | { ok: false; message: string };

/** Whether the server can compile to `target`; a clear message when not. */
export function checkTarget(target: string, targets: readonly TargetInfo[] = TARGETS): TargetCheck {
    const t = targets.find((x) => x.id === target.trim().toLowerCase());
    if (t === undefined) {
        return { ok: false, message: `nnlang: unknown compile target "${target}" (the targets are ${targets.map((x) => x.id).join(", ")}).` };
    }
    if (!t.available) {
        return {
            ok: false,
            message: `nnlang: compiling to ${t.label} is not available yet. The language server compiles to `
                + `${targets.filter((x) => x.available).map((x) => x.label).join(" and ")}.`,
        };
    }
    return { ok: true, target: t.id };
}

export interface CompileParams {
    uri: string;
    target: TargetId;
    opset?: number;
    outdir?: string;
}

/** The params of nnlang/compile; the opset (`nnlang.targetOpset`, when > 0) only for ONNX. */
export function compileParams(uri: string, target: TargetId, opts: { targetOpset?: number; outdir?: string } = {}): CompileParams {
    const p: CompileParams = { uri, target };
    if (target === "onnx" && opts.targetOpset !== undefined && opts.targetOpset > 0) p.opset = Math.floor(opts.targetOpset);
    if (opts.outdir) p.outdir = opts.outdir;
    return p;
}

/** Why a document cannot be compiled as it is (the server compiles a file: it needs a path). */
export function compileBlocker(doc: { scheme: string; isUntitled: boolean; languageId: string }): string | undefined {
    if (doc.languageId !== "nns") return "nnlang: the active editor is not a .nns file.";
    if (doc.isUntitled || doc.scheme !== "file") return "nnlang: save the file first: the compiler writes its output beside it.";
    return undefined;
}

export interface CompileResult {
    ok: boolean;
    written?: string[];
    error?: string | null;
    target?: string;
}

export interface CompileReport {
    level: "info" | "error";
    /** The notification. */
    message: string;
    /** For the log: everything. */
    log: string;
    /** The first written file, to offer opening it. */
    firstFile?: string;
}

/** What to tell the user about the server's answer. */
export function compileReport(result: CompileResult, target: TargetId, fileName: string, targets: readonly TargetInfo[] = TARGETS): CompileReport {
    const label = targets.find((t) => t.id === target)?.label ?? target;
    const written = result.written ?? [];
    if (result.ok) {
        const files = written.length === 1 ? written[0]! : `${written.length} files`;
        return {
            level: "info",
            message: written.length > 0 ? `nnlang: compiled ${fileName} to ${label}: ${files}` : `nnlang: compiled ${fileName} to ${label}.`,
            log: [`compile ${fileName} -> ${target}: ok`, ...written.map((w) => `  wrote ${w}`), ...(result.error ? [result.error] : [])].join("\n"),
            ...(written.length > 0 ? { firstFile: written[0]! } : {}),
        };
    }
    const error = (result.error ?? "").trim();
    const lines = error.split(/\r?\n/).filter((l) => l.trim().length > 0);
    // The last line of a traceback or the CLI's "nnlang: error: ..." says what went wrong.
    const last = lines.length > 0 ? lines[lines.length - 1]!.trim() : "the compiler failed without a message";
    return {
        level: "error",
        message: `nnlang: compiling ${fileName} to ${label} failed: ${last.replace(/^nnlang: error: /, "")}`,
        log: `compile ${fileName} -> ${target}: failed\n${error}`,
    };
}
