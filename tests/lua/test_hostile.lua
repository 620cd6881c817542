-- test_hostile.lua: every method of every memlab object, called with
-- hostile arguments -- nothing, nil, NaN, infinities, huge and negative
-- numbers, wrong types, objects of another machine, an exited task, a
-- closed machine -- must return (a result or nil, err, errno) or raise a
-- Lua error that names the method; never crash, never leave the machine
-- inconsistent.  The methods are found by enumerating the metatables, so
-- a new method is covered the day it is added.
--
-- Run from the source root:  build/memlab run tests/lua/test_hostile.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

-- The methods table behind an object's __index (a table, or a C closure's upvalue).
local function methods(obj)
  local index = getmetatable(obj).__index
  if type(index) == "table" then return index end
  local _, t = debug.getupvalue(index, 1)
  assert(type(t) == "table", "a methods table")
  return t
end

local function names(t)
  local out = {}
  for k, v in pairs(t) do if type(v) == "function" then out[#out + 1] = k end end
  table.sort(out)
  return out
end

-- Methods whose success would end the test's objects, or that take no arguments.
local SKIP = { close = true, exit = true }

-- One call: fine if it returns or raises an error naming the method.
local function probe(obj, name, args, n)
  local f = methods(obj)[name]
  local ok, err = pcall(f, obj, table.unpack(args, 1, n))
  if not ok then
    err = tostring(err)
    lu.assertTrue(err:find(name, 1, true) ~= nil or err:find("closed", 1, true) ~= nil or
                  err:find("exited", 1, true) ~= nil,
                  string.format("%s(%s) raised without naming it: %s", name,
                                table.concat((function()
                                  local s = {}
                                  for i = 1, n do s[i] = tostring(args[i]) end
                                  return s
                                end)(), ", "), err))
  end
end

local HOSTILE = { H.NAN, H.INF, -H.INF, -1, 0, 1, 2 ^ 63, -(2 ^ 63), math.maxinteger,
                  math.mininteger, "", "x", "-1", "64Q", {}, true, false, print }

-- Every method with 0..3 arguments drawn from the hostile values.
local function sweep(obj, extra)
  local vals = {}
  for _, v in ipairs(HOSTILE) do vals[#vals + 1] = v end
  for _, v in ipairs(extra or {}) do vals[#vals + 1] = v end
  for _, name in ipairs(names(methods(obj))) do
    if not SKIP[name] then
      probe(obj, name, {}, 0)
      probe(obj, name, { nil, nil }, 2)
      for i, a in ipairs(vals) do
        probe(obj, name, { a }, 1)
        probe(obj, name, { a, vals[(i % #vals) + 1] }, 2)
        probe(obj, name, { 4096, a, vals[(i * 7 % #vals) + 1] }, 3)
      end
    end
  end
end

TestHostile = {}

function TestHostile:test_machine_methods()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local other <close> = memlab.new{ ram = "64M", seed = 2 }
  local q = other:spawn{ name = "foreign" }
  sweep(m, { q, other, other:file{ name = "f", size = 4096 } })
  lu.assertTrue(m:check())
end

function TestHostile:test_task_methods()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "target" }
  assert(p:mmap(0, "64K", "rw-", "private|anonymous"))
  local other <close> = memlab.new{ ram = "64M", seed = 2 }
  sweep(p, { other:spawn{ name = "foreign" }, other:file{ name = "g", size = 4096 },
             m:file{ name = "own", size = 8192, writable = true } })
  lu.assertTrue(m:check())
end

function TestHostile:test_file_methods()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local f = m:file{ name = "f", size = 8192, writable = true }
  sweep(f)
  lu.assertTrue(m:check())
end

function TestHostile:test_cgroup_methods()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local cg = m:cgroup("/hostile")
  local p = m:spawn{ name = "member", cgroup = "/hostile" }
  assert(p:mmap(0, "64K", "rw-", "private|anonymous"))
  local other <close> = memlab.new{ ram = "64M", seed = 2 }
  sweep(cg, { p, other:spawn{ name = "foreign" }, "memory.max", "memory.high", "cgroup.procs",
              "memory.reclaim", "memory.oom.group", "max", "1M" })
  lu.assertTrue(m:check())
end

function TestHostile:test_dead_objects()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "dead" }
  local f = m:file{ name = "f", size = 4096 }
  local live = m:spawn{ name = "alive" }
  p:exit()
  for _, name in ipairs(names(methods(p))) do
    if name ~= "exit" then
      local ok, err = pcall(methods(p)[name], p, 4096, 4096, "r")
      lu.assertFalse(ok, name .. " on an exited task")
      lu.assertStrContains(tostring(err), "exited")
    end
  end
  m:close()
  for _, obj in ipairs{ m, live, f } do
    for _, name in ipairs(names(methods(obj))) do
      if name ~= "close" then
        local ok, err = pcall(methods(obj)[name], obj, 4096, 4096, "r")
        if not ok then lu.assertStrContains(tostring(err), "closed") end
      end
    end
  end
end

os.exit(lu.LuaUnit.run())
