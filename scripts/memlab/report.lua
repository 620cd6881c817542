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
-- Each function prints and also returns the text (print = false: only
-- returns it).  Numbers in cells are printed with %g unless a format is
-- given; the output is the same bytes on every run.

local M = {}

local function emit(lines, opts)
  local text = table.concat(lines, "\n") .. "\n"
  if not (opts and opts.print == false) then io.write(text) end
  return text
end

local function cell(v, fmt)
  if type(v) == "number" then
    if fmt then return string.format(fmt, v) end
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%g", v)
  end
  return tostring(v)
end

function M.say(fmt, ...)
  print(string.format(fmt, ...))
end

function M.section(title)
  print()
  print("== " .. title .. " ==")
end

-- 1024 -> "1K", 3 << 20 -> "3M": the largest unit that divides n exactly.
function M.size(n)
  assert(math.type(n) == "integer" and n >= 0, "report.size: a non-negative integer expected")
  for _, u in ipairs{ { "T", 40 }, { "G", 30 }, { "M", 20 }, { "K", 10 } } do
    if n >= 1 << u[2] and n % (1 << u[2]) == 0 then return (n >> u[2]) .. u[1] end
  end
  return tostring(n)
end

--[[
report.table(rows [, opts]): rows is an array of rows (arrays of cells);
the first is the header unless opts.header == false.  Columns are
aligned: numbers to the right, text to the left (opts.align, a string of
"l"/"r" per column, says otherwise); opts.formats gives a format per
column for numbers; opts.indent (default 2) spaces before each line.
--]]
function M.table(rows, opts)
  opts = opts or {}
  assert(type(rows) == "table", "report.table: rows must be a table")
  local cols, text, widths, numeric = 0, {}, {}, {}
  for r, row in ipairs(rows) do
    text[r] = {}
    for c, v in ipairs(row) do
      text[r][c] = cell(v, opts.formats and opts.formats[c])
      widths[c] = math.max(widths[c] or 0, #text[r][c])
      if type(v) == "number" and (r > 1 or opts.header == false) then numeric[c] = true end
    end
    cols = math.max(cols, #row)
  end
  local lines, pad = {}, string.rep(" ", opts.indent or 2)
  for r = 1, #rows do
    local parts = {}
    for c = 1, cols do
      local s, w = text[r][c] or "", widths[c] or 0
      local a = opts.align and opts.align:sub(c, c) or (numeric[c] and "r" or "l")
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
opts.unit after it, and the note.
opts.width (default 50), opts.char (default "#").
--]]
function M.bars(items, opts)
  opts = opts or items
  local width, char = opts.width or 50, opts.char or "#"
  local max, label_w, value_w = opts.max or 0, 0, 0
  for _, it in ipairs(items) do
    assert(type(it[2]) == "number" and it[2] >= 0, "report.bars: values must be numbers >= 0")
    if not opts.max and it[2] > max then max = it[2] end
    label_w = math.max(label_w, #cell(it[1]))
    value_w = math.max(value_w, #cell(it[2], opts.format))
  end
  local lines = {}
  for _, it in ipairs(items) do
    local n = max > 0 and math.floor(math.min(it[2], max) / max * width + 0.5) or 0
    local label, value = cell(it[1]), cell(it[2], opts.format)
    lines[#lines + 1] = string.format("  %s%s |%s%s| %s%s%s%s", string.rep(" ", label_w - #label),
      label, string.rep(char, n), string.rep(" ", width - n), string.rep(" ", value_w - #value),
      value, opts.unit or "", it[3] and "  " .. it[3] or "")
  end
  return emit(lines, opts)
end

--[[
report.plot(opts): x-y points on a grid of opts.width x opts.height
(default 60 x 15) characters, one mark per series ("*", "o", "+", "x"...,
or series[i].mark), the y axis labelled at its top and bottom, the x axis
at both ends and opts.xlabel / opts.ylabel beside them.  opts.series is an
array of { name =, points = { {x, y}, ... } }; opts.logx / opts.logy plot
log2 of the value (all values must then be > 0); opts.ymin / opts.ymax fix
the y range; opts.xformat / opts.yformat format the axis ends (opts.xsize:
as report.size).  A legend names the marks.
--]]
local MARKS = { "*", "o", "+", "x", "#", "@" }

function M.plot(opts)
  assert(type(opts) == "table" and type(opts.series) == "table",
         "report.plot: { series = { { name =, points = { {x, y}, ... } }, ... } } expected")
  local W, H = opts.width or 60, opts.height or 15
  local function tx(x) return opts.logx and math.log(x, 2) or x end
  local function ty(y) return opts.logy and math.log(y, 2) or y end
  local x0, x1, y0, y1 = math.huge, -math.huge, opts.ymin, opts.ymax
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(opts.series) do
    for _, p in ipairs(s.points) do
      assert(not opts.logx or p[1] > 0, "report.plot: logx needs x > 0")
      assert(not opts.logy or p[2] > 0, "report.plot: logy needs y > 0")
      x0, x1 = math.min(x0, tx(p[1])), math.max(x1, tx(p[1]))
      lo, hi = math.min(lo, ty(p[2])), math.max(hi, ty(p[2]))
    end
  end
  assert(x0 <= x1, "report.plot: no points")
  y0 = y0 and ty(y0) or lo
  y1 = y1 and ty(y1) or hi
  if x1 == x0 then x1 = x0 + 1 end
  if y1 == y0 then y1 = y0 + 1 end
  local grid = {}
  for r = 1, H do grid[r] = {} for c = 1, W do grid[r][c] = " " end end
  for i, s in ipairs(opts.series) do
    local mark = s.mark or MARKS[(i - 1) % #MARKS + 1]
    for _, p in ipairs(s.points) do
      local c = math.floor((tx(p[1]) - x0) / (x1 - x0) * (W - 1) + 0.5) + 1
      local r = H - math.floor((math.min(math.max(ty(p[2]), y0), y1) - y0) / (y1 - y0) * (H - 1) + 0.5)
      grid[r][c] = mark
    end
  end
  local function ylabel(v) return cell(opts.logy and 2 ^ v or v, opts.yformat) end
  local top, bottom = ylabel(y1), ylabel(y0)
  local lw = math.max(#top, #bottom)
  local lines = {}
  if opts.ylabel then lines[#lines + 1] = string.rep(" ", lw + 3) .. opts.ylabel end
  for r = 1, H do
    local l = r == 1 and top or r == H and bottom or ""
    lines[#lines + 1] = string.format("  %" .. lw .. "s |%s", l, table.concat(grid[r])):gsub("%s+$", "")
  end
  lines[#lines + 1] = string.rep(" ", lw + 3) .. "+" .. string.rep("-", W)
  local function xlabel(v)
    v = opts.logx and 2 ^ v or v
    if opts.xsize then return M.size(math.floor(v + 0.5)) end
    return cell(v, opts.xformat)
  end
  local left, right = xlabel(x0), xlabel(x1)
  lines[#lines + 1] = string.rep(" ", lw + 4) .. left ..
                      string.rep(" ", math.max(1, W - #left - #right)) .. right
  if opts.xlabel then
    lines[#lines + 1] = string.rep(" ", lw + 4 + math.max(0, (W - #opts.xlabel) // 2)) .. opts.xlabel
  end
  local legend = {}
  for i, s in ipairs(opts.series) do
    legend[#legend + 1] = (s.mark or MARKS[(i - 1) % #MARKS + 1]) .. " " .. (s.name or ("series " .. i))
  end
  lines[#lines + 1] = string.rep(" ", lw + 4) .. table.concat(legend, "   ")
  return emit(lines, opts)
end

return M
