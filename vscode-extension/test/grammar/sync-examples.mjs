// The grammar's snapshot tests run on copies of ../examples/*.nns and ../nnlang/std/*.nns
// (vscode-tmgrammar-snap writes each .snap beside its file). This copies them here;
// `--check` fails when a copy differs from its original (then: npm run snapshots:update, and
// review the .snap diff).
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const dest = join(here, "snapshots");
const sources = [
    [join(root, "examples"), ""],
    [join(root, "nnlang", "std"), "std-"],
];
const check = process.argv.includes("--check");

const wanted = new Map();
for (const [dir, prefix] of sources) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".nns")).sort()) {
        wanted.set(prefix + name, readFileSync(join(dir, name), "utf8"));
    }
}
const problems = [];
for (const [name, text] of wanted) {
    const path = join(dest, name);
    const have = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (have === text) continue;
    if (check) problems.push(`${name}: ${have === undefined ? "missing" : "differs from its original"}`);
    else writeFileSync(path, text);
}
for (const name of readdirSync(dest)) {
    const base = name.replace(/\.snap$/, "");
    if (base.endsWith(".nns") && !wanted.has(base)) {
        if (check) problems.push(`${name}: its original is gone`);
        else unlinkSync(join(dest, name));
    }
}
if (problems.length > 0) {
    console.error(`grammar snapshots are out of date (run: npm run snapshots:update):\n  ${problems.join("\n  ")}`);
    process.exit(1);
}
console.log(`${wanted.size} example files ${check ? "match their snapshot copies" : "copied"}`);
