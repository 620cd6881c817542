-- test_memcg_recursiveprot.lua: cgroup2's mount option memory_recursiveprot
-- (memlab.new{ cgroup = { memory_recursiveprot = true } }): the protection
-- a parent has beyond what its children claim goes down to them in
-- proportion to their unprotected usage (effective_protection() in
-- mm/page_counter.c, Linux 6.18).  Each case runs with the option off and
-- on; the expected outcomes are worked out from the kernel's formulas.
--
-- Run from the source root:  build/memlab run tests/lua/test_memcg_recursiveprot.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE = 4096
local MiB = 1024 * 1024

-- A machine (no swap) with an init in the root cgroup.
local function machine(recursiveprot)
  local m = memlab.new{ ram = "128M", seed = 1,
                        cgroup = { memory_recursiveprot = recursiveprot } }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init", aslr = false }
  return m
end

-- A task in cgroup path reads n bytes of a new file, then unmaps it: the
-- page cache stays, charged to the cgroup, reclaimable without an rmap walk.
local function cache(m, path, n)
  local name = path:match("[^/]+$")
  local p = m:spawn{ name = name, cgroup = path }
  local f = m:file{ path = "/" .. name, size = n }
  local a = assert(p:mmap(nil, n, "r", "private", f, 0))
  assert(p:touch(a, n, "r"))
  assert(p:munmap(a, n))
end

local function pages(bytes)
  return bytes // PAGE
end

local function file_pages(m, path)
  return pages(m:cgroup(path):stat().file)
end

-- The usual tree: /top is the reclaim's target; /top/p holds the
-- protection (knob = value, a string of bytes or a function of p's usage
-- in pages) over two children that set none unless child_setting; /top/z
-- is the neighbour.  a, b and z read 4M each (1024 pages of file, and each
-- is charged 1088 pages: two page tables and the stock's batch).
local function tree(recursiveprot, knob, value, child_setting)
  local m = machine(recursiveprot)
  m:cgroup("/top")
  if child_setting then assert(m:cgroup("/top/p/a"):write(knob, child_setting)) end
  cache(m, "/top/p/a", 4 * MiB)
  cache(m, "/top/p/b", 4 * MiB)
  cache(m, "/top/z", 4 * MiB)
  local p = m:cgroup("/top/p")
  if type(value) == "function" then value = tostring(value(pages(p:current())) * PAGE) end
  assert(p:write(knob, value))
  return m
end

local function reclaim(m, size)
  return m:cgroup("/top"):write("memory.reclaim", size)
end

-- ===================== the option =====================

function test_option_is_off_by_default_and_shown_by_info()
  lu.assertFalse(memlab.new{}:info().cgroup.memory_recursiveprot)
  lu.assertFalse(memlab.new{ cgroup = {} }:info().cgroup.memory_recursiveprot)
  local m = memlab.new{ cgroup = { memory_recursiveprot = true } }
  lu.assertTrue(m:info().cgroup.memory_recursiveprot)
  lu.assertTrue(m:check())
end

function test_bad_option_values_raise_naming_the_option()
  H.assert_raises({ "bad option 'cgroup' (table expected, got boolean)" },
                   memlab.new, { cgroup = true })
  H.assert_raises({ "bad option 'cgroup.memory_recursiveprot' (boolean expected, got number)" },
                   memlab.new, { cgroup = { memory_recursiveprot = 1 } })
  H.assert_raises({ "bad option 'cgroup.memory_recursiveprot' (boolean expected, got string)" },
                   memlab.new, { cgroup = { memory_recursiveprot = "yes" } })
  H.assert_raises({ "bad option 'cgroup.nsdelegate' (not a cgroup2 mount option memlab has" },
                   memlab.new, { cgroup = { nsdelegate = true } })
  H.assert_raises({ "bad option 'cgroup' (mount option names are strings, got a number key)" },
                   memlab.new, { cgroup = { true } })
end

-- ===================== unclaimed protection goes down =====================

-- /top/p protects 64M (16384 pages) and a and b claim nothing, so each
-- gets 16384 * 1088 / 2176 = 8192 pages, above its usage: reclaim of /top
-- passes both by and takes from z.  Without the option a and b have none.
function test_a_parents_protection_covers_children_without_their_own()
  for _, knob in ipairs{ "memory.min", "memory.low" } do
    local off = tree(false, knob, "64M")
    assert(reclaim(off, "2M"))
    lu.assertTrue(file_pages(off, "/top/p/a") + file_pages(off, "/top/p/b") < 2048, knob)
    lu.assertTrue(off:check())

    local on = tree(true, knob, "64M")
    assert(reclaim(on, "2M"))
    lu.assertEquals(file_pages(on, "/top/p/a"), 1024, knob)
    lu.assertEquals(file_pages(on, "/top/p/b"), 1024, knob)
    lu.assertTrue(file_pages(on, "/top/z") <= 1024 - 512, knob)	-- z gave the 2M
    -- passed by, not reclaimed: memory.low was not broken into
    lu.assertEquals(on:cgroup("/top/p/a"):events(true).low, 0, knob)
    lu.assertEquals(on:cgroup("/top/p/b"):events(true).low, 0, knob)
    lu.assertTrue(on:check())
  end
end

-- The share is handed on at every level: /top/p/q sets nothing and still
-- passes p's protection to its own children.
function test_protection_recurses_through_a_cgroup_without_settings()
  for _, recursiveprot in ipairs{ false, true } do
    local m = machine(recursiveprot)
    m:cgroup("/top")
    cache(m, "/top/p/q/a", 4 * MiB)
    cache(m, "/top/p/q/b", 4 * MiB)
    cache(m, "/top/z", 4 * MiB)
    assert(m:cgroup("/top/p"):write("memory.min", "64M"))
    assert(reclaim(m, "2M"))
    local kept = file_pages(m, "/top/p/q/a") + file_pages(m, "/top/p/q/b")
    if recursiveprot then
      lu.assertEquals(kept, 2048)
    else
      lu.assertTrue(kept < 2048)
    end
    lu.assertTrue(m:check())
  end
end

-- ===================== the floored arithmetic =====================

-- p's memory.min is set to its usage U (2176 pages) or one page less.  At
-- U each child gets (U - 0) * 1088 / (U - 0) = 1088 = its usage: below its
-- effective min, passed by even though /top's reclaim finds nothing else
-- (EAGAIN).  At U - 1 the floor gives floor((U - 1) * 1088 / U) = 1087,
-- one page short, so a (walked first) is scanned -- in proportion to its
-- unprotected share, SWAP_CLUSTER_MAX >> priority pages, the first of them
-- at priority 5 -- and gives one page; then p's usage is U - 1 and
-- floor((U - 1) * u / (U - 1)) = u protects both again.
function test_the_share_is_floored()
  local at = tree(true, "memory.min", function(u) return u end)
  lu.assertNil(reclaim(at, "12M"))
  lu.assertEquals(file_pages(at, "/top/p/a"), 1024)
  lu.assertEquals(file_pages(at, "/top/p/b"), 1024)
  lu.assertEquals(file_pages(at, "/top/z"), 0)
  lu.assertTrue(at:check())

  local short = tree(true, "memory.min", function(u) return u - 1 end)
  lu.assertNil(reclaim(short, "12M"))
  lu.assertEquals(file_pages(short, "/top/p/a"), 1023)
  lu.assertEquals(file_pages(short, "/top/p/b"), 1024)
  lu.assertTrue(short:check())

  -- without the option neither keeps anything: their effective min is 0
  local off = tree(false, "memory.min", function(u) return u end)
  assert(reclaim(off, "12M"))
  lu.assertEquals(file_pages(off, "/top/p/a") + file_pages(off, "/top/p/b"), 0)
  lu.assertTrue(off:check())
end

-- The unclaimed part is shared by unprotected usage, so no page is
-- protected twice.  a claims 1M (256 pages) of its own; p protects U.
-- b gets (U - 256) * 1088 / (U - 256) = 1088, all of its usage (shared by
-- total usage it would get (U - 256) * 1088 / U = 960 and lose pages); a
-- gets 256 + (U - 256) * 832 / (U - 256) = 1088.  At U - 1, a gets
-- 256 + floor((U - 257) * 832 / (U - 256)) = 1087 and gives a page.
function test_unclaimed_protection_is_shared_by_unprotected_usage()
  local at = tree(true, "memory.min", function(u) return u end, "1M")
  lu.assertNil(reclaim(at, "12M"))
  lu.assertEquals(file_pages(at, "/top/p/a"), 1024)
  lu.assertEquals(file_pages(at, "/top/p/b"), 1024)
  lu.assertTrue(at:check())

  local short = tree(true, "memory.min", function(u) return u - 1 end, "1M")
  lu.assertNil(reclaim(short, "12M"))
  lu.assertEquals(file_pages(short, "/top/p/a"), 1023)
  lu.assertEquals(file_pages(short, "/top/p/b"), 1024)
  lu.assertTrue(short:check())

  -- without the option a keeps what it claims, 256 pages of usage (less
  -- its page tables and stock, 64 pages: 192 of file at most), b nothing
  local off = tree(false, "memory.min", function(u) return u end, "1M")
  lu.assertNil(reclaim(off, "12M"))
  lu.assertTrue(file_pages(off, "/top/p/a") <= 192)
  lu.assertTrue(file_pages(off, "/top/p/a") > 0)
  lu.assertEquals(file_pages(off, "/top/p/b"), 0)
  lu.assertTrue(off:check())
end

-- When the children claim more than the parent has, the parent's
-- protection is split by claims, with or without the option: p protects
-- 2M (512 pages), a and b claim 4M each and use 1088 pages, so each gets
-- 1088 * 512 / 2176 = 256 pages at first.  Reclaim takes them down until
-- their usage fits in p's 512 pages; then the claims are no longer
-- overcommitted and each keeps what it uses -- and there is nothing left
-- unclaimed for the option to share out.
function test_overcommitted_claims_are_not_changed_by_the_option()
  local kept = {}
  for _, recursiveprot in ipairs{ false, true } do
    local m = machine(recursiveprot)
    m:cgroup("/top")
    for _, name in ipairs{ "a", "b" } do
      assert(m:cgroup("/top/p/" .. name):write("memory.min", "4M"))
      cache(m, "/top/p/" .. name, 4 * MiB)
    end
    cache(m, "/top/z", 4 * MiB)
    assert(m:cgroup("/top/p"):write("memory.min", "2M"))
    lu.assertNil(reclaim(m, "12M"))
    local a, b = m:cgroup("/top/p/a"), m:cgroup("/top/p/b")
    lu.assertTrue(pages(a:current() + b:current()) <= 512)
    lu.assertTrue(a:stat().file > 0 and b:stat().file > 0)
    kept[#kept + 1] = { a:stat().file, b:stat().file }
    lu.assertTrue(m:check())
  end
  lu.assertEquals(kept[2], kept[1])
end

-- ===================== memory.low and memory.events =====================

-- memory.low is given up when nothing else is left: /top's reclaim asks
-- for more than z has.  With the option a and b are below their effective
-- low (8192 pages each), so the last resort reclaims them and counts low
-- in their memory.events; without it their effective low is 0 and they
-- are reclaimed as any, never counting low.
function test_low_events_count_the_inherited_protection()
  local off = tree(false, "memory.low", "64M")
  assert(reclaim(off, "12M"))
  for _, name in ipairs{ "a", "b" } do
    lu.assertEquals(off:cgroup("/top/p/" .. name):events(true).low, 0, name)
  end
  lu.assertTrue(off:check())

  local on = tree(true, "memory.low", "64M")
  assert(reclaim(on, "12M"))
  local a, b = on:cgroup("/top/p/a"), on:cgroup("/top/p/b")
  lu.assertTrue(a:events(true).low > 0)
  lu.assertEquals(b:events(true).low, a:events(true).low)	-- alike, so treated alike
  lu.assertEquals(file_pages(on, "/top/p/a") + file_pages(on, "/top/p/b"), 0)
  lu.assertTrue(on:check())
end

os.exit(lu.LuaUnit.run(), true)
