-- memlab.report: what the labs print -- sections, aligned tables, bar
-- charts and x-y plots in plain text -- for any script.
--
--   local report = require("memlab.report")
--   report.section("1. Faults")                 --> a blank line, "== 1. Faults =="
--   report.say("%d faults", n)                  --> print(string.format(...))
--   report.table{ { "size", "misses" }, { "64K", "0.1%" }, { "128K", "0.3%" } }
--   report.bars{ { "64K", 0.1 }, { "128K", 0.3 }, width = 40, unit = "%" }
--   report.plot{ series = { { name = "4K", points = { {64, 0.1}, ... } } }, logx = true }
--   report.size(65536)                          --> "64K"
--
-- Each function prints and returns its text; table, bars and plot only
-- return it with print = false.  Numbers in cells are printed with %g
-- unless a format is given; the same input gives the same bytes.  Wrong
-- arguments raise an error naming the function.

local M = {}

local function fail(fn, msg)
  error("report." .. fn .. ": " .. msg, 3)
end

local function finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

-- An integer option in lo..hi, or its default.
local function int_opt(fn, name, v, default, lo, hi)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < lo or v > hi then
    fail(fn, string.format("%s must be an integer in %d..%d", name, lo, hi))
  end
  return v
end

local function emit(lines, opts)
  local text = table.concat(lines, "\n") .. "\n"
  if not (opts and opts.print == false) then io.write(text) end
  return text
end

local function cell(fn, v, fmt)
  if v == nil then return "" end
  if type(v) == "number" then
    if fmt then
      local ok, s = pcall(string.format, fmt, v)
      if not ok then fail(fn, "format " .. tostring(fmt) .. " cannot print " .. tostring(v)) end
      return s
    end
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "nan" end
    return string.format("%g", v)
  end
  return tostring(v)
end

function M.say(fmt, ...)
  if type(fmt) ~= "string" then fail("say", "a format string expected") end
  local ok, s = pcall(string.format, fmt, ...)
  if not ok then fail("say", s) end
  return emit({ s })
end

function M.section(title)
  if type(title) ~= "string" then fail("section", "a title string expected") end
  return emit({ "", "== " .. title .. " ==" })
end

-- 1024 -> "1K", 3 << 20 -> "3M": the largest unit that divides n exactly.
function M.size(n)
  if math.type(n) ~= "integer" or n < 0 then fail("size", "a non-negative integer expected") end
  for _, u in ipairs{ { "T", 40 }, { "G", 30 }, { "M", 20 }, { "K", 10 } } do
    if n >= 1 << u[2] and n % (1 << u[2]) == 0 then return (n >> u[2]) .. u[1] end
  end
  return tostring(n)
end

-- The largest integer key of t (a row with holes keeps its later cells).
local function maxn(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) == "integer" and k > n then n = k end
  end
  return n
end

--[[
report.table(rows [, opts]): rows is an array of rows (arrays of cells,
nil cells printed empty); the first is the header unless opts.header ==
false.  Columns are aligned: numbers to the right, text to the left
(opts.align, a string of "l"/"r" per column, says otherwise); opts.formats
gives a format per column for numbers; opts.indent (default 2) spaces
before each line.
--]]
function M.table(rows, opts)
  opts = opts or {}
  if type(rows) ~= "table" then fail("table", "rows must be a table") end
  if type(opts) ~= "table" then fail("table", "opts must be a table") end
  if opts.align ~= nil and (type(opts.align) ~= "string" or opts.align:find("[^lr]")) then
    fail("table", "align must be a string of l and r")
  end
  local indent = int_opt("table", "indent", opts.indent, 2, 0, 80)
  local nrows, cols, text, widths, numeric = maxn(rows), 0, {}, {}, {}
  for r = 1, nrows do
    local row = rows[r]
    if type(row) ~= "table" then fail("table", "row " .. r .. " is not a table") end
    text[r] = {}
    for c = 1, maxn(row) do
      local v = row[c]
      text[r][c] = cell("table", v, opts.formats and opts.formats[c])
      widths[c] = math.max(widths[c] or 0, #text[r][c])
      if type(v) == "number" and (r > 1 or opts.header == false) then numeric[c] = true end
      cols = math.max(cols, c)
    end
  end
  local lines, pad = {}, string.rep(" ", indent)
  for r = 1, nrows do
    local parts = {}
    for c = 1, cols do
      local s, w = text[r][c] or "", widths[c] or 0
      local a = opts.align and opts.align:sub(c, c) or ""
      if a == "" then a = numeric[c] and "r" or "l" end
      parts[c] = a == "r" and string.rep(" ", w - #s) .. s or s .. string.rep(" ", w - #s)
    end
    lines[#lines + 1] = (pad .. table.concat(parts, "  ")):gsub("%s+$", "")
    if r == 1 and opts.header ~= false then
      local rule = {}
      for c = 1, cols do rule[c] = string.rep("-", widths[c] or 0) end
      lines[#lines + 1] = pad .. table.concat(rule, "  ")
    end
  end
  return emit(lines, opts)
end

--[[
report.bars(items [, opts]): items is an array of { label, value [, note] };
one line each, the bar's length value / max * width (max: opts.max or the
largest value), then the value (opts.format, default %g; aligned right),
opts.unit after it, and the note.  opts.width (default 50), opts.char
(default "#").  The options may also be fields of items.
--]]
function M.bars(items, opts)
  if type(items) ~= "table" then fail("bars", "items must be a table") end
  opts = opts or items
  local width = int_opt("bars", "width", opts.width, 50, 1, 1000)
  local char = opts.char or "#"
  if type(char) ~= "string" or #char ~= 1 then fail("bars", "char must be one character") end
  if opts.max ~= nil and not (finite(opts.max) and opts.max > 0) then
    fail("bars", "max must be a finite number > 0")
  end
  local max, label_w, value_w = opts.max or 0, 0, 0
  for i, it in ipairs(items) do
    if type(it) ~= "table" then fail("bars", "item " .. i .. " is not a table") end
    if not finite(it[2]) or it[2] < 0 then fail("bars", "values must be finite numbers >= 0") end
    if not opts.max and it[2] > max then max = it[2] end
    label_w = math.max(label_w, #cell("bars", it[1]))
    value_w = math.max(value_w, #cell("bars", it[2], opts.format))
  end
  local lines = {}
  for _, it in ipairs(items) do
    local n = max > 0 and math.floor(math.min(it[2], max) / max * width + 0.5) or 0
    local label, value = cell("bars", it[1]), cell("bars", it[2], opts.format)
    lines[#lines + 1] = "  " .. string.rep(" ", label_w - #label) .. label .. " |" ..
      string.rep(char, n) .. string.rep(" ", width - n) .. "| " ..
      string.rep(" ", value_w - #value) .. value .. (opts.unit or "") ..
      (it[3] and "  " .. tostring(it[3]) or "")
  end
  return emit(lines, opts)
end

--[[
report.plot(opts): x-y points on a grid of opts.width x opts.height
(default 60 x 15) characters, one mark per series ("*", "o", "+", "x", "#",
"@", or series[i].mark; "&" where two series meet), the y axis labelled at
its top and bottom, the x axis at both ends and opts.xlabel / opts.ylabel
beside them.  opts.series is an array of { name =, points = { {x, y}, ... } };
opts.logx / opts.logy plot log2 of the value (all values must then be
> 0); opts.ymin / opts.ymax fix the y range (points outside it sit on its
edge); opts.xformat / opts.yformat format the axis ends (opts.xsize: as
report.size).  A legend names the marks.
--]]
local MARKS = { "*", "o", "+", "x", "#", "@" }

-- The points of every series, transformed and checked: { {col x, y, mark}, ... }, ranges.
local function plot_points(opts, tx, ty)
  local pts, x0, x1, y0, y1 = {}, math.huge, -math.huge, math.huge, -math.huge
  for i, s in ipairs(opts.series) do
    if type(s) ~= "table" or type(s.points) ~= "table" then
      fail("plot", "series " .. i .. " needs points = { {x, y}, ... }")
    end
    if #opts.series > #MARKS and not s.mark then fail("plot", "more than 6 series need marks") end
    local mark = s.mark or MARKS[i]
    for j, p in ipairs(s.points) do
      if type(p) ~= "table" or not finite(p[1]) or not finite(p[2]) then
        fail("plot", string.format("series %d point %d: {x, y} of finite numbers expected", i, j))
      end
      if opts.logx and p[1] <= 0 then fail("plot", "logx needs x > 0") end
      if opts.logy and p[2] <= 0 then fail("plot", "logy needs y > 0") end
      local x, y = tx(p[1]), ty(p[2])
      pts[#pts + 1] = { x, y, mark }
      x0, x1, y0, y1 = math.min(x0, x), math.max(x1, x), math.min(y0, y), math.max(y1, y)
    end
  end
  if #pts == 0 then fail("plot", "no points") end
  return pts, x0, x1, y0, y1
end

function M.plot(opts)
  if type(opts) ~= "table" or type(opts.series) ~= "table" then
    fail("plot", "{ series = { { name =, points = { {x, y}, ... } }, ... } } expected")
  end
  local W = int_opt("plot", "width", opts.width, 60, 2, 1000)
  local H = int_opt("plot", "height", opts.height, 15, 2, 1000)
  local function tx(x) return opts.logx and math.log(x, 2) or x end
  local function ty(y) return opts.logy and math.log(y, 2) or y end
  local pts, x0, x1, y0, y1 = plot_points(opts, tx, ty)
  for _, k in ipairs{ "ymin", "ymax" } do
    local v = opts[k]
    if v ~= nil and (not finite(v) or (opts.logy and v <= 0)) then
      fail("plot", k .. " must be a finite number" .. (opts.logy and " > 0" or ""))
    end
  end
  y0 = opts.ymin and ty(opts.ymin) or y0
  y1 = opts.ymax and ty(opts.ymax) or y1
  if y0 > y1 or (y0 == y1 and opts.ymin and opts.ymax) then fail("plot", "ymin must be below ymax") end
  if not (finite(x1 - x0) and finite(y1 - y0)) then fail("plot", "the ranges are too large") end
  local grid, met = {}, false
  for r = 1, H do grid[r] = {} for c = 1, W do grid[r][c] = " " end end
  for _, p in ipairs(pts) do
    local c = x1 > x0 and math.floor((p[1] - x0) / (x1 - x0) * (W - 1) + 0.5) + 1 or 1
    local y = math.min(math.max(p[2], y0), y1)
    local r = y1 > y0 and H - math.floor((y - y0) / (y1 - y0) * (H - 1) + 0.5) or H
    local old = grid[r][c]
    met = met or (old ~= " " and old ~= p[3])
    grid[r][c] = (old == " " or old == p[3]) and p[3] or "&"
  end
  local function ylabel(v) return cell("plot", opts.logy and 2 ^ v or v, opts.yformat) end
  local function xlabel(v)
    v = opts.logx and 2 ^ v or v
    if opts.xsize and v >= 0 and v == math.floor(v) and v < 2 ^ 62 then
      return M.size(math.tointeger(v))
    end
    return cell("plot", v, opts.xformat)
  end
  local top, bottom = ylabel(y1), ylabel(y0)
  local lw = math.max(#top, #bottom)
  local lines = {}
  if opts.ylabel then lines[#lines + 1] = string.rep(" ", lw + 3) .. tostring(opts.ylabel) end
  for r = 1, H do
    local l = r == 1 and top or r == H and bottom or ""
    lines[#lines + 1] = ("  " .. string.rep(" ", lw - #l) .. l .. " |" .. table.concat(grid[r])):gsub("%s+$", "")
  end
  lines[#lines + 1] = string.rep(" ", lw + 3) .. "+" .. string.rep("-", W)
  local left, right = xlabel(x0), x1 > x0 and xlabel(x1) or ""
  lines[#lines + 1] = (string.rep(" ", lw + 4) .. left ..
                       string.rep(" ", math.max(1, W - #left - #right)) .. right):gsub("%s+$", "")
  if opts.xlabel then
    local xl = tostring(opts.xlabel)
    lines[#lines + 1] = string.rep(" ", lw + 4 + math.max(0, (W - #xl) // 2)) .. xl
  end
  local legend = {}
  for i, s in ipairs(opts.series) do
    legend[#legend + 1] = (s.mark or MARKS[i]) .. " " .. tostring(s.name or ("series " .. i))
  end
  lines[#lines + 1] = string.rep(" ", lw + 4) .. table.concat(legend, "   ") ..
                      (met and "   & two or more" or "")
  return emit(lines, opts)
end

return M
