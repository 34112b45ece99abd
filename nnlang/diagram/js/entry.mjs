// The renderer's whole API, exposed as the global `NNGraphviz` by the IIFE bundle:
//   await NNGraphviz.load()         -> loads the WebAssembly once (inlined: no fetch, works from file://)
//   await NNGraphviz.render(dot)    -> SVG text
// Kept free of anything page-specific so the VS Code webview can load the same file.
import { Graphviz } from "@hpcc-js/wasm-graphviz";

let loading = null;

export function load() {
  if (!loading) loading = Graphviz.load();
  return loading;
}

export async function render(dot) {
  const graphviz = await load();
  return graphviz.layout(dot, "svg", "dot");
}

export async function version() {
  return (await load()).version();
}
