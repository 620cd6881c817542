-- test_report.lua: memlab.report's text, byte for byte (scripts/memlab/report.lua).
--
-- Run from the source root:  build/memlab run tests/lua/test_report.lua -o text

local lu = require("luaunit")
local report = require("memlab.report")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

function test_size()
  lu.assertEquals(report.size(0), "0")
  lu.assertEquals(report.size(1000), "1000")
  lu.assertEquals(report.size(4096), "4K")
  lu.assertEquals(report.size(6144), "6K")
  lu.assertEquals(report.size(3 << 20), "3M")
  lu.assertEquals(report.size(1 << 30), "1G")
  lu.assertEquals(report.size((1 << 30) + 4096), "1048580K")
  H.assert_raises({ "report.size", "non-negative integer" }, report.size, -1)
  H.assert_raises({ "report.size", "non-negative integer" }, report.size, 1.5)
end

function test_table_aligns_numbers_right_and_text_left()
  local t = report.table({ { "size", "misses", "walks" }, { "64K", 0.1, 3 }, { "128K", 0.25, 12 } },
                         { print = false })
  lu.assertEquals(t, table.concat({
    "  size  misses  walks",
    "  ----  ------  -----",
    "  64K      0.1      3",
    "  128K    0.25     12", "" }, "\n"))
  t = report.table({ { 1, "a" }, { 22, "bb" } }, { header = false, formats = { "%03d" }, indent = 0,
                                                   print = false })
  lu.assertEquals(t, "001  a\n022  bb\n")
  t = report.table({ { "x", "y" }, { "a", "b" } }, { align = "rr", print = false })
  lu.assertEquals(t, "  x  y\n  -  -\n  a  b\n")
end

function test_bars_scale_to_the_largest_or_max()
  local t = report.bars({ { "64K", 1 }, { "128K", 4, "note" }, width = 8, print = false })
  lu.assertEquals(t, "   64K |##      | 1\n  128K |########| 4  note\n")
  t = report.bars({ { "a", 0.5 }, { "b", 2 } }, { width = 4, max = 1, format = "%.1f", unit = "%",
                                                  char = "=", print = false })
  lu.assertEquals(t, "  a |==  | 0.5%\n  b |====| 2.0%\n")
  H.assert_raises({ "report.bars", "numbers >= 0" }, report.bars, { { "a", -1 } })
end

function test_plot_places_each_point()
  local t = report.plot{ series = { { name = "up", points = { { 1, 0 }, { 2, 1 }, { 3, 2 } } },
                                    { name = "flat", points = { { 1, 1 }, { 3, 1 } } } },
                         width = 5, height = 3, xlabel = "x", ylabel = "y", print = false }
  lu.assertEquals(t, table.concat({
    "    y",
    "  2 |    *",
    "    |o * o",
    "  0 |*",
    "    +-----",
    "     1   3",
    "       x",
    "     * up   o flat", "" }, "\n"))
  t = report.plot{ series = { { points = { { 1024, 1 }, { 4096, 4 } } } }, logx = true, xsize = true,
                   width = 3, height = 2, print = false }
  lu.assertEquals(t, "  4 |  *\n  1 |*\n    +---\n     1K 4K\n     * series 1\n")
  H.assert_raises({ "report.plot", "logx needs x > 0" }, report.plot,
                  { series = { { points = { { 0, 1 } } } }, logx = true })
  H.assert_raises({ "report.plot", "no points" }, report.plot, { series = { { points = {} } } })
end

-- Two series in one cell: "&", named in the legend.
function test_plot_marks_where_series_meet()
  local t = report.plot{ series = { { points = { { 1, 1 }, { 2, 2 } } }, { points = { { 1, 1 } } } },
                         width = 2, height = 2, print = false }
  lu.assertEquals(t, "  2 | *\n  1 |&\n    +--\n     1 2\n     * series 1   o series 2   & two or more\n")
end

function test_table_keeps_cells_after_a_hole()
  lu.assertEquals(report.table({ { "a", "b", "c" }, { 1, nil, 3 } }, { print = false }),
                  "  a  b  c\n  -  -  -\n  1     3\n")
end

-- Bad input: an error naming the function, never one from deep inside.
function test_bad_input_raises_naming_the_function()
  local pts = { { 1, 1 }, { 2, 4 } }
  local bad_plots = {
    { { series = { { points = pts } }, width = 1 / 0 }, "width must be an integer" },
    { { series = { { points = pts } }, height = 0 }, "height must be an integer" },
    { { series = { { points = pts } }, width = 10.5 }, "width must be an integer" },
    { { series = { { points = { { 0 / 0, 1 } } } } }, "finite numbers expected" },
    { { series = { { points = { { 1, 1 / 0 } } } } }, "finite numbers expected" },
    { { series = { { points = { { nil, 1 } } } } }, "finite numbers expected" },
    { { series = { { points = { { "1", 1 } } } }, logx = true }, "finite numbers expected" },
    { { series = { {} } }, "needs points" },
    { { series = { { points = pts } }, ymin = 5, ymax = 0 }, "ymin must be below ymax" },
    { { series = { { points = pts } }, ymin = 10 }, "ymin must be below ymax" },
    { { series = { { points = pts } }, logy = true, ymin = 0 }, "ymin must be a finite number > 0" },
    { { series = { { points = { { -1e308, 1 }, { 1e308, 1 } } } } }, "ranges are too large" },
  }
  for _, c in ipairs(bad_plots) do H.assert_raises({ "report.plot", c[2] }, report.plot, c[1]) end
  H.assert_raises({ "report.bars", "values must be finite" }, report.bars, { { "a", 1 / 0 } })
  H.assert_raises({ "report.bars", "width must be an integer" }, report.bars, { { "a", 1 }, width = 10.5 })
  H.assert_raises({ "report.bars", "items must be a table" }, report.bars, nil)
  H.assert_raises({ "report.bars", "item 1 is not a table" }, report.bars, { 5 })
  H.assert_raises({ "report.bars", "cannot print" }, report.bars, { { "a", 1.5 }, format = "%d" })
  H.assert_raises({ "report.table", "row 2 is not a table" }, report.table, { { "a" }, 7 })
  H.assert_raises({ "report.table", "align must be" }, report.table, { { "a" } }, { align = "c" })
  H.assert_raises({ "report.table", "indent must be" }, report.table, { { "a" } }, { indent = 1.5 })
  H.assert_raises({ "report.say", "format string" }, report.say, nil)
  H.assert_raises({ "report.section", "title" }, report.section, 3)
end

os.exit(lu.LuaUnit.run())
