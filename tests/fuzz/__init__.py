"""A fuzzing harness for nnlang (issue 19): deterministic, seeded, no dependency of nnlang on it.

* `corpus`   -- the seed texts: examples/*.nns, the shipped library, tests/data, the broken-program
               corpus and every .nns snippet written in a test (string constants of tests/**/*.py).
* `generate` -- grammar-aware generation of random, mostly valid programs.
* `mutate`   -- mutations of any text (byte flips, token deletion / duplication / swaps, spliced lines,
               160-digit numbers, deep nesting, long lines, unicode and lone surrogates, `\\r`, `\\`
               continuations ...).
* `targets`  -- the checks: analyze() (never raises, well-formed diagnostics, CPU time per input),
               format_text() (never raises; output re-parses, is a fixed point and equals the input up to
               whitespace -- or is the input unchanged with an error), and the language server's document
               model driven in process (`lsp_model`).
* `run`      -- a campaign: inputs derived from (seed, index) only, so any input is reproduced from those
               two numbers; results as plain data. `minimise` shrinks a failing input.

tests/test_fuzz.py runs a short campaign; benchmarks/fuzz.py runs long ones and writes benchmarks/fuzz.md.
"""
