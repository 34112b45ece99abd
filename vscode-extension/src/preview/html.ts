/** The webview page: media/preview.html with its placeholders filled in. Pure but for the nonce. */

import { randomBytes } from "node:crypto";

export interface PageResources {
    /** webview.cspSource */
    cspSource: string;
    nonce: string;
    /** asWebviewUri(...) of media/preview.css, media/graphviz.js, media/preview-core.js, media/preview.js */
    css: string;
    graphviz: string;
    core: string;
    script: string;
}

/** A fresh nonce for the page's Content-Security-Policy (base64: what CSP's nonce-source takes). */
export function makeNonce(): string {
    return randomBytes(18).toString("base64");
}

function attr(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Fill `{{cspSource}} {{nonce}} {{css}} {{graphviz}} {{core}} {{script}}` (every one is inside an
 * attribute value, escaped as such). An unknown placeholder is an error: the template and this
 * function change together.
 */
export function renderPage(template: string, res: PageResources): string {
    const values: Record<string, string> = { ...res };
    return template.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
        if (!(name in values)) throw new Error(`preview.html: unknown placeholder {{${name}}}`);
        return attr(values[name]);
    });
}
