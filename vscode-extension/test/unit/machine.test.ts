// The resolver on the real machine: real processes, files and PATH (a temporary directory).
// The interpreter with nnlang[lsp]: $NNLANG_TEST_PYTHON, else the project's .venv (make setup).
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";

import { canImport, isExecutableFile, nodeResolveEnv, readFirstLine } from "../../src/logic/machine";
import { CHECK_IMPORT, resolveServer } from "../../src/logic/serverResolve";

const root = resolve(__dirname, "..", "..", "..", "..");
const venvPython = process.env["NNLANG_TEST_PYTHON"] ?? join(root, ".venv", "bin", "python");
const haveVenv = process.platform !== "win32" && existsSync(venvPython);
const skipVenv = haveVenv ? false : `no Python with nnlang[lsp] (${venvPython}; run make setup)`;
const posixOnly = process.platform === "win32" ? "POSIX scripts" : false;

const dir = mkdtempSync(join(tmpdir(), "nnlang-ext-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, text: string, mode = 0o755): string {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
}

describe("the machine", { skip: posixOnly }, () => {
    it("isExecutableFile / readFirstLine", async () => {
        const exe = script("exe", "#!/bin/sh\nexit 0\n");
        const plain = script("plain.txt", "text\n", 0o644);
        assert.equal(await isExecutableFile(exe), true);
        assert.equal(await isExecutableFile(plain), false);
        assert.equal(await isExecutableFile(dir), false);
        assert.equal(await isExecutableFile(join(dir, "missing")), false);
        assert.equal(await readFirstLine(exe), "#!/bin/sh");
        assert.equal(await readFirstLine(join(dir, "missing")), undefined);
    });

    it("canImport reports the last line of the error, or why it did not start", async () => {
        const bad = script("badpython", "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'pygls'\" >&2\nexit 1\n");
        assert.deepEqual(await canImport(bad, CHECK_IMPORT), { ok: false, detail: "ModuleNotFoundError: No module named 'pygls'" });
        const missing = await canImport(join(dir, "nope"), CHECK_IMPORT);
        assert.equal(missing.ok, false);
        assert.match(missing.detail ?? "", /ENOENT/);
        const slow = script("slowpython", "#!/bin/sh\nsleep 5\n");
        assert.deepEqual(await canImport(slow, CHECK_IMPORT, 200), { ok: false, detail: "no answer within 0.2 s" });
        const good = script("goodpython", "#!/bin/sh\nexit 0\n");
        assert.deepEqual(await canImport(good, CHECK_IMPORT), { ok: true });
    });

    it("canImport with a real interpreter", { skip: skipVenv }, async () => {
        assert.deepEqual(await canImport(venvPython, CHECK_IMPORT), { ok: true });
        const r = await canImport(venvPython, "nnlang_no_such_module");
        assert.match(r.detail ?? "", /No module named 'nnlang_no_such_module'/);
    });

    it("resolves nnlang.server.pythonPath to <python> -m nnlang_lsp", { skip: skipVenv }, async () => {
        const r = await resolveServer({ pythonPath: venvPython }, nodeResolveEnv({ pathEnv: "" }));
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.command, venvPython);
        assert.deepEqual(r.args, ["-m", "nnlang_lsp"]);
    });

    it("resolves `nnlang lsp` on PATH, checking its #! interpreter", { skip: skipVenv }, async () => {
        const bin = join(dir, "bin");
        mkdirSync(bin);
        const nnlang = join(bin, "nnlang");
        writeFileSync(nnlang, `#!${venvPython}\nfrom nnlang.cli import main\nraise SystemExit(main())\n`);
        chmodSync(nnlang, 0o755);
        const ok = await resolveServer({}, nodeResolveEnv({ pathEnv: bin }));
        assert.ok(ok.ok, JSON.stringify(ok));
        assert.equal(ok.source, "PATH");
        assert.equal(ok.command, nnlang);

        mkdirSync(join(dir, "badenv"));
        const badPython = script(join("badenv", "python3"), "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'pygls'\" >&2\nexit 1\n");
        writeFileSync(nnlang, `#!${badPython}\n`);
        const bad = await resolveServer({}, nodeResolveEnv({ pathEnv: bin }));
        assert.equal(bad.ok, false);
        assert.ok(!bad.ok && bad.message.includes("No module named 'pygls'"), !bad.ok ? bad.message : "");
        assert.ok(!bad.ok && bad.message.includes("pip install '/path/to/nnlang[lsp]'"));
    });

    it("nothing on an empty PATH: the message says how to install", async () => {
        const r = await resolveServer({ pythonPath: join(dir, "nope") }, nodeResolveEnv({ pathEnv: "" }));
        assert.equal(r.ok, false);
        assert.ok(!r.ok && r.message.startsWith("nnlang: the language server was not found. Install it with `pip install '/path/to/nnlang[lsp]'`"), !r.ok ? r.message : "");
    });
});
