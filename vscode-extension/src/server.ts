/**
 * The language client's life: find the server (logic/serverResolve.ts), start it, restart it when a
 * server setting or the Python interpreter changes, send the settings, and tell the rest of the
 * extension when a document was analysed.
 */
import * as vscode from "vscode";
import {
    type CancellationToken,
    DidChangeConfigurationNotification,
    LanguageClient,
    type LanguageClientOptions,
    type ServerOptions,
    State,
    TransportKind,
} from "vscode-languageclient/node";

import { attemptsReport, INSTALL_COMMAND, type Resolution, resolveServer } from "./logic/serverResolve";
import { didChangeConfigurationParams, initializationOptions, resolveSettings } from "./logic/settings";
import { configReader, resolveEnv, workspaceFolderPath } from "./vscodeApi";

export type ServerState = "starting" | "running" | "stopped" | { failed: string };

export class ServerController implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private resolution: Resolution | undefined;
    /** The current start (or restart): requests wait for it. */
    private starting: Promise<void> = Promise.resolve();
    private failure: string | undefined;
    private disposed = false;
    private readonly analysed = new vscode.EventEmitter<vscode.Uri>();
    private readonly state = new vscode.EventEmitter<ServerState>();

    /** A document's diagnostics were published (its analysis is done); also every open nns document when the server starts. */
    readonly onDidAnalyse = this.analysed.event;
    readonly onDidChangeState = this.state.event;

    constructor(private readonly output: vscode.LogOutputChannel) {}

    log(message: string, level: "info" | "warn" | "error" = "info"): void {
        this.output[level](message);
    }

    /** Where the server came from ("server.pythonPath", "python-extension", ...), when it was found. */
    get source(): string | undefined {
        return this.resolution?.ok ? this.resolution.source : undefined;
    }

    get running(): boolean {
        return this.client?.state === State.Running;
    }

    start(): Promise<void> {
        this.starting = this.starting.then(() => this.doStart(), () => this.doStart());
        return this.starting;
    }

    restart(): Promise<void> {
        this.starting = this.starting.then(() => this.doRestart(), () => this.doRestart());
        return this.starting;
    }

    private async doRestart(): Promise<void> {
        await this.doStop();
        await this.doStart();
    }

    private async doStop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client === undefined) return;
        try {
            await client.stop(3000);
        } catch (e) {
            this.log(`stopping the server: ${e instanceof Error ? e.message : String(e)}`);
        }
        try {
            await client.dispose(1000);
        } catch {
            // already stopped
        }
    }

    private async doStart(): Promise<void> {
        if (this.disposed) return;
        this.failure = undefined;
        this.state.fire("starting");
        const resource = vscode.window.activeTextEditor?.document.uri;
        const resolution = await resolveServer(resolveSettings(configReader(resource)), resolveEnv(resource));
        this.resolution = resolution;
        this.log(`looking for the language server:\n${attemptsReport(resolution.attempts)}`);
        if (!resolution.ok) {
            this.fail(resolution.message, true);
            return;
        }
        this.log(`starting ${resolution.attempts[resolution.attempts.length - 1]?.description} (from ${resolution.source})`);

        const serverOptions: ServerOptions = {
            command: resolution.command,
            args: resolution.args,
            transport: TransportKind.stdio,
            options: { cwd: workspaceFolderPath(), env: { ...process.env, PYTHONUNBUFFERED: "1" } },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [{ language: "nns", scheme: "file" }, { language: "nns", scheme: "untitled" }],
            outputChannel: this.output,
            traceOutputChannel: this.output,
            initializationOptions: initializationOptions(configReader()),
            middleware: {
                handleDiagnostics: (uri, diagnostics, next) => {
                    next(uri, diagnostics);
                    this.analysed.fire(uri);
                },
            },
        };
        const client = new LanguageClient("nnlang", "nnlang language server", serverOptions, clientOptions);
        this.client = client;
        client.onDidChangeState((e) => {
            if (this.client !== client) return;
            if (e.newState === State.Running) this.state.fire("running");
            else if (e.newState === State.Stopped) this.state.fire(this.failure ? { failed: this.failure } : "stopped");
        });
        try {
            await client.start();
        } catch (e) {
            if (this.client === client) {
                this.client = undefined;
                this.fail(`nnlang: the language server (${resolution.attempts[resolution.attempts.length - 1]?.description}) did not start: `
                    + `${e instanceof Error ? e.message : String(e)}. ${INSTALL_COMMAND} installs it.`, false);
                try {
                    await client.dispose(1000);
                } catch {
                    // never started
                }
            }
            return;
        }
        // Documents opened before the server ran are analysed now: tell the listeners once it has.
        for (const doc of vscode.workspace.textDocuments) {
            if (doc.languageId === "nns") this.analysed.fire(doc.uri);
        }
    }

    private fail(message: string, offerInstall: boolean): void {
        this.failure = message;
        this.log(message, "error");
        this.state.fire({ failed: message });
        const actions = offerInstall ? ["Copy Install Command", "Open Settings", "Show Logs"] : ["Show Logs", "Open Settings"];
        void vscode.window.showErrorMessage(message, ...actions).then((choice) => {
            if (choice === "Copy Install Command") void vscode.env.clipboard.writeText(INSTALL_COMMAND);
            else if (choice === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", "nnlang.server");
            else if (choice === "Show Logs") this.output.show(true);
        });
    }

    /** Send the server settings again (workspace/didChangeConfiguration). */
    async sendSettings(): Promise<void> {
        const client = this.client;
        if (client === undefined || client.state !== State.Running) return;
        const params = didChangeConfigurationParams(configReader());
        this.log(`settings: ${JSON.stringify(params.settings.nnlang)}`);
        await client.sendNotification(DidChangeConfigurationNotification.type, params);
    }

    /** A request to the server, once it runs; rejects with the reason when it cannot. */
    async request<R>(method: string, params: unknown, token?: CancellationToken): Promise<R> {
        await this.starting.catch(() => undefined);
        const client = this.client;
        if (client === undefined || client.state === State.Stopped) {
            throw new Error(this.failure ?? "nnlang: the language server is not running (nnlang: Restart Language Server).");
        }
        return token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params);
    }

    async stop(): Promise<void> {
        this.starting = this.starting.then(() => this.doStop(), () => this.doStop());
        return this.starting;
    }

    dispose(): void {
        this.disposed = true;
        void this.stop();
        this.analysed.dispose();
        this.state.dispose();
    }
}
