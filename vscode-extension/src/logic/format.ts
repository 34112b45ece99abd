/** Formatting the server's `nnlang/summary` result (lsp/features/requests.py; nnlang.summary.to_json_obj). */

export type Dim = number | string | null;
export type Shape = Dim[];

export interface SummaryLayer {
    name: string;
    type: string;
    output_shape: Shape | Shape[] | null;
    params: number | null;
    macs: number | null;
}

export interface SummaryInput {
    name: string;
    shape: Shape | null;
    dtype: string | null;
}

/** `{network, errors, version}` when the document has no network that builds; the full table otherwise. */
export interface SummaryResult {
    network: string | null;
    errors?: number;
    version?: number | null;
    inputs?: SummaryInput[];
    layers?: SummaryLayer[];
    total_params?: number | null;
    trainable_params?: number | null;
    total_macs?: number | null;
    macs_complete?: boolean;
    param_bytes?: number | null;
    buffer_bytes?: number | null;
    activation_bytes?: number | null;
}

/** `11689512` -> `11.7M`, `61706` -> `61.7K`, `156` -> `156`, `1.82e9` -> `1.82G`. */
export function compactCount(n: number | null | undefined): string {
    if (n == null || !Number.isFinite(n)) return "?";
    const a = Math.abs(n);
    const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
    for (const [size, unit] of units) {
        if (a >= size) {
            const v = n / size;
            const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
            return `${trimZeros(v.toFixed(digits))}${unit}`;
        }
    }
    return String(Math.round(n));
}

function trimZeros(s: string): string {
    return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** `11689512` -> `11,689,512`. */
export function groupedCount(n: number | null | undefined): string {
    if (n == null || !Number.isFinite(n)) return "?";
    const s = String(Math.round(Math.abs(n)));
    return (n < 0 ? "-" : "") + s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Bytes as `44.59 MB` (decimal, as `nnlang summary` prints). */
export function megabytes(b: number | null | undefined): string {
    if (b == null || !Number.isFinite(b)) return "?";
    return `${(b / 1e6).toFixed(2)} MB`;
}

export function formatShape(s: Shape | null | undefined): string {
    if (s == null) return "?";
    return `[${s.map((d) => (d == null ? "?" : String(d))).join(", ")}]`;
}

function isShapeList(s: Shape | Shape[]): s is Shape[] {
    return s.length > 0 && s.every((d) => Array.isArray(d));
}

export function formatOutputShape(s: Shape | Shape[] | null | undefined): string {
    if (s == null) return "?";
    return isShapeList(s) ? s.map(formatShape).join(", ") : formatShape(s as Shape);
}

/** The server / the network, as the status bar shows it. */
export type StatusState =
    | { kind: "starting" }
    | { kind: "failed"; message: string }
    | { kind: "stopped" }
    | { kind: "idle" }
    | { kind: "summary"; summary: SummaryResult };

export interface StatusView {
    text: string;
    tooltip: string;
    /** Show as a warning/error (background colour). */
    severity: "none" | "warning" | "error";
}

/** The status bar item's text and tooltip (the item opens the logs when clicked). */
export function statusView(state: StatusState): StatusView {
    const click = "Click to show the nnlang logs.";
    switch (state.kind) {
        case "starting":
            return { text: "$(loading~spin) nnlang", tooltip: `nnlang: starting the language server.\n\n${click}`, severity: "none" };
        case "failed":
            return { text: "$(error) nnlang", tooltip: `${state.message}\n\n${click}`, severity: "error" };
        case "stopped":
            return { text: "$(debug-disconnect) nnlang", tooltip: `nnlang: the language server is not running.\n\n${click}`, severity: "warning" };
        case "idle":
            return { text: "$(circuit-board) nnlang", tooltip: `nnlang: no network in this file.\n\n${click}`, severity: "none" };
        case "summary": {
            const s = state.summary;
            const name = s.network ?? "nnlang";
            const errors = s.errors ?? 0;
            if (errors > 0) {
                return {
                    text: `$(error) ${name}: ${errors} error${errors === 1 ? "" : "s"}`,
                    tooltip: `${name}: ${errors} error${errors === 1 ? "" : "s"}: no totals until it builds.\n\n${click}`,
                    severity: "warning",
                };
            }
            if (s.network == null || s.total_params === undefined) {
                return { text: "$(circuit-board) nnlang", tooltip: `nnlang: no network that builds in this file.\n\n${click}`, severity: "none" };
            }
            const lines = [
                `${name}`,
                `Parameters: ${groupedCount(s.total_params)}${s.trainable_params != null && s.trainable_params !== s.total_params ? ` (${groupedCount(s.trainable_params)} trainable)` : ""}`,
                `MACs: ${groupedCount(s.total_macs)} (${compactCount(s.total_macs)}${s.macs_complete === false ? ", some layers unknown" : ""})`,
                `Parameter size: ${megabytes(s.param_bytes)}`,
            ];
            if (s.layers) lines.push(`Layers: ${s.layers.length}`);
            return {
                text: `$(circuit-board) ${name}: ${compactCount(s.total_params)} params`,
                tooltip: `${lines.join("\n")}\n\n${click}`,
                severity: "none",
            };
        }
    }
}

function pad(s: string, width: number, right: boolean): string {
    return right ? s.padStart(width) : s.padEnd(width);
}

function escapeCell(s: string): string {
    return s.replace(/\|/g, "\\|");
}

/** A Markdown page for `nnlang: Show Summary`, its tables aligned so the text reads as well as the preview. */
export function summaryMarkdown(s: SummaryResult, source: string): string {
    const out: string[] = [];
    if (s.network == null) {
        out.push(`# ${source}`, "", (s.errors ?? 0) > 0
            ? `No summary: the file has ${s.errors} error${s.errors === 1 ? "" : "s"} (see the Problems view).`
            : "No network in this file.", "");
        return out.join("\n");
    }
    out.push(`# ${s.network}`, "", `Source: \`${source}\``, "");
    if ((s.errors ?? 0) > 0 || s.layers === undefined) {
        out.push(`No summary: the network has ${s.errors ?? 0} error${s.errors === 1 ? "" : "s"} (see the Problems view).`, "");
        return out.join("\n");
    }
    if (s.inputs && s.inputs.length > 0) {
        out.push("## Inputs", "");
        out.push(...table(["Input", "Shape", "Type"], [false, false, false],
            s.inputs.map((i) => [`\`${i.name}\``, formatShape(i.shape), i.dtype ?? "?"])), "");
    }
    out.push("## Totals", "");
    out.push(...table(["", ""], [false, true], [
        ["Parameters", groupedCount(s.total_params)],
        ["Trainable parameters", groupedCount(s.trainable_params)],
        ["MACs", `${groupedCount(s.total_macs)}${s.macs_complete === false ? " (incomplete)" : ""}`],
        ["Parameter size", megabytes(s.param_bytes)],
        ["Buffer size", megabytes(s.buffer_bytes)],
        ["Activation size", megabytes(s.activation_bytes)],
    ]), "");
    out.push("## Layers", "");
    out.push(...table(["Layer", "Type", "Output shape", "Params", "MACs"], [false, false, false, true, true],
        (s.layers ?? []).map((l) => [l.name ? `\`${l.name}\`` : "", l.type, formatOutputShape(l.output_shape),
            groupedCount(l.params), groupedCount(l.macs)])), "");
    return out.join("\n");
}

function table(head: string[], right: boolean[], rows: string[][]): string[] {
    const cells = [head, ...rows].map((r) => r.map(escapeCell));
    const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) => `| ${r.map((c, i) => pad(c, widths[i]!, right[i]!)).join(" | ")} |`;
    const rule = `|${widths.map((w, i) => (right[i] ? ` ${"-".repeat(w - 1)}: ` : ` ${"-".repeat(w)} `)).join("|")}|`;
    return [line(cells[0]!), rule, ...cells.slice(1).map(line)];
}
