import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { makeNonce, renderPage } from "../../src/preview/html";

const template = fs.readFileSync(path.resolve(__dirname, "../../../media/preview.html"), "utf8");
const res = {
    cspSource: "https://file+.vscode-resource.vscode-cdn.net",
    nonce: "bm9uY2U=",
    css: "https://x/media/preview.css",
    graphviz: "https://x/media/graphviz.js",
    core: "https://x/media/preview-core.js",
    script: "https://x/media/preview.js?a=1&b=2",
};

test("the page has a strict CSP: nonce scripts, WebAssembly, nothing inline", () => {
    const html = renderPage(template, res);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-bm9uY2U=' 'wasm-unsafe-eval';/);
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\s\*/);
    assert.match(csp, /style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net;/);
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    assert.equal(scripts.length, 3);
    for (const s of scripts) assert.match(s, /^<script nonce="bm9uY2U=" src="https:\/\/x\/media\//);
    assert.ok(html.includes('src="https://x/media/preview.js?a=1&amp;b=2"'));
    assert.doesNotMatch(html, /\{\{/);
    assert.doesNotMatch(html, /\son\w+=/); // no inline handlers
});

test("values are escaped as attribute text; an unknown placeholder is an error", () => {
    const html = renderPage('<a href="{{css}}">', { ...res, css: '"><script>x</script>' });
    assert.equal(html, '<a href="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">');
    assert.throws(() => renderPage("{{nope}}", res), /unknown placeholder/);
});

test("nonces are fresh base64", () => {
    const a = makeNonce();
    assert.match(a, /^[A-Za-z0-9+/]{24}$/);
    assert.notEqual(a, makeNonce());
});
