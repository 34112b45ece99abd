// @ts-check
import eslint from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
    // Generated: bundles, compiled tests, the preview's Graphviz build.
    { ignores: ["node_modules/", "dist/", "out/", "media/graphviz.js", "**/*.min.js", "*.vsix"] },
    eslint.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }],
        },
    },
    {
        files: ["**/*.ts"],
        rules: {
            "@typescript-eslint/no-explicit-any": "error",
            eqeqeq: ["error", "always", { null: "ignore" }],
            curly: ["error", "multi-line"],
        },
    },
    {
        // Build scripts and tests run in node.
        files: ["**/*.mjs", "**/*.cjs", "test/**/*.js"],
        languageOptions: { globals: { ...globals.node } },
    },
    {
        // The preview page runs in the webview (a browser).
        files: ["media/**/*.js"],
        languageOptions: { sourceType: "script", globals: { ...globals.browser, acquireVsCodeApi: "readonly", NNGraphviz: "readonly" } },
        // A `/* global ... */` comment may name what the page takes from the browser.
        rules: { "no-redeclare": ["error", { builtinGlobals: false }] },
    },
);
