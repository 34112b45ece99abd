/** Offsets and positions of text. Pure. */

import type { Origin, Position } from "./protocol";

/** The UTF-16 offset of the code-point offset `cp` in `text` (nnlang counts code points). */
export function codePointToUtf16(text: string, cp: number): number {
    let units = 0;
    let points = 0;
    while (points < cp && units < text.length) {
        const c = text.charCodeAt(units);
        units += c >= 0xd800 && c <= 0xdbff && units + 1 < text.length ? 2 : 1;
        points += 1;
    }
    return units;
}

/** An origin span's start / end as UTF-16 offsets into its file's text. */
export function originOffsets(text: string, origin: Origin): { start: number; end: number } {
    return { start: codePointToUtf16(text, origin.start), end: codePointToUtf16(text, origin.end) };
}

/** The 0-based position of a 1-based line / code-point column, when the text is not at hand. */
export function originFallback(origin: Origin): { start: Position; end: Position } {
    return {
        start: { line: Math.max(0, origin.line - 1), character: Math.max(0, origin.column - 1) },
        end: { line: Math.max(0, origin.end_line - 1), character: Math.max(0, origin.end_column - 1) },
    };
}

/** The file name of a URI or path, for titles. */
export function baseName(uriOrPath: string): string {
    const path = uriOrPath.replace(/[?#].*$/, "").replace(/\/+$/, "").replace(/^[a-z][\w+.-]*:(?!\/)/i, "");
    const name = path.slice(path.lastIndexOf("/") + 1);
    try {
        return decodeURIComponent(name) || uriOrPath;
    } catch {
        return name || uriOrPath;
    }
}
