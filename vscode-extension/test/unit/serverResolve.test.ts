import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    attemptsReport, CHECK_IMPORT, commandArgv, expandPath, INSTALL_COMMAND, notFoundMessage,
    type PythonExtensionResult, type ResolveEnv, resolveServer, shebangPython, splitCommand, which,
} from "../../src/logic/serverResolve";

interface FakeMachine {
    /** Executable files. */
    files?: string[];
    /** Pythons that can import nnlang_lsp.server (others fail with "No module named 'pygls'"). */
    good?: string[];
    /** First lines of files (for `#!`). */
    firstLines?: Record<string, string>;
    pythonExtension?: PythonExtensionResult;
    path?: string;
    platform?: NodeJS.Platform;
}

function fakeEnv(m: FakeMachine): ResolveEnv & { imports: string[] } {
    const files = new Set(m.files ?? []);
    const imports: string[] = [];
    return {
        imports,
        platform: m.platform ?? "linux",
        pathEnv: m.path ?? "/usr/local/bin:/usr/bin",
        home: "/home/u",
        workspaceFolder: "/ws",
        isExecutableFile: async (p) => files.has(p),
        canImport: async (python, module) => {
            imports.push(`${python} ${module}`);
            return (m.good ?? []).includes(python) ? { ok: true } : { ok: false, detail: "ModuleNotFoundError: No module named 'pygls'" };
        },
        pythonExtensionInterpreter: async () => m.pythonExtension ?? { kind: "not-installed" },
        readFirstLine: async (p) => m.firstLines?.[p],
    };
}

describe("splitCommand / commandArgv", () => {
    it("splits at spaces, keeps quoted spaces and escapes", () => {
        assert.deepEqual(splitCommand("nnlang lsp"), ["nnlang", "lsp"]);
        assert.deepEqual(splitCommand("  '/opt/my env/bin/python'  -m nnlang_lsp "), ["/opt/my env/bin/python", "-m", "nnlang_lsp"]);
        assert.deepEqual(splitCommand('"/a b/python" -m x'), ["/a b/python", "-m", "x"]);
        assert.deepEqual(splitCommand("/a\\ b/python -m x"), ["/a b/python", "-m", "x"]);
        assert.deepEqual(splitCommand('--log-file ""'), ["--log-file", ""]);
        assert.deepEqual(splitCommand("C:\\py\\python.exe -m nnlang_lsp", "win32"), ["C:\\py\\python.exe", "-m", "nnlang_lsp"]);
        assert.deepEqual(splitCommand(""), []);
    });
    it("takes an array as it is and empty as nothing", () => {
        assert.deepEqual(commandArgv(["/x/python", "-m", "nnlang_lsp"]), ["/x/python", "-m", "nnlang_lsp"]);
        assert.deepEqual(commandArgv([]), []);
        assert.deepEqual(commandArgv(null), []);
        assert.deepEqual(commandArgv("   "), []);
    });
});

describe("expandPath / which / shebangPython", () => {
    const env = fakeEnv({ files: ["/usr/bin/nnlang", "/ws/.venv/bin/python"] });
    it("expands ~, ${workspaceFolder} and workspace-relative paths", () => {
        assert.equal(expandPath("~/venv/bin/python", env), "/home/u/venv/bin/python");
        assert.equal(expandPath("${workspaceFolder}/.venv/bin/python", env), "/ws/.venv/bin/python");
        assert.equal(expandPath(".venv/bin/python", env), "/ws/.venv/bin/python");
        assert.equal(expandPath("./.venv/bin/python", env), "/ws/.venv/bin/python");
        assert.equal(expandPath("python3", env), "python3");
        assert.equal(expandPath("/abs/python", env), "/abs/python");
    });
    it("looks names up in PATH and paths as they are", async () => {
        assert.equal(await which("nnlang", env), "/usr/bin/nnlang");
        assert.equal(await which("nope", env), undefined);
        assert.equal(await which(".venv/bin/python", env), "/ws/.venv/bin/python");
    });
    it("tries PATHEXT on Windows", async () => {
        const win = fakeEnv({ platform: "win32", path: "C:\\Py\\Scripts;C:\\Windows", files: ["C:\\Py\\Scripts\\nnlang.exe"] });
        win.pathExt = ".COM;.EXE";
        assert.equal(await which("nnlang", win), "C:\\Py\\Scripts\\nnlang.exe");
    });
    it("reads the Python of a #! line", () => {
        assert.equal(shebangPython("#!/home/u/.venv/bin/python3"), "/home/u/.venv/bin/python3");
        assert.equal(shebangPython("#!/usr/bin/env python3.11"), "python3.11");
        assert.equal(shebangPython("#!/usr/bin/env -S python3 -E"), "python3");
        assert.equal(shebangPython("#!/bin/sh"), undefined);
        assert.equal(shebangPython("MZ\u0090"), undefined);
        assert.equal(shebangPython(undefined), undefined);
    });
});

describe("resolveServer: the order", () => {
    const everything: FakeMachine = {
        files: ["/cmd/server", "/set/python", "/ext/python", "/usr/bin/nnlang", "/usr/bin/python3"],
        good: ["/set/python", "/ext/python", "/usr/bin/python3"],
        firstLines: { "/usr/bin/nnlang": "#!/usr/bin/python3" },
        pythonExtension: { kind: "interpreter", path: "/ext/python" },
    };

    it("1. nnlang.server.command first (checked for existence only)", async () => {
        const r = await resolveServer({ command: ["/cmd/server", "--stdio"], pythonPath: "/set/python" }, fakeEnv(everything));
        assert.ok(r.ok);
        assert.equal(r.source, "server.command");
        assert.equal(r.command, "/cmd/server");
        assert.deepEqual(r.args, ["--stdio"]);
    });

    it("1. a string command is split and its program found on PATH", async () => {
        const r = await resolveServer({ command: "nnlang lsp --log-file ~/nnlang.log" }, fakeEnv(everything));
        assert.ok(r.ok);
        assert.equal(r.command, "/usr/bin/nnlang");
        assert.deepEqual(r.args, ["lsp", "--log-file", "/home/u/nnlang.log"]);
    });

    it("2. nnlang.server.pythonPath runs -m nnlang_lsp after an import check", async () => {
        const env = fakeEnv(everything);
        const r = await resolveServer({ command: [], pythonPath: "/set/python" }, env);
        assert.ok(r.ok);
        assert.equal(r.source, "server.pythonPath");
        assert.equal(r.command, "/set/python");
        assert.deepEqual(r.args, ["-m", "nnlang_lsp"]);
        assert.deepEqual(env.imports, [`/set/python ${CHECK_IMPORT}`]);
    });

    it("3. the Python extension's interpreter next", async () => {
        const r = await resolveServer({}, fakeEnv(everything));
        assert.ok(r.ok);
        assert.equal(r.source, "python-extension");
        assert.equal(r.command, "/ext/python");
        assert.deepEqual(r.args, ["-m", "nnlang_lsp"]);
        assert.deepEqual(r.attempts.map((a) => [a.source, a.ok, a.skipped ?? false]), [
            ["server.command", false, true], ["server.pythonPath", false, true], ["python-extension", true, false]]);
    });

    it("4. nnlang lsp on PATH last", async () => {
        const r = await resolveServer({}, fakeEnv({ ...everything, pythonExtension: { kind: "not-installed" } }));
        assert.ok(r.ok);
        assert.equal(r.source, "PATH");
        assert.equal(r.command, "/usr/bin/nnlang");
        assert.deepEqual(r.args, ["lsp"]);
    });

    it("falls through a failing candidate to the next, saying why", async () => {
        const env = fakeEnv({ ...everything, good: ["/usr/bin/python3"] }); // /set/python and /ext/python lack pygls
        const r = await resolveServer({ command: ["/missing/server"], pythonPath: "/set/python" }, env);
        assert.ok(r.ok);
        assert.equal(r.source, "PATH");
        const [cmd, py, ext] = r.attempts;
        assert.match(cmd!.reason!, /\/missing\/server does not exist/);
        assert.match(py!.reason!, /cannot import nnlang_lsp\.server \(ModuleNotFoundError: No module named 'pygls'\)/);
        assert.match(py!.reason!, /\/set\/python -m pip install '\/path\/to\/nnlang\[lsp\]'/);
        assert.equal(ext!.ok, false);
        assert.equal(ext!.skipped, undefined);
    });

    it("rejects nnlang on PATH whose Python cannot import the server", async () => {
        const r = await resolveServer({}, fakeEnv({ files: ["/usr/bin/nnlang"], firstLines: { "/usr/bin/nnlang": "#!/usr/bin/python3" } }));
        assert.equal(r.ok, false);
        assert.match(r.attempts[3]!.reason!, /its Python \(\/usr\/bin\/python3\) cannot import/);
    });

    it("accepts nnlang on PATH without a #! line (a Windows .exe launcher)", async () => {
        const r = await resolveServer({}, fakeEnv({ files: ["/usr/bin/nnlang"] }));
        assert.ok(r.ok);
        assert.equal(r.source, "PATH");
    });

    it("a Python extension without an interpreter, or that throws, is a failed candidate", async () => {
        const r1 = await resolveServer({}, fakeEnv({ pythonExtension: { kind: "no-interpreter" } }));
        assert.equal(r1.ok, false);
        assert.match(r1.attempts[2]!.reason!, /no interpreter is selected/);
        const env = fakeEnv({});
        env.pythonExtensionInterpreter = async () => { throw new Error("boom"); };
        const r2 = await resolveServer({}, env);
        assert.match(r2.attempts[2]!.reason!, /boom/);
    });

    it("a pythonPath given as a name is looked up in PATH", async () => {
        const r = await resolveServer({ pythonPath: "python3" }, fakeEnv(everything));
        assert.ok(r.ok);
        assert.equal(r.command, "/usr/bin/python3");
    });

    it("none found: a clear message with the install command and every failure", async () => {
        const r = await resolveServer({ pythonPath: "/nope/python" }, fakeEnv({}));
        assert.equal(r.ok, false);
        assert.ok(!r.ok && r.message.includes(INSTALL_COMMAND));
        assert.ok(!r.ok && r.message.includes("/nope/python -m nnlang_lsp (/nope/python does not exist or is not executable)"));
        assert.ok(!r.ok && r.message.includes("nnlang was not found on PATH"));
        assert.ok(!r.ok && !r.message.includes("not installed"), "skipped candidates are not failures");
        const report = attemptsReport(r.attempts);
        assert.equal(report.split("\n").length, 4);
        assert.match(report, /3\. \[python-extension\] .*skipped \(the Python extension \(ms-python\.python\) is not installed\)/);
    });

    it("notFoundMessage without any tried candidate still says how to install", () => {
        assert.match(notFoundMessage([]), /pip install '\/path\/to\/nnlang\[lsp\]'/);
    });
});
