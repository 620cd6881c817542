-- helpers.lua: what the luaunit suites of the bindings share -- hostile
-- values, and assertions that a call raises naming its function or
-- returns Linux's errno.  Loaded with dofile() from the suite's folder.

local lu = require("luaunit")
local H = {}

H.NAN = 0 / 0
H.INF = math.huge
H.TWO63 = 2.0 ^ 63
H.HUGE_STRING = string.rep("x", 1 << 20)
H.NIL = setmetatable({}, { __tostring = function() return "nil" end })  -- nil inside arrays

-- ok, message of f(...)
function H.try(f, ...)
  local ok, err = pcall(f, ...)
  return ok, tostring(err)
end

-- f(...) must raise, and the message must contain every one of needles.
function H.assert_raises(needles, f, ...)
  local ok, err = H.try(f, ...)
  lu.assertFalse(ok, "expected an error containing '" .. table.concat(needles, "', '") .. "'")
  for _, needle in ipairs(needles) do
    lu.assertStrContains(err, needle, false)
  end
  return err
end

-- Does the error message err name the function name ("'name'" or "name: ")?
function H.names(err, name)
  return err:find("'" .. name .. "'", 1, true) ~= nil or err:find("%f[%w_]" .. name .. ": ") ~= nil
end

-- A short description of a value for failure messages.
function H.show(v)
  if type(v) == "string" and #v > 20 then return string.format("string(%d)", #v) end
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(x) end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

-- NIL stands for nil in arrays of bad values.
function H.value(v)
  if v == H.NIL then return nil end
  return v
end

-- Call obj:name(args...) with args[pos] replaced by each bad value; each must raise naming name.
function H.assert_rejects(obj, name, args, pos, bads)
  local nargs = args.n or #args
  for _, bad in ipairs(bads) do
    local a = { table.unpack(args, 1, nargs) }
    a[pos] = H.value(bad)
    local n = math.max(nargs, pos)
    local ok, err = H.try(function() return obj[name](obj, table.unpack(a, 1, n)) end)
    lu.assertFalse(ok, name .. ": argument " .. pos .. " = " .. H.show(bad) .. " should raise")
    lu.assertTrue(H.names(err, name), name .. ": the message names the function: " .. err)
    lu.assertNotStrContains(err, "stack traceback")
  end
end

-- Data in every page of [addr, addr + len) of task p (a split maps a page
-- of zeroes to the zero page, try_to_map_unused_to_zeropage: tests that
-- follow pages through splits give them data).
function H.fill(p, addr, len)
  return p:write(addr, string.rep("\x5a", len))
end

-- The non-empty lines of text, in order.
function H.lines(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- The values ... must be nil, name, errno.
function H.assert_errno(name, errno, ...)
  local r = table.pack(...)
  lu.assertNil(r[1], "expected nil, " .. name .. " got " .. H.show(r[1]))
  lu.assertEquals(r[2], name)
  lu.assertEquals(r[3], errno)
end

-- The kernel objects' caches (core/slab.c): every task, mm, VMA and
-- anon_vma is an object of one.
H.KERNEL_CACHES = { "task_struct", "mm_struct", "vm_area_struct", "anon_vma", "anon_vma_chain" }

-- Frames the kernel keeps once the tasks that made them are gone, as
-- Linux does: each CPU's cache of up to two kernel stacks and the vmalloc
-- range's page tables, PGD included.  With no task left, those stacks
-- must be all of VmallocUsed.
function H.kernel_kept(m)
  local v = m:vmalloc_stats()
  if #m:tasks() == 0 then lu.assertEquals(v.used_pages, v.cached_stack_pages, "VmallocUsed") end
  return v.cached_stack_pages + v.kernel_pgtables + (v.kernel_pgd and 1 or 0)
end

-- Give back the slabs SLUB keeps once the tasks' kernel objects are freed
-- (a CPU's slab stays when its last object goes): each kernel cache is
-- shrunk, the pages it frees drained from the CPUs' pagesets.  Asserts
-- that no object of them is left when no task is.
function H.shrink_kernel_caches(m)
  for _, name in ipairs(H.KERNEL_CACHES) do
    local c = m:slab_cache(name)
    if #m:tasks() == 0 then lu.assertEquals(c:info().objects, 0, name) end
    c:shrink()
  end
  m:drain_pages()
end

return H
