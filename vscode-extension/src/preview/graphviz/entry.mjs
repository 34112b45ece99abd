// The preview's renderer, exposed as the global `NNGraphviz` by the IIFE bundle (media/graphviz.js):
//   await NNGraphviz.load()   -> Graphviz (WebAssembly inlined: no fetch; the webview's CSP allows
//                                only 'wasm-unsafe-eval'), then .layout(dot, "svg", "dot") -> SVG text
// The same API as nnlang/diagram/js/entry.mjs (the standalone HTML viewer's bundle).
import { Graphviz } from "@hpcc-js/wasm-graphviz";

let loading = null;

export function load() {
    if (!loading) loading = Graphviz.load();
    return loading;
}

export async function render(dot) {
    return (await load()).layout(dot, "svg", "dot");
}

export async function version() {
    return (await load()).version();
}
