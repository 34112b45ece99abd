/**
 * The thin layer between the testable logic (src/logic/, no "vscode" import) and the machine:
 * VS Code's configuration, the Python extension, the file system and child processes.
 */
import * as vscode from "vscode";

import { nodeResolveEnv } from "./logic/machine";
import type { PythonExtensionResult, ResolveEnv } from "./logic/serverResolve";
import type { ConfigReader } from "./logic/settings";

export const PYTHON_EXTENSION_ID = "ms-python.python";

/** `nnlang.*` settings (of a resource's folder, when given). */
export function configReader(scope?: vscode.ConfigurationScope): ConfigReader {
    const cfg = vscode.workspace.getConfiguration("nnlang", scope);
    return { get: <T>(key: string) => cfg.get<T>(key) };
}

export function workspaceFolderPath(): string | undefined {
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null;
}

function fn(obj: unknown, name: string): ((...args: unknown[]) => unknown) | undefined {
    if (!isRecord(obj)) return undefined;
    const f = obj[name];
    return typeof f === "function" ? (f as (...args: unknown[]) => unknown).bind(obj) : undefined;
}

async function pythonApi(): Promise<unknown | undefined> {
    const ext = vscode.extensions.getExtension(PYTHON_EXTENSION_ID);
    if (ext === undefined) return undefined;
    return ext.isActive ? ext.exports : await ext.activate();
}

/**
 * The Python extension's active interpreter for `resource`: `environments.getActiveEnvironmentPath`,
 * resolved to an executable with `environments.resolveEnvironment` (older versions: the path itself,
 * or `settings.getExecutionDetails().execCommand`).
 */
export async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<PythonExtensionResult> {
    const ext = vscode.extensions.getExtension(PYTHON_EXTENSION_ID);
    if (ext === undefined) return { kind: "not-installed" };
    let api: unknown;
    try {
        api = await pythonApi();
    } catch (e) {
        return { kind: "no-interpreter", detail: `the Python extension did not activate: ${e instanceof Error ? e.message : String(e)}` };
    }
    const environments = isRecord(api) ? api["environments"] : undefined;
    const getActive = fn(environments, "getActiveEnvironmentPath");
    if (getActive !== undefined) {
        const envPath = getActive(resource);
        const path = isRecord(envPath) && typeof envPath["path"] === "string" ? envPath["path"] : undefined;
        const resolveEnv = fn(environments, "resolveEnvironment");
        if (envPath !== undefined && resolveEnv !== undefined) {
            try {
                const resolved = await resolveEnv(envPath);
                const executable = isRecord(resolved) ? resolved["executable"] : undefined;
                const uri = isRecord(executable) ? executable["uri"] : undefined;
                if (uri instanceof vscode.Uri) return { kind: "interpreter", path: uri.fsPath };
                if (isRecord(uri) && typeof uri["fsPath"] === "string") return { kind: "interpreter", path: uri["fsPath"] };
            } catch {
                // fall back to the path
            }
        }
        if (path) return { kind: "interpreter", path };
    }
    const details = fn(isRecord(api) ? api["settings"] : undefined, "getExecutionDetails")?.(resource);
    const exec = isRecord(details) ? details["execCommand"] : undefined;
    if (Array.isArray(exec) && typeof exec[0] === "string" && exec[0]) return { kind: "interpreter", path: exec[0] };
    return { kind: "no-interpreter" };
}

/** Fires when the Python extension's interpreter changes (nothing when it is not installed). */
export async function onPythonInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
    try {
        const api = await pythonApi();
        const environments = isRecord(api) ? api["environments"] : undefined;
        const event = isRecord(environments) ? environments["onDidChangeActiveEnvironmentPath"] : undefined;
        if (typeof event !== "function") return undefined;
        const d = (event as (l: () => void) => unknown)(listener);
        return isRecord(d) && typeof d["dispose"] === "function" ? (d as unknown as vscode.Disposable) : undefined;
    } catch {
        return undefined;
    }
}

/** The real machine, for `resolveServer`. */
export function resolveEnv(resource?: vscode.Uri): ResolveEnv {
    return nodeResolveEnv({
        workspaceFolder: workspaceFolderPath(),
        pythonExtensionInterpreter: () => pythonExtensionInterpreter(resource),
    });
}
