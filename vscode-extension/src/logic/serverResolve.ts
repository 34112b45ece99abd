/**
 * Finding the language server. Pure logic: everything it asks of the machine goes through
 * `ResolveEnv`, so tests run it with a fake file system, PATH and Python extension.
 *
 * The order (the first candidate that passes its check wins):
 *   1. `nnlang.server.command` (array, or a string split at spaces): its program must exist
 *      (a path, or a name found on PATH);
 *   2. `nnlang.server.pythonPath`: `<python> -m nnlang_lsp`, when `<python> -c "import nnlang_lsp.server"`
 *      succeeds (the server's package and pygls are installed there);
 *   3. the Python extension's active interpreter (ms-python.python, when installed): the same way;
 *   4. `nnlang lsp`, with `nnlang` found on PATH (when its script names its Python in a `#!` line, that
 *      Python must import nnlang_lsp.server too).
 * When none passes, the error names each candidate and why it failed, and the install command.
 */

// nnlang is not on a package index: the command names a checkout (or a wheel built there by `make dist`).
export const INSTALL_COMMAND = "pip install '/path/to/nnlang[lsp]'";
export const SERVER_MODULE = "nnlang_lsp";
/** What a Python must be able to import to run the server (the package and pygls). */
export const CHECK_IMPORT = "nnlang_lsp.server";

export type ServerSource = "server.command" | "server.pythonPath" | "python-extension" | "PATH";

export interface ResolveSettings {
    /** `nnlang.server.command`: array, string, or empty/undefined. */
    command?: string | readonly string[] | null;
    /** `nnlang.server.pythonPath`. */
    pythonPath?: string | null;
}

export interface ImportCheck {
    ok: boolean;
    /** Why not (the last line of the error, or what failed to start). */
    detail?: string;
}

/** What the Python extension reported. */
export type PythonExtensionResult =
    | { kind: "not-installed" }
    | { kind: "no-interpreter"; detail?: string }
    | { kind: "interpreter"; path: string };

export interface ResolveEnv {
    platform: NodeJS.Platform;
    /** The PATH variable (and PATHEXT on Windows). */
    pathEnv: string | undefined;
    pathExt?: string | undefined;
    /** The user's home directory (for `~`). */
    home?: string | undefined;
    /** The first workspace folder (for `${workspaceFolder}` and relative paths). */
    workspaceFolder?: string | undefined;
    /** An existing file that may be executed. */
    isExecutableFile(path: string): Promise<boolean>;
    /** Run `<python> -c "import <module>"`. */
    canImport(python: string, module: string): Promise<ImportCheck>;
    /** The Python extension's active interpreter. */
    pythonExtensionInterpreter(): Promise<PythonExtensionResult>;
    /** The first line of a file (for a script's `#!` line); undefined when it cannot be read. */
    readFirstLine?(path: string): Promise<string | undefined>;
}

export interface Attempt {
    source: ServerSource;
    /** What was tried, for people (`/usr/bin/python3 -m nnlang_lsp`). */
    description: string;
    ok: boolean;
    /** Why it was not taken. */
    reason?: string;
    /** Skipped: the setting is empty / the extension is not installed (not a failure). */
    skipped?: boolean;
}

export type Resolution =
    | { ok: true; command: string; args: string[]; source: ServerSource; attempts: Attempt[] }
    | { ok: false; attempts: Attempt[]; message: string };

/** Split a command line at spaces; "double" or 'single' quotes keep spaces; a backslash escapes
 * the next character outside single quotes (except on Windows, where it is a path separator). */
export function splitCommand(line: string, platform: NodeJS.Platform = "linux"): string[] {
    const out: string[] = [];
    let cur = "";
    let has = false;
    let quote: '"' | "'" | null = null;
    for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (quote) {
            if (c === quote) quote = null;
            else if (c === "\\" && quote === '"' && platform !== "win32" && i + 1 < line.length) cur += line[++i];
            else cur += c;
        } else if (c === '"' || c === "'") {
            quote = c;
            has = true;
        } else if (c === "\\" && platform !== "win32" && i + 1 < line.length) {
            cur += line[++i];
            has = true;
        } else if (/\s/.test(c)) {
            if (has) out.push(cur);
            cur = "";
            has = false;
        } else {
            cur += c;
            has = true;
        }
    }
    if (has) out.push(cur);
    return out;
}

/** The command setting as argv ([] when empty). */
export function commandArgv(command: ResolveSettings["command"], platform: NodeJS.Platform = "linux"): string[] {
    if (command == null) return [];
    if (typeof command === "string") return splitCommand(command.trim(), platform);
    return command.filter((a) => typeof a === "string").map((a) => a);
}

function sep(platform: NodeJS.Platform): string {
    return platform === "win32" ? "\\" : "/";
}

function isAbsolute(p: string, platform: NodeJS.Platform): boolean {
    if (platform === "win32") return /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\") || p.startsWith("/");
    return p.startsWith("/");
}

function hasSeparator(p: string, platform: NodeJS.Platform): boolean {
    return p.includes("/") || (platform === "win32" && p.includes("\\"));
}

function join(a: string, b: string, platform: NodeJS.Platform): string {
    const s = sep(platform);
    return a.endsWith("/") || a.endsWith(s) ? a + b : a + s + b;
}

/** `~`, `${workspaceFolder}`, `${userHome}` and `${env:NAME}`-free expansion of a path setting;
 * a relative path with a separator is taken from the workspace folder. */
export function expandPath(p: string, env: Pick<ResolveEnv, "platform" | "home" | "workspaceFolder">): string {
    let out = p.trim();
    if (env.workspaceFolder !== undefined) out = out.split("${workspaceFolder}").join(env.workspaceFolder);
    if (env.home !== undefined) {
        out = out.split("${userHome}").join(env.home);
        if (out === "~") out = env.home;
        else if (out.startsWith("~/") || (env.platform === "win32" && out.startsWith("~\\"))) out = join(env.home, out.slice(2), env.platform);
    }
    if (!isAbsolute(out, env.platform) && hasSeparator(out, env.platform) && env.workspaceFolder !== undefined) {
        out = join(env.workspaceFolder, out.replace(/^\.[\\/]/, ""), env.platform);
    }
    return out;
}

/** Find a program: a path (checked as it is) or a name looked up in PATH (with PATHEXT on Windows). */
export async function which(name: string, env: ResolveEnv): Promise<string | undefined> {
    if (!name) return undefined;
    if (isAbsolute(name, env.platform) || hasSeparator(name, env.platform)) {
        const p = expandPath(name, env);
        return (await env.isExecutableFile(p)) ? p : undefined;
    }
    const dirs = (env.pathEnv ?? "").split(env.platform === "win32" ? ";" : ":").filter((d) => d.length > 0);
    const exts = env.platform === "win32"
        ? ["", ...(env.pathExt ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((e) => e.length > 0).map((e) => e.toLowerCase())]
        : [""];
    for (const dir of dirs) {
        for (const ext of exts) {
            const p = join(dir, name + ext, env.platform);
            if (await env.isExecutableFile(p)) return p;
        }
    }
    return undefined;
}

/** The interpreter of a `#!` line (`#!/usr/bin/python3` or `#!/usr/bin/env python3`), when it is a Python. */
export function shebangPython(line: string | undefined): string | undefined {
    if (!line || !line.startsWith("#!")) return undefined;
    const words = line.slice(2).trim().split(/\s+/);
    let prog: string | undefined = words[0];
    if (prog && /(^|\/)env$/.test(prog)) prog = words.slice(1).find((w) => !w.startsWith("-"));
    if (!prog || !/python[0-9.]*$/i.test(prog.split("/").pop() ?? "")) return undefined;
    return prog;
}

function quoteArg(a: string): string {
    return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function describe(command: string, args: readonly string[]): string {
    return [command, ...args].map(quoteArg).join(" ");
}

async function checkPython(python: string, env: ResolveEnv): Promise<{ ok: true; path: string } | { ok: false; reason: string }> {
    const path = hasSeparator(python, env.platform) || isAbsolute(python, env.platform)
        ? expandPath(python, env)
        : await which(python, env);
    if (path === undefined) return { ok: false, reason: `${python} was not found on PATH` };
    if (!(await env.isExecutableFile(path))) return { ok: false, reason: `${path} does not exist or is not executable` };
    const check = await env.canImport(path, CHECK_IMPORT);
    if (!check.ok) {
        return { ok: false, reason: `it cannot import ${CHECK_IMPORT}${check.detail ? ` (${check.detail})` : ""}; install it with: ${quoteArg(path)} -m ${INSTALL_COMMAND}` };
    }
    return { ok: true, path };
}

export async function resolveServer(settings: ResolveSettings, env: ResolveEnv): Promise<Resolution> {
    const attempts: Attempt[] = [];

    // 1. nnlang.server.command
    const argv = commandArgv(settings.command, env.platform);
    if (argv.length === 0) {
        attempts.push({ source: "server.command", description: "nnlang.server.command", ok: false, skipped: true, reason: "not set" });
    } else {
        const [prog, ...args] = argv as [string, ...string[]];
        const found = await which(prog, env);
        const description = describe(prog, args);
        if (found === undefined) {
            attempts.push({ source: "server.command", description, ok: false, reason: hasSeparator(prog, env.platform) ? `${expandPath(prog, env)} does not exist or is not executable` : `${prog} was not found on PATH` });
        } else {
            const expanded = args.map((a) => (a.includes("${workspaceFolder}") || a.startsWith("~") ? expandPath(a, env) : a));
            attempts.push({ source: "server.command", description: describe(found, expanded), ok: true });
            return { ok: true, command: found, args: expanded, source: "server.command", attempts };
        }
    }

    // 2. nnlang.server.pythonPath
    const pythonPath = (settings.pythonPath ?? "").trim();
    if (!pythonPath) {
        attempts.push({ source: "server.pythonPath", description: "nnlang.server.pythonPath", ok: false, skipped: true, reason: "not set" });
    } else {
        const r = await checkPython(pythonPath, env);
        const description = describe(r.ok ? r.path : pythonPath, ["-m", SERVER_MODULE]);
        if (r.ok) {
            attempts.push({ source: "server.pythonPath", description, ok: true });
            return { ok: true, command: r.path, args: ["-m", SERVER_MODULE], source: "server.pythonPath", attempts };
        }
        attempts.push({ source: "server.pythonPath", description, ok: false, reason: r.reason });
    }

    // 3. the Python extension's interpreter
    let ext: PythonExtensionResult;
    try {
        ext = await env.pythonExtensionInterpreter();
    } catch (e) {
        ext = { kind: "no-interpreter", detail: e instanceof Error ? e.message : String(e) };
    }
    if (ext.kind === "not-installed") {
        attempts.push({ source: "python-extension", description: "the Python extension's interpreter", ok: false, skipped: true, reason: "the Python extension (ms-python.python) is not installed" });
    } else if (ext.kind === "no-interpreter") {
        attempts.push({ source: "python-extension", description: "the Python extension's interpreter", ok: false, reason: `no interpreter is selected${ext.detail ? ` (${ext.detail})` : ""}` });
    } else {
        const r = await checkPython(ext.path, env);
        const description = describe(r.ok ? r.path : ext.path, ["-m", SERVER_MODULE]);
        if (r.ok) {
            attempts.push({ source: "python-extension", description, ok: true });
            return { ok: true, command: r.path, args: ["-m", SERVER_MODULE], source: "python-extension", attempts };
        }
        attempts.push({ source: "python-extension", description, ok: false, reason: r.reason });
    }

    // 4. nnlang on PATH
    const nnlang = await which("nnlang", env);
    if (nnlang === undefined) {
        attempts.push({ source: "PATH", description: "nnlang lsp", ok: false, reason: "nnlang was not found on PATH" });
    } else {
        const python = env.readFirstLine ? shebangPython(await env.readFirstLine(nnlang)) : undefined;
        const check = python ? await env.canImport(python, CHECK_IMPORT) : { ok: true };
        const description = describe(nnlang, ["lsp"]);
        if (check.ok) {
            attempts.push({ source: "PATH", description, ok: true });
            return { ok: true, command: nnlang, args: ["lsp"], source: "PATH", attempts };
        }
        attempts.push({ source: "PATH", description, ok: false, reason: `its Python (${python}) cannot import ${CHECK_IMPORT}${check.detail ? ` (${check.detail})` : ""}; install it with: ${quoteArg(python!)} -m ${INSTALL_COMMAND}` });
    }

    return { ok: false, attempts, message: notFoundMessage(attempts) };
}

/** The one-line message of the error notification. */
export function notFoundMessage(attempts: readonly Attempt[]): string {
    const failed = attempts.filter((a) => !a.ok && !a.skipped);
    const why = failed.length > 0 ? ` Tried: ${failed.map((a) => `${a.description} (${a.reason})`).join("; ")}.` : "";
    return `nnlang: the language server was not found. Install it with \`${INSTALL_COMMAND}\` in your Python environment, `
        + `or set nnlang.server.pythonPath / nnlang.server.command.${why}`;
}

/** Every candidate, one per line, for the log. */
export function attemptsReport(attempts: readonly Attempt[]): string {
    return attempts.map((a, i) => `  ${i + 1}. [${a.source}] ${a.description}: ${a.ok ? "OK" : a.skipped ? `skipped (${a.reason})` : `failed: ${a.reason}`}`).join("\n");
}
