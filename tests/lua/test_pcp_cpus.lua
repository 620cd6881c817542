-- test_pcp_cpus.lua: a pageset per CPU and zone (mm/page_alloc.c
-- zone->per_cpu_pageset), as Linux 6.18 has them: a page goes to the
-- pageset of the CPU that frees it, an allocation takes from its own
-- CPU's, a drain of all CPUs gives every one back, and each CPU's high is
-- the zone's split over the online CPUs (docs/lua-api.md, m:zones(),
-- m:page() and m:drain_pages()).
--
-- Run from the source root:  build/memlab run tests/lua/test_pcp_cpus.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

-- These tests follow the page allocator's arithmetic with Linux's usual
-- min_free_kbytes, int_sqrt(16 * lowmem kB): their machines have THP off
-- (khugepaged raises min_free_kbytes while it is on).
local function new(opts)
  local m = memlab.new(opts)
  m:thp{ enabled = "never" }
  return m
end

local PAGE = 4096
local MOVABLE = "GFP_HIGHUSER_MOVABLE"   -- anonymous pages' list: the same pcp list

local function zone(m, name)
  for _, z in ipairs(m:zones()) do
    if z.name == name then return z end
  end
end

-- n anonymous pages written by p; 31 fill and empty its CPU's lru_add
-- batch, so that munmap frees them at once (no batch holds them).
local function written(p, n)
  local a = assert(p:mmap(nil, n * PAGE, "rw", "private|anonymous"))
  for i = 0, n - 1 do assert(p:write(a + i * PAGE, "x")) end
  local pfns = {}
  for i = 0, n - 1 do pfns[#pfns + 1] = p:translate(a + i * PAGE).pfn end
  return a, pfns
end

-- A task on cpu frees 31 pages of the zone it faulted them from: their
-- pfns, the zone, the task; before(), if given, runs once the task is made.
local function freed_on(m, cpu, before)
  local p = m:spawn{ name = "freer" }
  assert(p:run_on(cpu))
  if before then before() end
  local a, pfns = written(p, 31)
  assert(p:munmap(a, 31 * PAGE))
  return pfns, m:page(pfns[1]).zone, p
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- A page freed by a task on CPU 1 goes to CPU 1's pageset, not CPU 0's.
function test_free_goes_to_the_freeing_cpus_pageset()
  local m <close> = new{ ram = "64M", seed = 1, cpus = 2 }
  local before
  local pfns, zname = freed_on(m, 1, function() before = zone(m, "DMA32").pagesets[1].count end)
  lu.assertEquals(zname, "DMA32")
  for _, pfn in ipairs(pfns) do
    local pg = m:page(pfn)
    lu.assertTrue(pg.pcp)
    lu.assertEquals(pg.pcp_cpu, 1)
  end
  local z = zone(m, zname)
  lu.assertEquals(z.pagesets[1].count, before)     -- CPU 0's: untouched by the frees
  lu.assertTrue(z.pagesets[2].count >= #pfns)
  lu.assertEquals(z.pcp_total, z.pagesets[1].count + z.pagesets[2].count)
  lu.assertEquals(z.pcp.count, z.pagesets[1].count)    -- pcp: CPU 0's, as before
  lu.assertTrue(m:check())
end

-- An allocation on CPU 0 (the host's call) does not take CPU 1's pages:
-- on one CPU the same allocation gets the page freed last, the hot one.
function test_allocation_takes_from_its_own_cpu()
  for _, cpus in ipairs{ 1, 2 } do
    local m <close> = new{ ram = "64M", seed = 1, cpus = cpus }
    local pfns = freed_on(m, cpus - 1)
    local pfn = assert(m:alloc_pages(0, MOVABLE))
    if cpus == 1 then
      lu.assertEquals(pfn, pfns[#pfns])
    else
      lu.assertNil(set_of(pfns)[pfn])
      for _, q in ipairs(pfns) do lu.assertEquals(m:page(q).pcp_cpu, 1) end
    end
    lu.assertTrue(m:check())
  end
end

-- m:drain_pages() (drain_all_pages) empties every CPU's pagesets.
function test_drain_pages_drains_every_cpu()
  local m <close> = new{ ram = "64M", seed = 1, cpus = 2 }
  local pfns = freed_on(m, 1)
  local own = assert(m:alloc_pages(0, MOVABLE))
  assert(m:free_pages(own, 0))                     -- back onto CPU 0's list
  lu.assertEquals(m:page(own).pcp_cpu, 0)
  local z = zone(m, "DMA32")
  lu.assertTrue(z.pagesets[1].count > 0 and z.pagesets[2].count > 0)
  local free = z.free
  lu.assertTrue(m:drain_pages())
  for _, zz in ipairs(m:zones()) do
    lu.assertEquals(zz.pcp_total, 0, zz.name)
    for _, ps in ipairs(zz.pagesets) do lu.assertEquals(ps.count, 0, zz.name) end
  end
  lu.assertEquals(zone(m, "DMA32").free, free + z.pcp_total)   -- NR_FREE_PAGES counts them now
  for _, pfn in ipairs(pfns) do
    lu.assertTrue(m:page(pfn).free)
    lu.assertNil(m:page(pfn).pcp_cpu)
  end
  lu.assertTrue(m:page(own).free)
  lu.assertTrue(m:check())
end

-- The pagesets section of one zone in /proc/zoneinfo: { {cpu=, count=, ...}, ... }
local function zoneinfo_pagesets(m, zname)
  local text = m:proc("zoneinfo")
  local section = text:match("Node 0, zone%s+" .. zname .. "\n(.-)\n  node_unreclaimable")
  local blocks = {}
  for cpu, body in section:gmatch("\n    cpu: (%d+)(.-)\n  vm stats threshold: %d+") do
    local b = { cpu = tonumber(cpu) }
    for k, v in body:gmatch("\n%s+([%w_]+):%s+(%-?%d+)") do b[k] = tonumber(v) end
    blocks[#blocks + 1] = b
  end
  local thresholds = {}
  for t in section:gmatch("\n  vm stats threshold: (%d+)") do thresholds[#thresholds + 1] = tonumber(t) end
  return blocks, thresholds
end

-- fls(): the position of the highest bit set, 0 for 0.
local function fls(x)
  local n = 0
  while x > 0 do n, x = n + 1, x >> 1 end
  return n
end

-- /proc/zoneinfo: a "cpu: N" block per online CPU, each with Linux's high
-- for 2 CPUs: zone_highsize() splits the low watermark (high_min) and
-- managed / 8 (high_max) over the CPUs, at least 4 batches; the batch
-- does not depend on the CPU count.  The vm stats threshold is
-- calculate_normal_threshold(): 2 * fls(CPUs) * (1 + fls(managed / 128 MiB)).
function test_zoneinfo_shows_a_pageset_per_cpu()
  local one <close> = new{ ram = "1G", seed = 1 }
  local m <close> = new{ ram = "1G", seed = 1, cpus = 2 }
  for _, zname in ipairs{ "DMA", "DMA32" } do
    local z, z1 = zone(m, zname), zone(one, zname)
    local batch = z1.pcp.batch
    local high_min = math.max(z.low // 2, 4 * batch)
    local high_max = math.max(z.managed // 8 // 2, 4 * batch)
    local blocks, thresholds = zoneinfo_pagesets(m, zname)
    lu.assertEquals(#blocks, 2, zname)
    for cpu = 0, 1 do
      local b = blocks[cpu + 1]
      lu.assertEquals(b.cpu, cpu)
      lu.assertEquals({ b.batch, b.high_min, b.high_max }, { batch, high_min, high_max }, zname)
      local ps = z.pagesets[cpu + 1]
      lu.assertEquals({ ps.cpu, ps.count, ps.high, ps.batch, ps.high_min, ps.high_max },
                      { cpu, b.count, b.high, b.batch, b.high_min, b.high_max })
    end
    local mem = z.managed >> 15                    -- 128 MiB units of 4K pages
    lu.assertEquals(thresholds, { math.min(125, 2 * fls(2) * (1 + fls(mem))),
                                  math.min(125, 2 * fls(2) * (1 + fls(mem))) })
    lu.assertEquals(#zoneinfo_pagesets(one, zname), 1)
    lu.assertEquals(z1.pcp.high_min, math.max(z1.low, 4 * batch))  -- one CPU: not split
  end
  -- this machine's DMA32 (low 1251, managed 253952): batch (248 / 4 = 62,
  -- rounddown_pow_of_two(62 + 31) - 1 = 63), high_min 1251 / 2, high_max
  -- 253952 / 8 / 2
  local z = zone(m, "DMA32")
  lu.assertEquals({ z.low, z.managed }, { 1251, 253952 })
  lu.assertEquals({ z.pcp.batch, z.pcp.high_min, z.pcp.high_max }, { 63, 625, 15872 })
end

-- The split and the threshold for 3 and 4 CPUs (fls(3) = 2, fls(4) = 3).
function test_zoneinfo_with_three_and_four_cpus()
  for _, n in ipairs({ 3, 4 }) do
    local m <close> = new{ ram = "1G", seed = 1, cpus = n }
    local z = zone(m, "DMA32")
    local blocks, thresholds = zoneinfo_pagesets(m, "DMA32")
    lu.assertEquals(#blocks, n)
    for cpu = 1, n do
      lu.assertEquals({ blocks[cpu].batch, blocks[cpu].high_min, blocks[cpu].high_max },
                      { 63, 1251 // n, 253952 // 8 // n }, n .. " CPUs")
      lu.assertEquals(thresholds[cpu], 2 * fls(n) * (1 + fls(z.managed >> 15)))
    end
  end
end

-- Direct reclaim that frees nothing drains every CPU's pagesets before
-- its last try (drain_all_pages(NULL) in __alloc_pages_direct_reclaim):
-- CPU 0's allocations reach the pages CPU 1 freed.
function test_direct_reclaim_drains_the_other_cpu()
  local m <close> = new{ ram = "64M", seed = 1, cpus = 2 }
  local pfns = freed_on(m, 1)
  lu.assertTrue(zone(m, "DMA32").pagesets[2].count >= #pfns)
  m:trace{ events = { "mm_page_pcpu_drain", "mm_vmscan_direct_reclaim_begin" } }
  local got = {}
  while true do                                  -- no OOM killer: __GFP_NORETRY
    local pfn = m:alloc_pages(0, MOVABLE .. "|__GFP_NORETRY")
    if not pfn then break end
    got[pfn] = true
  end
  for _, z in ipairs(m:zones()) do lu.assertEquals(z.pagesets[2].count, 0, z.name) end
  -- The first direct reclaim's drain gives back each of CPU 1's pages
  -- once.  (Later rounds may drain some again: CPU 0's refills take
  -- pages from the buddy lists, these among them, as the spawn's slab
  -- pages left those lists ordered.)
  local drained, rounds = 0, 0
  for _, ev in ipairs(m:trace_events()) do
    if ev.event == "mm_vmscan_direct_reclaim_begin" then rounds = rounds + 1
    elseif rounds == 1 and set_of(pfns)[ev.pfn] then drained = drained + 1 end
  end
  lu.assertEquals(drained, #pfns)
  for _, pfn in ipairs(pfns) do lu.assertTrue(got[pfn], pfn) end   -- and CPU 0 took it
  lu.assertTrue(m:check())
end

-- kcompactd, giving up on a zone (COMPACT_COMPLETE), drains that zone's
-- pagesets on every CPU (kcompactd_do_work's drain_all_pages(zone)) before
-- it defers it: CPU 1's freed pages may merge now.
local COMPACT_COMPLETE = 5                  -- enum compact_result

function test_kcompactd_drains_every_cpu()
  local m <close> = new{ ram = "64M", seed = 1, zones = "single", cpus = 2 }
  local BASE, n = 0x10000000, 12000
  local p = m:spawn{ name = "frag", aslr = false }
  assert(p:mmap(BASE, n * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, "x")) end
  for i = 0, n - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  local f = m:file{ path = "/data/f", size = 40 << 20 }   -- the page cache fills the rest
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  for off = 0, (40 << 20) - 65536, 65536 do assert(p:pread(f, buf, 65536, off)) end
  local pfns = freed_on(m, 1)
  lu.assertTrue(zone(m, "Normal").pagesets[2].count >= #pfns)
  local seen = {}
  m:on("mm_compaction_end", function(ev) seen[#seen + 1] = ev.status end)
  m:on("mm_compaction_kcompactd_sleep", function()
    seen[#seen + 1] = zone(m, "Normal").pagesets[2].count
  end)
  while m:alloc_pages(9, "GFP_NOWAIT") do end      -- wakes kswapd, which wakes kcompactd
  lu.assertEquals(seen, { COMPACT_COMPLETE, 0 })
  for _, pfn in ipairs(pfns) do lu.assertFalse(m:page(pfn).pcp) end
  lu.assertTrue(m:check())
end

-- m:lru_add_drain_all() runs each CPU's drain on that CPU (the work it
-- queues, lru_add_drain_per_cpu): a page whose last reference was CPU 1's
-- lru_add batch goes to CPU 1's pageset, whoever asked for the drain.
function test_lru_add_drain_all_frees_on_the_batchs_cpu()
  local m <close> = new{ ram = "64M", seed = 1, cpus = 2 }
  local p = m:spawn{ name = "p" }
  assert(p:run_on(1))
  local a, pfns = written(p, 4)                  -- they wait in CPU 1's batch
  assert(p:run_on(0))
  assert(p:munmap(a, 4 * PAGE))                  -- munmap does not drain: the batch holds them
  for _, pfn in ipairs(pfns) do lu.assertEquals(m:page(pfn).refcount, 1) end
  lu.assertTrue(m:lru_add_drain_all())           -- the host's call, on CPU 0
  for _, pfn in ipairs(pfns) do lu.assertEquals(m:page(pfn).pcp_cpu, 1) end
  lu.assertTrue(m:check())
end

-- memlab.new{ pcp = false }: every CPU's pageset is as zone_pcp_disable() leaves it.
function test_pcp_disabled_on_every_cpu()
  local m <close> = new{ ram = "256M", seed = 1, cpus = 2, pcp = false }
  local pfns = freed_on(m, 1)
  for _, pfn in ipairs(pfns) do lu.assertTrue(m:page(pfn).free) end
  for _, z in ipairs(m:zones()) do
    lu.assertEquals(#z.pagesets, 2)
    for _, ps in ipairs(z.pagesets) do
      lu.assertEquals({ ps.count, ps.high, ps.batch, ps.high_min, ps.high_max }, { 0, 0, 1, 0, 0 },
                      z.name)
    end
  end
  lu.assertTrue(m:check())
end

-- A run of high-order frees empties the pcp (free_high) once free_count
-- passes batch + high_min / 2 (6.18's threshold), and high_min is split
-- over the CPUs: 100 order-2 frees on a 1 GiB machine stay on one CPU's
-- list (the threshold is 63 + 1251 / 2 = 688 pages), while with two CPUs
-- (63 + 625 / 2 = 375) the 95th free gives them all back.
function test_free_high_threshold_follows_high_min()
  for _, case in ipairs({ { cpus = 1, left = 420 }, { cpus = 2, left = 0 } }) do
    local m <close> = new{ ram = "1G", seed = 1, cpus = case.cpus }
    local blocks = {}
    for i = 1, 100 do blocks[i] = assert(m:alloc_pages(2, "GFP_KERNEL")) end
    for i = 1, 100 do assert(m:free_pages(blocks[i], 2)) end
    local z = zone(m, "DMA32")
    lu.assertEquals(z.pagesets[1].count, case.left, case.cpus .. " CPUs")
    lu.assertTrue(m:check())
  end
end

-- Trace events say which CPU they happened on: a page freed by a task on
-- CPU 1 is freed there (the text dump's ftrace column too).
function test_trace_events_carry_their_cpu()
  local m <close> = new{ ram = "64M", seed = 1, cpus = 2 }
  local p = m:spawn{ name = "p" }
  assert(p:run_on(1))
  local a = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  assert(p:write(a, "x"))
  m:trace{ events = { "mm_page_alloc" } }
  local b = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  assert(p:write(b, "x"))
  local ev = m:trace_events()
  lu.assertTrue(#ev >= 1)
  for _, e in ipairs(ev) do lu.assertEquals(e.cpu, 1) end
  lu.assertStrContains(m:trace_dump("text"), "[001]")
  lu.assertStrContains(m:trace_dump("jsonl"), '"cpu":1,')
  m:trace(false)
end

os.exit(lu.LuaUnit.run(), true)
