// node src/preview/graphviz/build.mjs  (part of `npm run compile`): bundles @hpcc-js/wasm-graphviz
// (a devDependency pinned to the version nnlang/diagram/js uses) into media/graphviz.js, one
// classic script with the WebAssembly inlined, loaded by the preview page with its nonce.
// No system Graphviz: the webview lays out the DOT itself.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const here = (p) => new URL(p, import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(here("../../../node_modules/@hpcc-js/wasm-graphviz/package.json"), "utf8"));

await build({
    entryPoints: [here("./entry.mjs")],
    outfile: here("../../../media/graphviz.js"),
    bundle: true,
    format: "iife",
    globalName: "NNGraphviz",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "inline",
    banner: {
        js:
            `/* nnlang preview renderer: @hpcc-js/wasm-graphviz ${pkg.version} (Apache-2.0) with Graphviz ` +
            `(EPL-1.0), bundled by src/preview/graphviz/build.mjs. Generated: do not edit. */`,
    },
    logLevel: "warning",
});
