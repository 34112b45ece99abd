// npm ci && node build.mjs  (run by `make diagram-assets`): one IIFE script, no external files.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./node_modules/@hpcc-js/wasm-graphviz/package.json", import.meta.url)));

await build({
  entryPoints: [new URL("./entry.mjs", import.meta.url).pathname],
  outfile: new URL("../assets/graphviz.js", import.meta.url).pathname,
  bundle: true,
  format: "iife",
  globalName: "NNGraphviz",
  platform: "browser",
  target: "es2020",
  minify: true,
  legalComments: "inline",
  banner: {
    js: `/* nnlang diagram renderer: @hpcc-js/wasm-graphviz ${pkg.version} (Apache-2.0) with Graphviz ` +
        `(EPL-1.0), bundled by nnlang/diagram/js/build.mjs. Generated: do not edit. */`,
  },
  logLevel: "warning",
});
