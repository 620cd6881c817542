-- test_bindings.lua: the Lua API of memlab (docs/lua-api.md), end to end.
--
-- Run from the source root:  build/memlab run tests/lua/test_bindings.lua -o text
-- Every misuse must raise a Lua error naming the function; every outcome
-- Linux reports with an errno must return nil, "ENAME", errno; nothing may
-- crash the host.

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, TWO63, HUGE_STRING, NIL = H.NAN, H.INF, H.TWO63, H.HUGE_STRING, H.NIL
local try, assert_raises, names, show, value = H.try, H.assert_raises, H.names, H.show, H.value
local assert_rejects, assert_errno = H.assert_rejects, H.assert_errno

local PROC_FILES = { "meminfo", "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat",
                     "extfrag/extfrag_index", "extfrag/unusable_index" }
local MIGRATETYPES = { "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate" }

local function nr_free(m)
  return m:vmstat().nr_free_pages
end

-- ===================================================================
-- the module table
-- ===================================================================

TestModule = {}

function TestModule:test_version()
  lu.assertEquals(memlab.version, "0.1.0")
end

function TestModule:test_json()
  -- decoding is lua-cjson's; encoding is memlab's: exact integers, sorted keys
  lu.assertIs(memlab.json.cjson, require("cjson"))
  lu.assertIs(memlab.json.decode, require("cjson").decode)
  lu.assertEquals(memlab.json.decode(memlab.json.encode({ a = 1, b = { 1, 2 } })), { a = 1, b = { 1, 2 } })
  lu.assertEquals(memlab.json.encode({ b = 0x7ffff7fff000, a = { 1, 2 }, c = {}, d = 0.1, e = "x\n\"" }),
                  '{"a":[1,2],"b":140737354133504,"c":{},"d":0.1,"e":"x\\n\\\""}')
  lu.assertEquals(memlab.json.encode(math.maxinteger), "9223372036854775807")
  lu.assertEquals(memlab.json.encode({ [1] = "a", [3] = "c" }), '{"1":"a","3":"c"}')
  lu.assertEquals(memlab.json.encode(memlab.json.null), "null")
  lu.assertErrorMsgContains("cannot encode a function", memlab.json.encode, { f = print })
  lu.assertErrorMsgContains("cannot encode NaN", memlab.json.encode, 0 / 0)
  local t = {}; t.t = t
  lu.assertErrorMsgContains("nested deeper", memlab.json.encode, t)
  lu.assertErrorMsgContains("table key must be", memlab.json.encode, { [true] = 1 })
end

function TestModule:test_gfp_constants()
  lu.assertEquals(memlab.__GFP_ZERO, 0x100)
  lu.assertEquals(memlab.__GFP_DMA, 0x01)
  lu.assertEquals(memlab.__GFP_HIGH, 0x20)
  local reclaim = memlab.__GFP_DIRECT_RECLAIM | memlab.__GFP_KSWAPD_RECLAIM
  lu.assertEquals(memlab.GFP_KERNEL, reclaim | memlab.__GFP_IO | memlab.__GFP_FS)
  lu.assertEquals(memlab.GFP_ATOMIC, memlab.__GFP_HIGH | memlab.__GFP_KSWAPD_RECLAIM)
  lu.assertEquals(memlab.GFP_HIGHUSER_MOVABLE,
                  memlab.GFP_USER | memlab.__GFP_HIGHMEM | memlab.__GFP_MOVABLE)
  for _, name in ipairs({ "GFP_KERNEL", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_NOIO", "GFP_NOFS",
                          "GFP_USER", "GFP_DMA", "GFP_DMA32", "GFP_HIGHUSER",
                          "GFP_HIGHUSER_MOVABLE", "GFP_TRANSHUGE", "GFP_TRANSHUGE_LIGHT",
                          "__GFP_MOVABLE", "__GFP_RECLAIMABLE", "__GFP_NOWARN",
                          "__GFP_NOFAIL", "__GFP_NORETRY", "__GFP_COMP", "__GFP_ACCOUNT" }) do
    lu.assertTrue(math.type(memlab[name]) == "integer", name)
  end
end

function TestModule:test_strerror_errname()
  lu.assertEquals(memlab.strerror(12), "Cannot allocate memory")
  lu.assertEquals(memlab.strerror(-12), "Cannot allocate memory")
  lu.assertEquals(memlab.strerror(2), "No such file or directory")
  lu.assertEquals(memlab.strerror(99999), "Unknown error")
  lu.assertEquals(memlab.strerror(math.maxinteger), "Unknown error")
  lu.assertEquals(memlab.strerror(math.mininteger), "Unknown error")
  lu.assertEquals(memlab.errname(12), "ENOMEM")
  lu.assertEquals(memlab.errname(-22), "EINVAL")
  lu.assertEquals(memlab.errname(14), "EFAULT")
  lu.assertNil(memlab.errname(99999))
  lu.assertEquals(memlab.strerror(12.0), "Cannot allocate memory")
end

local GOOD_SIZES = {
  { 65536, 65536 }, { 4096.0, 4096 }, { "512", 512 }, { "512B", 512 }, { "64K", 65536 },
  { "64k", 65536 }, { "64KB", 65536 }, { "64KiB", 65536 }, { "64kib", 65536 },
  { "2M", 2 << 20 }, { "2MiB", 2 << 20 }, { "4g", 4 << 30 }, { "1GiB", 1 << 30 },
  { "3T", 3 << 40 }, { "5P", 5 << 50 }, { "8191P", 8191 << 50 },
  { "9223372036854775807", math.maxinteger }, { math.maxinteger, math.maxinteger },
}

function TestModule:test_parse_size()
  for _, case in ipairs(GOOD_SIZES) do
    local v = memlab.parse_size(case[1])
    lu.assertEquals(v, case[2], "parse_size(" .. show(case[1]) .. ")")
    lu.assertEquals(math.type(v), "integer")
  end
end

local BAD_SIZES = {
  0, -1, 0.5, 1.5, -0.0, NAN, INF, -INF, TWO63, -TWO63, math.mininteger, "", "0", "0K", "K", "B",
  "iB", "64X", "64 K", " 64K", "64K ", "64KiBB", "64iB", "1.5G", "-1", "+1", "0x10", "1e3",
  "8192P", "9223372036854775808", "99999999999999999999999", "64\0K", HUGE_STRING,
  NIL, true, {}, print, io.stdout,
}

function TestModule:test_parse_size_rejects()
  for _, v in ipairs(BAD_SIZES) do
    if v == NIL then v = nil end
    local ok, err = try(memlab.parse_size, v)
    lu.assertFalse(ok, "parse_size(" .. show(v) .. ") should raise")
    lu.assertStrContains(err, "parse_size")
  end
  lu.assertStrContains(select(2, try(memlab.parse_size, "8192P")), "2^63")
  lu.assertStrContains(select(2, try(memlab.parse_size, 0)), "> 0")
end

function TestModule:test_module_function_misuse()
  for _, name in ipairs({ "strerror", "errname" }) do
    for _, v in ipairs({ "12", 0.5, NAN, INF, {}, true }) do
      assert_raises({ name }, memlab[name], v)
    end
    assert_raises({ name }, memlab[name])
  end
end

-- ===================================================================
-- memlab.new and m:info()
-- ===================================================================

TestNew = {}

function TestNew:test_defaults()
  local m = memlab.new()
  local info = m:info()
  lu.assertEquals(info.arch, "x86_64")
  lu.assertEquals(info.ram, 256 << 20)
  lu.assertEquals(info.page_size, 4096)
  lu.assertEquals(info.page_shift, 12)
  lu.assertEquals(info.nr_frames, (256 << 20) // 4096)
  lu.assertEquals(info.max_order, 10)
  lu.assertEquals(info.pageblock_order, 9)
  lu.assertEquals(info.seed, 1)
  lu.assertEquals(info.watermark_scale_factor, 10)
  lu.assertIsBoolean(info.mobility_grouping)
  lu.assertTrue(info.nr_zones >= 1)
  lu.assertTrue(info.nr_reserved >= 0 and info.nr_reserved < info.nr_frames)
  lu.assertTrue(info.min_free_kbytes > 0)
  for _, key in ipairs({ "page_size", "page_shift", "ram", "nr_frames", "nr_reserved", "max_order",
                         "pageblock_order", "nr_zones", "min_free_kbytes",
                         "watermark_scale_factor", "seed" }) do
    lu.assertEquals(math.type(info[key]), "integer", key)
  end
  m:close()
  lu.assertEquals(memlab.new({}):info().ram, 256 << 20)
  lu.assertEquals(memlab.new(nil):info().ram, 256 << 20)
end

function TestNew:test_every_option()
  local m = memlab.new{ arch = "x86_64", ram = "128M", page_size = 4096, seed = 42,
                        zones = "single", min_free_kbytes = 2048, watermark_scale_factor = 100 }
  local info = m:info()
  lu.assertEquals(info.arch, "x86_64")
  lu.assertEquals(info.ram, 128 << 20)
  lu.assertEquals(info.page_size, 4096)
  lu.assertEquals(info.seed, 42)
  lu.assertEquals(info.nr_zones, 1)
  lu.assertEquals(info.min_free_kbytes, 2048)
  lu.assertEquals(info.watermark_scale_factor, 100)
  lu.assertEquals(#m:zones(), 1)
  lu.assertEquals(m:zones()[1].name, "Normal")
  m:close()
end

function TestNew:test_pcp_option()
  -- Linux's default: a freed order-0 page stays on the per-CPU list
  local m = memlab.new{ ram = "64M" }
  local before = m:proc("buddyinfo")
  local pfn = m:alloc_pages(0)
  m:free_pages(pfn, 0)
  lu.assertTrue(m:page(pfn).pcp)
  lu.assertNotEquals(m:proc("buddyinfo"), before)
  lu.assertTrue(m:zones()[2].pcp.count > 0)
  lu.assertTrue(m:drain_pages())
  lu.assertEquals(m:zones()[2].pcp.count, 0)
  lu.assertEquals(m:proc("buddyinfo"), before)
  lu.assertTrue(m:check())
  m:close()
  -- pcp = false: a pure buddy machine, the free merges back at once
  m = memlab.new{ ram = "64M", pcp = false }
  before = m:proc("buddyinfo")
  pfn = m:alloc_pages(0)
  m:free_pages(pfn, 0)
  lu.assertFalse(m:page(pfn).pcp)
  lu.assertTrue(m:page(pfn).free)
  lu.assertEquals(m:proc("buddyinfo"), before)
  lu.assertEquals(m:zones()[2].pcp.high, 0)
  lu.assertEquals(m:zones()[2].pcp.batch, 1)
  lu.assertTrue(m:check())
  m:close()
  lu.assertTrue(memlab.new{ pcp = true }:check())
end

function TestNew:test_ram_forms()
  for _, ram in ipairs({ "64M", "64MiB", 64 << 20, (64 << 20) + 0.0, "65536K" }) do
    local m = memlab.new{ ram = ram }
    lu.assertEquals(m:info().ram, 64 << 20, show(ram))
    m:close()
  end
end

function TestNew:test_arm64_page_sizes()
  for _, case in ipairs({ { 4096, 12, 10 }, { "16K", 14, 11 }, { "64K", 16, 13 } }) do
    local m = memlab.new{ arch = "arm64", ram = "1G", page_size = case[1] }
    local info = m:info()
    lu.assertEquals(info.arch, "arm64")
    lu.assertEquals(info.page_shift, case[2])
    lu.assertEquals(info.page_size, 1 << case[2])
    lu.assertEquals(info.max_order, case[3])
    lu.assertEquals(info.nr_frames, (1 << 30) >> case[2])
    lu.assertEquals(#m:zones()[1].nr_free, case[3] + 1)
    lu.assertTrue(m:check())
    m:close()
  end
end

function TestNew:test_core_einval_is_an_error()
  -- configurations Linux cannot run with: the core says -EINVAL
  for _, opts in ipairs({
    { arch = "x86_64", page_size = "64K" },
    { arch = "arm64", page_size = 8192 },
    { ram = 4096 * 1000 + 1 },
    { ram = "4K" },
    { ram = "1M" },
    { page_size = 3000 },
  }) do
    local err = assert_raises({ "memlab.new: " }, memlab.new, opts)
    lu.assertNotStrContains(err, "stack traceback")
  end
  lu.assertStrContains(select(2, try(memlab.new, { arch = "x86_64", page_size = "64K" })), "page")
  lu.assertStrContains(select(2, try(memlab.new, { ram = "1M" })), "small")
end

local BAD_OPTIONS = {
  { { bogus = 1 }, "bogus" },
  { { RAM = "64M" }, "RAM" },
  { { ram = "64M", Seed = 1 }, "Seed" },
  { { [1] = "x86_64" }, "option names must be strings" },
  { { [true] = 1 }, "option names must be strings" },
  { { arch = "sparc" }, "arch" },
  { { arch = "X86_64" }, "arch" },
  { { arch = 1 }, "arch" },
  { { ram = 0 }, "ram" },
  { { ram = -1 }, "ram" },
  { { ram = 0.5 }, "ram" },
  { { ram = NAN }, "ram" },
  { { ram = INF }, "ram" },
  { { ram = -INF }, "ram" },
  { { ram = TWO63 }, "ram" },
  { { ram = "8192P" }, "ram" },
  { { ram = "lots" }, "ram" },
  { { ram = HUGE_STRING }, "ram" },
  { { ram = {} }, "ram" },
  { { ram = true }, "ram" },
  { { page_size = 1 << 40 }, "page_size" },
  { { page_size = "x" }, "page_size" },
  { { seed = -1 }, "seed" },
  { { seed = 0.5 }, "seed" },
  { { seed = NAN }, "seed" },
  { { seed = "1" }, "seed" },
  { { zones = "numa" }, "zones" },
  { { zones = 1 }, "zones" },
  { { min_free_kbytes = -1 }, "min_free_kbytes" },
  { { min_free_kbytes = INF }, "min_free_kbytes" },
  { { min_free_kbytes = 1 << 40 }, "memlab.new" },
  { { watermark_scale_factor = 0 }, "watermark_scale_factor" },
  { { watermark_scale_factor = 3001 }, "watermark_scale_factor" },
  { { watermark_scale_factor = 1 << 40 }, "watermark_scale_factor" },
  { { watermark_scale_factor = 1.5 }, "watermark_scale_factor" },
  { { pcp = 0 }, "pcp" },
  { { pcp = "off" }, "pcp" },
  { { cgroup = true }, "'cgroup'" },
  { { cgroup = HUGE_STRING }, "'cgroup'" },
  { { cgroup = { memory_recursiveprot = NAN } }, "cgroup.memory_recursiveprot" },
  { { cgroup = { memory_recursiveprot = {} } }, "cgroup.memory_recursiveprot" },
  { { cgroup = { [HUGE_STRING] = true } }, "cgroup.xxx" },
  { { cgroup = { [1.5] = true } }, "'cgroup'" },
  { { cgroup = { memory_localevents = true } }, "cgroup.memory_localevents" },
  { { xstate_size = 575 }, "memlab.new" },
  { { xstate_size = 16385 }, "memlab.new" },
  { { xstate_size = -1 }, "xstate_size" },
  { { xstate_size = "big" }, "xstate_size" },
  { { arch = "arm64", xstate_size = 832 }, "memlab.new" },
}

function TestNew:test_bad_options()
  for _, case in ipairs(BAD_OPTIONS) do
    local ok, err = try(memlab.new, case[1])
    lu.assertFalse(ok, "memlab.new" .. show(case[1]) .. " should raise")
    lu.assertStrContains(err, "new", false)
    lu.assertStrContains(err, case[2], false)
  end
  for _, v in ipairs({ "256M", 1, true, print, io.stdout }) do
    assert_raises({ "new" }, memlab.new, v)
  end
end

function TestNew:test_unknown_key_is_named()
  local err = assert_raises({ "memlab.new" }, memlab.new, { ram = "64M", colour = "blue" })
  lu.assertStrContains(err, "unknown option 'colour'")
end

-- ===================================================================
-- the page allocator
-- ===================================================================

TestAlloc = {}

function TestAlloc:setUp()
  self.m = memlab.new{ ram = "256M", seed = 7 }
end

function TestAlloc:tearDown()
  self.m:close()
end

function TestAlloc:test_round_trip_every_order()
  local m = self.m
  local before = nr_free(m)
  for order = 0, m:info().max_order do
    local pfn = m:alloc_pages(order)
    lu.assertEquals(math.type(pfn), "integer")
    lu.assertEquals(pfn % (1 << order), 0, "a block is aligned to its order")
    m:drain_pages()     -- a refill may have put more on the per-CPU lists
    lu.assertEquals(nr_free(m), before - (1 << order))
    local page = m:page(pfn)
    lu.assertFalse(page.free)
    lu.assertFalse(page.buddy)
    lu.assertEquals(page.order, order)
    lu.assertTrue(m:free_pages(pfn, order))
    lu.assertTrue(m:drain_pages())
    lu.assertEquals(nr_free(m), before)
  end
  lu.assertTrue(m:check())
end

function TestAlloc:test_many_blocks_round_trip()
  local m = self.m
  local before = nr_free(m)
  local blocks = {}
  for i = 1, 300 do
    local order = i % 5
    local pfn = assert(m:alloc_pages(order))
    blocks[#blocks + 1] = { pfn, order }
  end
  local seen = {}
  for _, b in ipairs(blocks) do
    for p = b[1], b[1] + (1 << b[2]) - 1 do
      lu.assertNil(seen[p], "frame handed out twice")
      seen[p] = true
    end
  end
  for i = #blocks, 1, -2 do m:free_pages(blocks[i][1], blocks[i][2]) end
  for i = #blocks - 1, 1, -2 do m:free_pages(blocks[i][1], blocks[i][2]) end
  m:drain_pages()			-- the per-CPU lists keep what they may
  lu.assertEquals(nr_free(m), before)
  lu.assertTrue(m:check())
end

function TestAlloc:test_gfp_forms()
  local m = self.m
  for _, gfp in ipairs({ memlab.GFP_KERNEL, memlab.GFP_KERNEL | memlab.__GFP_ZERO,
                         "GFP_KERNEL|__GFP_ZERO", "kernel|zero", "kernel, zero",
                         " GFP_KERNEL | __GFP_ZERO ", "highuser_movable", "HIGHUSER_MOVABLE",
                         "atomic", "gfp_atomic", "GFP_DMA", "dma32", "nowait", "user",
                         "kernel,__gfp_nowarn", "" }) do
    local pfn, err = m:alloc_pages(0, gfp)
    lu.assertNotNil(pfn, "alloc_pages(0, " .. show(gfp) .. "): " .. tostring(err))
    m:free_pages(pfn, 0)
  end
  local pfn = m:alloc_pages(1, nil)
  m:free_pages(pfn, 1)
  lu.assertTrue(m:check())
end

function TestAlloc:test_gfp_zone_selection()
  local m = self.m
  local pfn = m:alloc_pages(0, "GFP_DMA")
  lu.assertEquals(m:page(pfn).zone, "DMA")
  m:free_pages(pfn, 0)
  pfn = m:alloc_pages(0, "highuser_movable")
  lu.assertEquals(m:page(pfn).migratetype, "Movable")
  m:free_pages(pfn, 0)
end

function TestAlloc:test_gfp_zero_gives_zeroed_frames()
  local m = self.m
  local ps = m:info().page_size
  local dirty = {}
  for i = 1, 8 do
    local pfn = m:alloc_pages(2)
    m:write_phys({ pfn = pfn }, string.rep("\xAA", 4 * ps))
    dirty[i] = pfn
  end
  for _, pfn in ipairs(dirty) do m:free_pages(pfn, 2) end
  local pfn = m:alloc_pages(2, "kernel|zero")
  lu.assertEquals(m:read_phys({ pfn = pfn }, 4 * ps), string.rep("\0", 4 * ps))
  m:free_pages(pfn, 2)
end

function TestAlloc:test_enomem_when_a_zone_is_exhausted()
  local m = self.m
  local before = nr_free(m)
  local got = {}
  local pfn, name, errno
  for _ = 1, 100000 do
    pfn, name, errno = m:alloc_pages(0, "GFP_DMA")
    if not pfn then break end
    got[#got + 1] = pfn
  end
  lu.assertNil(pfn)
  lu.assertEquals(name, "ENOMEM")
  lu.assertEquals(errno, 12)
  lu.assertEquals(select("#", m:alloc_pages(0, "GFP_DMA")), 3)
  lu.assertTrue(#got > 0)
  local dma = m:zones()[1]
  lu.assertEquals(dma.name, "DMA")
  lu.assertTrue(dma.free <= dma.low, "the DMA zone was drained to its watermarks")
  for _, p in ipairs(got) do
    lu.assertEquals(m:page(p).zone, "DMA")
  end
  for _, p in ipairs(got) do m:free_pages(p, 0) end
  m:drain_pages()
  lu.assertEquals(nr_free(m), before)
  lu.assertTrue(m:check())
end

function TestAlloc:test_enomem_for_large_orders()
  local m = memlab.new{ ram = "64M", zones = "single" }
  local max_order = m:info().max_order
  local got = {}
  while true do
    local pfn, name, errno = m:alloc_pages(max_order)
    if not pfn then
      lu.assertEquals({ name, errno }, { "ENOMEM", 12 })
      break
    end
    got[#got + 1] = pfn
  end
  lu.assertTrue(#got >= 1)
  for _, p in ipairs(got) do m:free_pages(p, max_order) end
  lu.assertTrue(m:check())
  m:close()
end

function TestAlloc:test_double_free_raises_bad_page()
  local m = self.m
  local pfn = m:alloc_pages(3)
  m:free_pages(pfn, 3)
  local before = nr_free(m)
  local err = assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(pfn, 3) end)
  lu.assertStrContains(err, "BUG: Bad page state")
  lu.assertEquals(nr_free(m), before, "a bad free changes nothing")
  lu.assertTrue(m:check())
end

function TestAlloc:test_wrong_order_free_raises_bad_page()
  local m = self.m
  local pfn = m:alloc_pages(2)
  local before = nr_free(m)
  assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(pfn, 1) end)
  assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(pfn, 3) end)
  assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(pfn + 1, 0) end)
  lu.assertEquals(nr_free(m), before)
  m:free_pages(pfn, 2)
  lu.assertTrue(m:check())
end

function TestAlloc:test_out_of_range_free_raises_bad_page()
  local m = self.m
  local n = m:info().nr_frames
  for _, pfn in ipairs({ n, n + 1, n * 4, 1 << 40, math.maxinteger }) do
    assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(pfn, 0) end)
  end
  lu.assertTrue(m:check())
end

function TestAlloc:test_reserved_free_raises_bad_page()
  local m = self.m
  local reserved
  for pfn = 0, m:info().nr_frames - 1 do
    if m:page(pfn).reserved then reserved = pfn break end
  end
  lu.assertNotNil(reserved, "x86_64 reserves some frames")
  assert_raises({ "free_pages: ", "Bad page" }, function() return m:free_pages(reserved, 0) end)
  lu.assertTrue(m:check())
end

function TestAlloc:test_bad_page_report_is_collected_not_printed()
  -- the report is the error message; it is reported once, and the next call is clean
  local m = self.m
  local pfn = m:alloc_pages(0)
  m:free_pages(pfn, 0)
  local err = select(2, try(m.free_pages, m, pfn, 0))
  lu.assertEquals(err:match("^free_pages: "), "free_pages: ")
  local p2 = m:alloc_pages(0)
  lu.assertTrue(m:free_pages(p2, 0))
end

function TestAlloc:test_page()
  local m = self.m
  local info = m:info()
  local pfn = m:alloc_pages(0)
  local p = m:page(pfn)
  lu.assertEquals(p.pfn, pfn)
  lu.assertIsString(p.zone)
  lu.assertIsBoolean(p.buddy)
  lu.assertIsBoolean(p.free)
  lu.assertIsBoolean(p.reserved)
  lu.assertEquals(math.type(p.refcount), "integer")
  lu.assertTrue(p.refcount >= 1)
  lu.assertEquals(math.type(p.order), "integer")
  lu.assertIsString(p.migratetype)
  lu.assertFalse(p.pcp)
  m:free_pages(pfn, 0)
  -- Linux keeps a freed order-0 page on the per-CPU list: not free in the buddy
  lu.assertTrue(m:page(pfn).pcp)
  lu.assertFalse(m:page(pfn).free)
  lu.assertEquals(m:page(pfn).refcount, 0)
  m:drain_pages()
  lu.assertFalse(m:page(pfn).pcp)
  lu.assertTrue(m:page(pfn).free)
  local last = m:page(info.nr_frames - 1)
  lu.assertEquals(last.pfn, info.nr_frames - 1)
  -- some free block heads are buddies
  local found = false
  for q = 0, info.nr_frames - 1, 1 << info.max_order do
    local pq = m:page(q)
    if pq.buddy then
      found = true
      lu.assertTrue(pq.free)
      break
    end
  end
  lu.assertTrue(found)
end

-- ===================================================================
-- physical memory contents
-- ===================================================================

TestPhys = {}

function TestPhys:setUp()
  self.m = memlab.new{ ram = "64M" }
end

function TestPhys:tearDown()
  self.m:close()
end

function TestPhys:test_round_trip_by_address()
  local m = self.m
  local s = "hello\0world\255"
  lu.assertTrue(m:write_phys(0x123456, s))
  lu.assertEquals(m:read_phys(0x123456, #s), s)
  lu.assertEquals(m:read_phys(0x123456 - 1, 1), "\0")
  lu.assertEquals(m:read_phys(0x123456, 0), "")
end

function TestPhys:test_round_trip_by_pfn()
  local m = self.m
  local ps = m:info().page_size
  local pfn = m:alloc_pages(1)
  local block = {}
  for i = 0, 2 * ps - 1 do block[#block + 1] = string.char(i % 251) end
  block = table.concat(block)
  lu.assertTrue(m:write_phys({ pfn = pfn }, block))
  lu.assertEquals(m:read_phys({ pfn = pfn }, 2 * ps), block)
  lu.assertEquals(m:read_phys(pfn * ps, 2 * ps), block)
  lu.assertEquals(m:read_phys({ pfn = pfn, offset = 10 }, 5), block:sub(11, 15))
  lu.assertTrue(m:write_phys({ pfn = pfn + 1, offset = ps - 3 }, "xyz"))
  lu.assertEquals(m:read_phys((pfn + 2) * ps - 3, 3), "xyz")
  lu.assertEquals(m:read_phys({ pfn = pfn, offset = ps }, 1), block:sub(ps + 1, ps + 1))
  m:free_pages(pfn, 1)
end

function TestPhys:test_untouched_memory_reads_zero()
  local m = self.m
  local ram = m:info().ram
  lu.assertEquals(m:read_phys(ram - 4096, 4096), string.rep("\0", 4096))
end

function TestPhys:test_edges_of_ram()
  local m = self.m
  local ram = m:info().ram
  lu.assertEquals(m:read_phys(ram - 1, 1), "\0")
  lu.assertEquals(m:read_phys(ram, 0), "")
  lu.assertTrue(m:write_phys(ram - 2, "ab"))
  lu.assertEquals(m:read_phys(ram - 2, 2), "ab")
  lu.assertTrue(m:write_phys(ram, ""))
  assert_raises({ "read_phys", "leave RAM" }, function() return m:read_phys(ram, 1) end)
  assert_raises({ "read_phys", "leave RAM" }, function() return m:read_phys(ram - 1, 2) end)
  assert_raises({ "read_phys", "leave RAM" }, function() return m:read_phys(ram + 1, 0) end)
  assert_raises({ "read_phys", "leave RAM" }, function() return m:read_phys(0, ram + 1) end)
  assert_raises({ "read_phys" }, function() return m:read_phys({ pfn = ram // 4096 }, 1) end)
  assert_raises({ "write_phys", "leave RAM" }, function() return m:write_phys(ram - 1, "ab") end)
  assert_raises({ "write_phys" }, function() return m:write_phys({ pfn = ram // 4096 }, "a") end)
  assert_raises({ "write_phys" }, function() return m:write_phys(math.maxinteger, "a") end)
end

-- ===================================================================
-- statistics: proc, vmstat, zones, indices
-- ===================================================================

TestStats = {}

function TestStats:setUp()
  self.m = memlab.new{ ram = "512M", seed = 5 }
end

function TestStats:tearDown()
  self.m:close()
end

function TestStats:test_proc_files()
  local m = self.m
  for _, path in ipairs(PROC_FILES) do
    local text, err = m:proc(path)
    lu.assertIsString(text, path .. ": " .. tostring(err))
    lu.assertTrue(#text > 0, path)
    lu.assertEquals(text:sub(-1), "\n", path)
  end
  lu.assertStrContains(m:proc("meminfo"), "MemTotal:")
  lu.assertStrContains(m:proc("buddyinfo"), "Node 0, zone")
end

function TestStats:test_proc_enoent()
  local m = self.m
  for _, path in ipairs({ "nope", "", "meminfo/", "self/maps", "../meminfo", "meminfo\0x",
                          HUGE_STRING }) do
    local text, name, errno = m:proc(path)
    lu.assertNil(text, show(path))
    lu.assertEquals(name, "ENOENT")
    lu.assertEquals(errno, 2)
  end
end

function TestStats:test_vmstat_table_matches_proc()
  local m = self.m
  local t = m:vmstat()
  lu.assertEquals(math.type(t.nr_free_pages), "integer")
  lu.assertTrue(t.nr_free_pages > 0)
  local lines = 0
  for name, value in m:proc("vmstat"):gmatch("(%S+) (%d+)\n") do
    lines = lines + 1
    lu.assertEquals(t[name], math.tointeger(value), name)
  end
  local n = 0
  for _, v in pairs(t) do
    n = n + 1
    lu.assertEquals(math.type(v), "integer")
  end
  lu.assertEquals(n, lines, "every counter of /proc/vmstat is in the table")
end

function TestStats:test_vmstat_counts_allocations()
  local m = self.m
  local before = m:vmstat()
  local pfn = m:alloc_pages(2, "GFP_DMA")
  local after = m:vmstat()
  lu.assertEquals(after.nr_free_pages, before.nr_free_pages - 4)
  lu.assertEquals(after.pgalloc_dma, before.pgalloc_dma + 4)
  m:free_pages(pfn, 2)
  m:drain_pages()
  lu.assertEquals(m:vmstat().nr_free_pages, before.nr_free_pages)
end

function TestStats:test_zones_table()
  local m = self.m
  local info = m:info()
  local zones = m:zones()
  lu.assertEquals(#zones, info.nr_zones)
  local total_free, managed = 0, 0
  for i, z in ipairs(zones) do
    lu.assertEquals(z.index, i - 1)
    lu.assertIsString(z.name)
    lu.assertIsBoolean(z.populated)
    for _, key in ipairs({ "start_pfn", "spanned", "present", "managed", "free", "min", "low",
                           "high", "promo", "boost", "reserved_highatomic", "pgalloc" }) do
      lu.assertEquals(math.type(z[key]), "integer", z.name .. "." .. key)
    end
    lu.assertEquals(#z.protection, 5)
    lu.assertEquals(#z.nr_free, info.max_order + 1)
    lu.assertEquals(#z.fragmentation_index, info.max_order + 1)
    lu.assertEquals(#z.unusable_index, info.max_order + 1)
    local from_blocks = 0
    for order = 0, info.max_order do
      from_blocks = from_blocks + z.nr_free[order + 1] * (1 << order)
      local by_type = 0
      for _, mt in ipairs(MIGRATETYPES) do by_type = by_type + z.free_by_type[mt][order + 1] end
      lu.assertEquals(by_type, z.nr_free[order + 1], z.name .. " order " .. order)
    end
    lu.assertEquals(from_blocks, z.free, z.name .. ": the free lists hold the free pages")
    for _, mt in ipairs(MIGRATETYPES) do
      lu.assertEquals(#z.free_by_type[mt], info.max_order + 1)
      lu.assertEquals(math.type(z.pageblocks[mt]), "integer")
    end
    if z.populated then
      lu.assertTrue(z.min <= z.low and z.low <= z.high, z.name .. " watermarks")
      lu.assertTrue(z.managed <= z.present and z.present <= z.spanned)
    end
    total_free = total_free + z.free
    managed = managed + z.managed
  end
  lu.assertEquals(total_free, m:vmstat().nr_free_pages)
  lu.assertTrue(managed <= info.nr_frames - info.nr_reserved)
  lu.assertEquals(zones[1].name, "DMA")
  lu.assertEquals(zones[2].name, "DMA32")
  lu.assertEquals(zones[3].name, "Normal")
end

function TestStats:test_zones_and_vmstat_encode_as_json()
  local m = self.m
  local json = memlab.json
  local zones = json.decode(json.encode(m:zones()))
  lu.assertEquals(#zones, m:info().nr_zones)
  lu.assertEquals(zones[1].name, m:zones()[1].name)
  lu.assertEquals(zones[2].nr_free, m:zones()[2].nr_free)
  local vm = json.decode(json.encode(m:vmstat()))
  lu.assertEquals(vm.nr_free_pages, m:vmstat().nr_free_pages)
  json.encode(m:info())
  json.encode(m:page(0))
end

function TestStats:test_indices()
  local m = self.m
  local zones = m:zones()
  local info = m:info()
  for _, z in ipairs(zones) do
    for order = 0, info.max_order do
      local fi = m:fragmentation_index(z.index, order)
      local ui = m:unusable_index(z.index, order)
      lu.assertEquals(math.type(fi), "float")
      lu.assertAlmostEquals(fi, z.fragmentation_index[order + 1] / 1000, 1e-12)
      lu.assertAlmostEquals(ui, z.unusable_index[order + 1] / 1000, 1e-12)
      lu.assertEquals(m:fragmentation_index(z.name, order), fi)
      lu.assertEquals(m:fragmentation_index(z.name:lower(), order), fi)
      lu.assertEquals(m:unusable_index(z.name:upper(), order), ui)
      lu.assertTrue(ui >= 0 and ui <= 1)
      lu.assertTrue(fi == -1 or (fi >= 0 and fi <= 1))
    end
  end
  -- a fresh machine can satisfy order 0 in DMA32: the index is -1
  lu.assertEquals(m:fragmentation_index("dma32", 0), -1.0)
  lu.assertEquals(m:unusable_index("DMA32", 0), 0.0)
end

function TestStats:test_check()
  lu.assertTrue(self.m:check())
end

-- ===================================================================
-- lifetime
-- ===================================================================

TestLifetime = {}

local METHODS = { "info", "alloc_pages", "free_pages", "read_phys", "write_phys", "proc",
                  "vmstat", "zones", "fragmentation_index", "unusable_index", "page", "drain_pages", "check" }

function TestLifetime:test_tostring()
  local m = memlab.new{ ram = "256M" }
  lu.assertEquals(tostring(m), "memlab.machine (x86_64, 256M)")
  m:close()
  lu.assertEquals(tostring(m), "memlab.machine (closed)")
  m = memlab.new{ arch = "arm64", ram = "1G", page_size = "64K" }
  lu.assertEquals(tostring(m), "memlab.machine (arm64, 1G)")
  m:close()
  m = memlab.new{ ram = "1536M" }
  lu.assertEquals(tostring(m), "memlab.machine (x86_64, 1536M)")
  m:close()
end

function TestLifetime:test_metatable()
  local m = memlab.new{ ram = "64M" }
  local mt = getmetatable(m)
  lu.assertEquals(mt.__name, "memlab.machine")
  lu.assertIsFunction(mt.__gc)
  lu.assertIsFunction(mt.__close)
  lu.assertIsFunction(mt.__tostring)
  lu.assertIsTable(mt.__index)
  for _, name in ipairs(METHODS) do lu.assertIsFunction(m[name], name) end
  lu.assertIsFunction(m.close)
  lu.assertEquals(type(m), "userdata")
  m:close()
end

function TestLifetime:test_close_is_idempotent()
  local m = memlab.new{ ram = "64M" }
  m:close()
  m:close()
  getmetatable(m).__gc(m)
  getmetatable(m).__close(m, nil)
  lu.assertEquals(tostring(m), "memlab.machine (closed)")
end

function TestLifetime:test_closed_machine_raises()
  local m = memlab.new{ ram = "64M" }
  m:close()
  local args = { alloc_pages = { 0 }, free_pages = { 0, 0 }, read_phys = { 0, 1 },
                 write_phys = { 0, "x" }, proc = { "meminfo" }, fragmentation_index = { 0, 0 },
                 unusable_index = { 0, 0 }, page = { 0 } }
  for _, name in ipairs(METHODS) do
    local a = args[name] or {}
    local err = assert_raises({ "attempt to use a closed machine" },
                              function() return m[name](m, table.unpack(a)) end)
    lu.assertTrue(names(err, name), err)
  end
end

function TestLifetime:test_to_be_closed_variable()
  local outer
  do
    local m <close> = memlab.new{ ram = "64M" }
    outer = m
    lu.assertTrue(m:check())
  end
  lu.assertEquals(tostring(outer), "memlab.machine (closed)")
  local ok = pcall(function()
    local m <close> = memlab.new{ ram = "64M" }
    outer = m
    error("boom")
  end)
  lu.assertFalse(ok)
  lu.assertEquals(tostring(outer), "memlab.machine (closed)")
end

function TestLifetime:test_garbage_collection()
  for _ = 1, 50 do
    local m = memlab.new{ ram = "64M" }
    m:alloc_pages(3)
  end
  collectgarbage()
  collectgarbage()
  local weak = setmetatable({}, { __mode = "v" })
  weak[1] = memlab.new{ ram = "64M" }
  collectgarbage()
  collectgarbage()
  lu.assertNil(weak[1])
end

function TestLifetime:test_machines_are_independent()
  local a = memlab.new{ ram = "64M" }
  local b = memlab.new{ ram = "64M" }
  local before = nr_free(b)
  a:alloc_pages(4)
  a:write_phys(4096, "only in a")
  lu.assertEquals(nr_free(b), before)
  lu.assertEquals(b:read_phys(4096, 9), string.rep("\0", 9))
  a:close()
  lu.assertTrue(b:check())
  b:close()
end

-- ===================================================================
-- determinism
-- ===================================================================

TestDeterminism = {}

-- The same operations on a machine: a fixed pseudo-random mix of orders and flags.
local function workload(m)
  local x = 12345
  local function rand(n)
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  end
  local flags = { "kernel", "highuser_movable", "GFP_DMA", "atomic", "kernel|zero", "user",
                  memlab.GFP_KERNEL | memlab.__GFP_RECLAIMABLE }
  local live = {}
  for _ = 1, 400 do
    if #live > 0 and rand(3) == 0 then
      local i = rand(#live) + 1
      m:free_pages(live[i][1], live[i][2])
      table.remove(live, i)
    else
      local order = rand(6)
      local pfn = m:alloc_pages(order, flags[rand(#flags) + 1])
      if pfn then live[#live + 1] = { pfn, order } end
    end
  end
  return live
end

function TestDeterminism:test_same_seed_same_text()
  local a = memlab.new{ ram = "128M", seed = 99 }
  local b = memlab.new{ ram = "128M", seed = 99 }
  local la, lb = workload(a), workload(b)
  lu.assertEquals(la, lb)
  for _, path in ipairs(PROC_FILES) do
    lu.assertEquals(a:proc(path), b:proc(path), path)
  end
  lu.assertEquals(a:vmstat(), b:vmstat())
  lu.assertEquals(a:zones(), b:zones())
  lu.assertTrue(a:check())
  for _, blk in ipairs(la) do a:free_pages(blk[1], blk[2]) end
  a:drain_pages()
  lu.assertEquals(nr_free(a), nr_free(memlab.new{ ram = "128M", seed = 99 }))
  a:close()
  b:close()
end

-- ===================================================================
-- hostile input: every misuse raises a Lua error naming the function
-- ===================================================================

TestHostile = {}

function TestHostile:setUp()
  self.m = memlab.new{ ram = "64M" }
end

function TestHostile:tearDown()
  self.m:close()
end

-- Values wrong for any integer argument (order, pfn, n, zone index).
local BAD_INTEGERS = { NIL, {}, "1", "x", true, false, NAN, INF, -INF, TWO63, -TWO63, -1,
                       math.mininteger, 0.5, -0.5, 1e300, HUGE_STRING, print, io.stdout,
                       coroutine.create(function() end) }

function TestHostile:test_documented_message()
  local m = self.m
  local err = select(2, try(function() return m:alloc_pages(11) end))
  lu.assertStrContains(err, "bad argument #1 to 'alloc_pages' (order must be 0..10)")
  err = select(2, try(function() return m:free_pages(0, 0.5) end))
  lu.assertStrContains(err, "bad argument #2 to 'free_pages'")
  -- called as a function rather than a method, the numbering counts self
  err = select(2, try(function() return m.alloc_pages(m, 11) end))
  lu.assertStrContains(err, "bad argument #2 to 'alloc_pages' (order must be 0..10)")
  -- with no name at the call site, the message still names the function
  err = select(2, try(m.alloc_pages, m, 11))
  lu.assertStrContains(err, "'alloc_pages'")
end

function TestHostile:test_alloc_pages()
  local m = self.m
  local bad_orders = { 11, 64, math.maxinteger, table.unpack(BAD_INTEGERS) }
  assert_rejects(m, "alloc_pages", { 0, "kernel" }, 1, bad_orders)
  assert_rejects(m, "alloc_pages", { 0, "kernel" }, 2, {
    {}, true, NAN, INF, -INF, -1, 0.5, 2 ^ 32, 1 << 32, TWO63, math.mininteger, "bogus",
    "GFP_BOGUS", "__GFP_", "kernel|", "|kernel", "kernel||zero", "kernel|bogus", "kernel zero",
    "0", "0x10", "GFP_KERNEL\0", HUGE_STRING, string.rep("kernel|", 100000) .. "x", print,
    io.stdout })
  local err = select(2, try(function() return m:alloc_pages(0, "kernel|frobnicate") end))
  lu.assertStrContains(err, "frobnicate")
  -- all is well afterwards
  lu.assertTrue(m:check())
end

function TestHostile:test_free_pages()
  local m = self.m
  assert_rejects(m, "free_pages", { 0, 0 }, 1, BAD_INTEGERS)
  assert_rejects(m, "free_pages", { 0, 0 }, 2, { 11, math.maxinteger, table.unpack(BAD_INTEGERS) })
  lu.assertTrue(m:check())
end

function TestHostile:test_read_phys()
  local m = self.m
  local ram = m:info().ram
  local bad_addrs = { ram + 1, math.maxinteger, {}, { pfn = -1 }, { pfn = 0.5 }, { pfn = "1" },
                      { pfn = NAN }, { pfn = INF }, { pfn = 1, offset = -1 },
                      { pfn = 1, offset = 0.5 }, { pfn = 1, bogus = 2 }, { 1 },
                      { pfn = math.maxinteger }, { pfn = 1 << 62 },
                      { pfn = 0, offset = math.maxinteger }, table.unpack(BAD_INTEGERS) }
  assert_rejects(m, "read_phys", { 0, 1 }, 1, bad_addrs)
  assert_rejects(m, "read_phys", { 0, 1 }, 2, { ram + 1, math.maxinteger, table.unpack(BAD_INTEGERS) })
end

function TestHostile:test_write_phys()
  local m = self.m
  local ram = m:info().ram
  assert_rejects(m, "write_phys", { 0, "x" }, 1, { ram, math.maxinteger, { pfn = -1 },
                                                   { pfn = 1 << 62 }, table.unpack(BAD_INTEGERS) })
  assert_rejects(m, "write_phys", { 0, "x" }, 2, { NIL, 1, 1.5, {}, true, print, io.stdout })
  -- a string longer than RAM
  local big = string.rep("y", ram + 1)
  assert_rejects(m, "write_phys", { 0, big }, 1, { 0 })
end

function TestHostile:test_proc()
  assert_rejects(self.m, "proc", { "meminfo" }, 1, { NIL, 1, {}, true, NAN, print, io.stdout })
end

function TestHostile:test_indices()
  local m = self.m
  for _, name in ipairs({ "fragmentation_index", "unusable_index" }) do
    assert_rejects(m, name, { 0, 0 }, 1, { "nosuch", "", HUGE_STRING, -1, m:info().nr_zones, 99,
                                           NIL, {}, true, NAN, INF, 0.5, TWO63, print })
    assert_rejects(m, name, { 0, 0 }, 2, { 11, math.maxinteger, table.unpack(BAD_INTEGERS) })
  end
end

function TestHostile:test_page()
  local m = self.m
  assert_rejects(m, "page", { 0 }, 1, { m:info().nr_frames, math.maxinteger,
                                         table.unpack(BAD_INTEGERS) })
end

function TestHostile:test_foreign_self()
  local m = self.m
  local foreign = { {}, "machine", 1, true, NAN, print, io.stdout, coroutine.create(print),
                    setmetatable({}, getmetatable(m)) }
  for _, name in ipairs(METHODS) do
    local f = m[name]
    for _, self_ in ipairs(foreign) do
      local ok, err = try(function() return f(self_, 0, 0) end)
      lu.assertFalse(ok, name .. " on " .. show(self_))
      lu.assertStrContains(err, "bad argument #1 to '" .. name .. "' (memlab.machine expected, got ")
    end
    local ok, err = try(function() return f() end)
    lu.assertFalse(ok)
    lu.assertStrContains(err, "'" .. name .. "'")
    -- no name at the call site
    ok, err = try(f, {})
    lu.assertFalse(ok)
    lu.assertStrContains(err, "bad argument #1 to '" .. name .. "' (memlab.machine expected, got table)")
  end
  local err = select(2, try(m.info, setmetatable({}, getmetatable(m))))
  lu.assertStrContains(err, "memlab.machine expected, got table")
  local mt = getmetatable(m)
  assert_raises({ "close" }, mt.__gc, {})
  assert_raises({ "close" }, m.close, io.stdout)
  assert_raises({ "__tostring" }, mt.__tostring, {})
  -- the real machine is unharmed
  lu.assertTrue(m:check())
end

function TestHostile:test_method_called_with_dot()
  local m = self.m
  local err = assert_raises({ "alloc_pages" }, function() return m.alloc_pages(0) end)
  lu.assertStrContains(err, "memlab.machine expected, got number")
end

os.exit(lu.LuaUnit.run(), true)
