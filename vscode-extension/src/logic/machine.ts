/**
 * The real machine for `resolveServer` (node only, no "vscode"): files, PATH, child processes.
 * src/vscodeApi.ts adds the Python extension; tests run this against real interpreters.
 */
import { spawn } from "node:child_process";
import { constants as fsConstants, promises as fs } from "node:fs";
import * as os from "node:os";

import type { ImportCheck, PythonExtensionResult, ResolveEnv } from "./serverResolve";

export async function isExecutableFile(path: string): Promise<boolean> {
    try {
        const st = await fs.stat(path);
        if (!st.isFile()) return false;
        if (process.platform !== "win32") await fs.access(path, fsConstants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/** `<python> -c "import <module>"`: exit status 0 within `timeoutMs`; else the last line of its error. */
export function canImport(python: string, module: string, timeoutMs = 30_000): Promise<ImportCheck> {
    return new Promise((resolve) => {
        let child: ReturnType<typeof spawn>;
        try {
            child = spawn(python, ["-c", `import ${module}`], { stdio: ["ignore", "ignore", "pipe"], windowsHide: true });
        } catch (e) {
            resolve({ ok: false, detail: e instanceof Error ? e.message : String(e) });
            return;
        }
        let stderr = "";
        let done = false;
        const timer = setTimeout(() => {
            child.kill();
            finish({ ok: false, detail: `no answer within ${timeoutMs / 1000} s` });
        }, timeoutMs);
        const finish = (r: ImportCheck) => {
            clearTimeout(timer);
            if (!done) {
                done = true;
                resolve(r);
            }
        };
        child.stderr?.on("data", (b: Buffer) => {
            if (stderr.length < 20_000) stderr += b.toString("utf8");
        });
        child.on("error", (e) => finish({ ok: false, detail: e.message }));
        child.on("close", (code, signal) => {
            if (code === 0) return finish({ ok: true });
            const last = stderr.trim().split(/\r?\n/).pop();
            finish({ ok: false, detail: last || (signal ? `killed by ${signal}` : `exit status ${code}`) });
        });
    });
}

/** The first line of a file (at most 512 bytes), or undefined. */
export async function readFirstLine(path: string): Promise<string | undefined> {
    let handle;
    try {
        handle = await fs.open(path, "r");
        const buf = Buffer.alloc(512);
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        return buf.subarray(0, bytesRead).toString("utf8").split(/\r?\n/)[0];
    } catch {
        return undefined;
    } finally {
        await handle?.close();
    }
}

export function nodeResolveEnv(opts: {
    workspaceFolder?: string | undefined;
    pythonExtensionInterpreter?: () => Promise<PythonExtensionResult>;
    pathEnv?: string | undefined;
} = {}): ResolveEnv {
    return {
        platform: process.platform,
        pathEnv: "pathEnv" in opts ? opts.pathEnv : (process.env["PATH"] ?? process.env["Path"]),
        pathExt: process.env["PATHEXT"],
        home: os.homedir(),
        workspaceFolder: opts.workspaceFolder,
        isExecutableFile,
        canImport: (python, module) => canImport(python, module),
        pythonExtensionInterpreter: opts.pythonExtensionInterpreter ?? (async () => ({ kind: "not-installed" })),
        readFirstLine,
    };
}
