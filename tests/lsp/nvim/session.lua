-- A Neovim 0.7 session against the nnlang language server, driven by tests/lsp/test_neovim.py.
--
--   NNLANG_NVIM_CONFIG=config.json nvim --headless --clean -c "luafile session.lua"
--
-- config.json (written by the test): {server_cmd, root, file, messy, out, edit, hover, def_tensor,
-- def_block, timeout_ms}. Positions are {line, character} (LSP, 0-based); edit.col is a byte column.
-- Only Neovim's own client is used: vim.lsp.start_client + buf_attach_client, the default
-- publishDiagnostics handler (vim.diagnostic), buf_request_sync, util.jump_to_location and
-- buf.formatting_sync. Everything observed goes to cfg.out as JSON; the test asserts it.
-- Exit status: 0 when the session ran to its end (the test judges the observations), 2 on a timeout,
-- 3 on a Lua error.

local cfg = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv("NNLANG_NVIM_CONFIG")), "\n"))
local timeout = cfg.timeout_ms or 20000
local obs = { steps = {} }
local published = {} -- uri -> version of the last publishDiagnostics
local client_id

vim.o.hidden = true -- jumping to std/resnet.nns leaves the edited buffer modified

local function write_obs()
  vim.fn.writefile({ vim.fn.json_encode(obs) }, cfg.out)
end

local function step(name)
  table.insert(obs.steps, name)
end

local function wait(what, cond)
  if not vim.wait(timeout, cond, 10) then
    obs.error = "timed out waiting for " .. what
    write_obs()
    vim.cmd("cquit 2")
  end
end

-- The diagnostics Neovim holds for the buffer, once the server published them for its current version.
local function diagnostics_of(bufnr)
  local uri = vim.uri_from_bufnr(bufnr)
  wait("diagnostics of " .. uri, function()
    return published[uri] ~= nil and published[uri] == vim.lsp.util.buf_versions[bufnr]
  end)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = (d.user_data or {}).lsp or {}
    table.insert(out, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col, severity = d.severity,
      code = d.code, message = d.message, source = d.source, related = lsp.relatedInformation,
      version = published[uri],
    })
  end
  return out
end

local function request(bufnr, method, position)
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = position }
  local responses = vim.lsp.buf_request_sync(bufnr, method, params, timeout)
  local r = responses and responses[client_id]
  if r == nil then
    return { error = "no response to " .. method }
  end
  return { result = r.result, error = r.err or r.error }
end

-- Go to definition as a user would: the request, then Neovim's own jump; where the cursor lands.
local function definition(bufnr, position)
  local r = request(bufnr, "textDocument/definition", position)
  local landed
  if r.result ~= nil and r.result ~= vim.NIL then
    local loc = r.result
    if vim.tbl_islist(loc) then
      loc = loc[1]
    end
    local client = vim.lsp.get_client_by_id(client_id)
    vim.api.nvim_set_current_buf(bufnr)
    vim.lsp.util.jump_to_location(loc, client.offset_encoding)
    local cursor = vim.api.nvim_win_get_cursor(0)
    landed = {
      file = vim.api.nvim_buf_get_name(0), row = cursor[1], col = cursor[2],
      line = vim.api.nvim_get_current_line(),
    }
    vim.api.nvim_set_current_buf(bufnr)
  end
  return { result = r.result, error = r.error, landed = landed }
end

local function open(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "nns"
  assert(vim.lsp.buf_attach_client(bufnr, client_id), "buf_attach_client failed")
  return bufnr
end

local function main()
  client_id = vim.lsp.start_client({
    name = "nnlang",
    cmd = cfg.server_cmd,
    root_dir = cfg.root,
    init_options = { analysisDelayMs = 0 },
    flags = { debounce_text_changes = 0 },
    handlers = {
      ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
        vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
        published[result.uri] = result.version
      end,
    },
    on_exit = function(code, signal)
      obs.server_exit = { code = code, signal = signal }
    end,
  })
  assert(client_id, "vim.lsp.start_client failed")
  obs.nvim_version = tostring(vim.version().major) .. "." .. vim.version().minor .. "." .. vim.version().patch

  -- 1. open the example: no diagnostics
  local bufnr = open(cfg.file)
  wait("the server to initialize", function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end)
  obs.offset_encoding = vim.lsp.get_client_by_id(client_id).offset_encoding
  obs.initial = diagnostics_of(bufnr)
  step("opened")

  -- 2. hover on a layer
  obs.hover = request(bufnr, "textDocument/hover", cfg.hover)
  if obs.hover.result and obs.hover.result ~= vim.NIL then
    obs.hover.lines = vim.lsp.util.trim_empty_lines(
      vim.lsp.util.convert_input_to_markdown_lines(obs.hover.result.contents))
  end
  step("hover")

  -- 3. go to definition: a tensor use, a block from std/resnet
  obs.def_tensor = definition(bufnr, cfg.def_tensor)
  obs.def_block = definition(bufnr, cfg.def_block)
  step("definition")

  -- 4. an edit that breaks a shape, typed into the buffer
  vim.api.nvim_buf_set_text(bufnr, cfg.edit.line, cfg.edit.col, cfg.edit.line, cfg.edit.col, { cfg.edit.text })
  obs.edited_line = vim.api.nvim_buf_get_lines(bufnr, cfg.edit.line, cfg.edit.line + 1, false)[1]
  obs.broken = diagnostics_of(bufnr)
  obs.broken_version = vim.lsp.util.buf_versions[bufnr]
  step("broken")

  -- 5. undo it: clean again
  vim.api.nvim_buf_set_text(bufnr, cfg.edit.line, cfg.edit.col, cfg.edit.line, cfg.edit.col + #cfg.edit.text, { "" })
  obs.repaired = diagnostics_of(bufnr)
  step("repaired")

  -- 6. format a messy buffer
  local messy = open(cfg.messy)
  obs.messy_before = diagnostics_of(messy)
  vim.lsp.buf.formatting_sync(nil, timeout)
  obs.formatted = vim.api.nvim_buf_get_lines(messy, 0, -1, false)
  obs.messy_after = diagnostics_of(messy)
  step("formatted")

  -- 7. shut the server down cleanly
  vim.lsp.get_client_by_id(client_id).stop()
  wait("the server to exit", function()
    return obs.server_exit ~= nil
  end)
  step("stopped")
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  obs.error = tostring(err)
  write_obs()
  vim.cmd("cquit 3")
end
write_obs()
vim.cmd("qall!")
