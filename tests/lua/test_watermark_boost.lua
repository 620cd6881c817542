-- test_watermark_boost.lua: watermark boosting as Linux 6.18 does it.  An
-- allocation that falls back and tries to claim a pageblock of another
-- migratetype (try_to_claim_block, a free block smaller than a pageblock)
-- raises the zone's watermarks by a pageblock, up to max_boost
-- (watermark_boost_factor / 10000 of the high mark, at least a pageblock);
-- the next allocation that may wake kswapd wakes it, and kswapd reclaims
-- the boost without swapping, takes the boost off and wakes kcompactd for
-- a pageblock.
--
-- Run from the source root:  build/memlab run tests/lua/test_watermark_boost.lua -o text

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
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE = 4096
local BASE = 0x7e0000000000
local PAGEBLOCK = 512          -- pageblock_nr_pages on x86-64: 2 MiB

-- The zone's boost as /proc/zoneinfo shows it.
local function zoneinfo_boost(m, name)
  return tonumber(m:proc("zoneinfo"):match("zone%s+" .. name .. "%f[%s].-boost%s+(%d+)"))
end

-- max_boost of boost_watermark(): mult_frac(high, factor, 10000), at least a pageblock.
local function max_boost(high, factor)
  local b = high // 10000 * factor + high % 10000 * factor // 10000
  return b > PAGEBLOCK and b or PAGEBLOCK
end

-- Anonymous memory over most of RAM with every other page unmapped, a
-- file read into the holes, and the free pageblocks left taken: free
-- memory is plentiful but in pieces, so that a fallback can only claim a
-- pageblock it shares with other pages -- the fallback that boosts.
local function fragment(m, nr_anon, file_size)
  local p = m:spawn{ name = "frag", aslr = false }
  assert(p:mmap(BASE, nr_anon * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, nr_anon - 1 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  for i = 0, nr_anon - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  if file_size then
    local f = m:file{ path = "/data/f", size = file_size }
    local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
    for off = 0, file_size - 65536, 65536 do assert(p:pread(f, buf, 65536, off)) end
  end
  while m:alloc_pages(9, "__GFP_NOWARN") do end
  return p
end

-- 128 MiB, one zone, swap: boostable (32 pageblocks), no per-CPU lists so
-- that each allocation is one trip to the buddy lists.
local function machine()
  local m = new{ ram = "128M", swap = "64M", seed = 1, zones = "single", pcp = false }
  local high = m:zones()[1].high          -- no boost yet: the plain mark
  return m, high, fragment(m, 28000, 40 << 20)
end

-- Unmovable order-0 allocations that wake nobody (no __GFP_KSWAPD_RECLAIM)
-- until the zone's boost changes or n were made; returns how many.
local function alloc_until_boost_changes(m, zid, n)
  local boost, k = m:zones()[zid].boost, 0
  while m:zones()[zid].boost == boost and k < n do
    assert(m:alloc_pages(0, "__GFP_NOWARN"))
    k = k + 1
  end
  return k
end

-- GFP_KERNEL may wake kswapd: the first of its fallbacks that boosts
-- (again) sets ZONE_BOOSTED_WATERMARK, and rmqueue wakes kswapd; the zone
-- is above its high mark, so only the boost makes it wake.  kswapd runs
-- when that allocation returns.
local function wake_kswapd_by_boost(m)
  local runs, n = m:vmstat().pageoutrun, 0
  while m:vmstat().pageoutrun == runs and n < 5000 do
    assert(m:alloc_pages(0, "kernel"))
    n = n + 1
  end
  lu.assertEquals(m:vmstat().pageoutrun, runs + 1)
end

function test_default_factor()
  local m = new{ ram = "64M", seed = 1 }
  lu.assertEquals(m:sysctl().watermark_boost_factor, 15000)
  lu.assertEquals(m:sysctl{ watermark_boost_factor = 0 }.watermark_boost_factor, 0)
  H.assert_errno("EINVAL", 22, m:sysctl{ watermark_boost_factor = -1 })
  lu.assertEquals(m:sysctl().watermark_boost_factor, 0)
end

-- A claim of a shared pageblock boosts by one pageblock; the next claims
-- stop at max_boost.  Nothing woke kswapd (no __GFP_KSWAPD_RECLAIM), so
-- the boost stays, in the live watermarks too.
function test_claim_boosts_by_a_pageblock_up_to_max_boost()
  local m, high = machine()
  local z = m:zones()[1]
  local blocks, runs = z.pageblocks.Unmovable, m:vmstat().pageoutrun
  lu.assertEquals(z.boost, 0)
  lu.assertEquals(zoneinfo_boost(m, "Normal"), 0)
  lu.assertTrue(alloc_until_boost_changes(m, 1, 5000) < 5000)
  z = m:zones()[1]
  lu.assertEquals(z.boost, PAGEBLOCK)
  lu.assertEquals(zoneinfo_boost(m, "Normal"), PAGEBLOCK)
  lu.assertEquals(z.pageblocks.Unmovable, blocks + 1)         -- the block it claimed
  lu.assertEquals(z.high, high + PAGEBLOCK)                   -- wmark_pages() adds the boost
  lu.assertTrue(z.free > z.high)                              -- balanced: only the boost wakes kswapd
  local cap = max_boost(high, 15000)
  lu.assertEquals(cap, 805)                                   -- 537 * 1.5
  alloc_until_boost_changes(m, 1, 5000)
  lu.assertEquals(m:zones()[1].boost, cap)                    -- min(512 + 512, 805)
  blocks = m:zones()[1].pageblocks.Unmovable
  while m:zones()[1].pageblocks.Unmovable < blocks + 2 do assert(m:alloc_pages(0, "__GFP_NOWARN")) end
  lu.assertEquals(m:zones()[1].boost, cap)                    -- two claims more, still capped
  lu.assertEquals(zoneinfo_boost(m, "Normal"), cap)
  lu.assertEquals(m:vmstat().pageoutrun, runs)
  lu.assertTrue(m:check())
end

-- Free blocks of a type, all orders.
local function nr_free_of(z, mt)
  local n = 0
  for order, blocks in ipairs(z.free_by_type[mt]) do n = n + blocks * (1 << (order - 1)) end
  return n
end

-- A small movable request that finds no movable block only steals a
-- block of another type, without trying to claim its pageblock
-- (6.18's __rmqueue_steal): no boost.  Unmovable pageblocks with free
-- pages are made by claims (boosting), the boost is reclaimed, and every
-- other page of them freed: blocks of order 0, too small to claim from
-- (a movable request tries to claim from order pageblock_order / 2 up).
function test_movable_steal_does_not_boost()
  local m = machine()
  local pfns = {}
  for i = 1, 2000 do pfns[i] = assert(m:alloc_pages(0, "__GFP_NOWARN")) end
  wake_kswapd_by_boost(m)
  for _, pfn in ipairs(pfns) do
    if pfn % 2 == 0 then m:free_pages(pfn, 0) end
  end
  lu.assertEquals(m:zones()[1].boost, 0)
  while nr_free_of(m:zones()[1], "Movable") > 0 do
    assert(m:alloc_pages(0, "__GFP_NOWARN|__GFP_MOVABLE"))
  end
  local z = m:zones()[1]
  local others = nr_free_of(z, "Unmovable") + nr_free_of(z, "Reclaimable")
  lu.assertTrue(others > 500)
  for order = 5, #z.free_by_type.Unmovable do
    lu.assertEquals(z.free_by_type.Unmovable[order] + z.free_by_type.Reclaimable[order], 0)
  end
  -- 100 steals (the zone stays above its min mark: the fragmenting task's
  -- VMAs, one per page it kept, and their anon_vma_chains fill ~900 slab pages)
  for _ = 1, 100 do assert(m:alloc_pages(0, "__GFP_NOWARN|__GFP_MOVABLE")) end
  z = m:zones()[1]
  lu.assertEquals(nr_free_of(z, "Unmovable") + nr_free_of(z, "Reclaimable"), others - 100)
  lu.assertEquals(z.boost, 0)
  lu.assertTrue(m:check())
end

-- A claim that fails (the pageblock is not half free) has boosted all
-- the same, and __rmqueue_claim goes on to the next smaller order, whose
-- try boosts again; then the request steals.  Every pageblock is made
-- Unmovable and full (factor 0 meanwhile), then an order-5 block is freed
-- in one and an order-4 block in another: a movable order-4 request
-- tries both (32 and 16 free pages of 512) and steals the order-4 one.
function test_failed_claims_boost_at_each_order()
  local m = new{ ram = "128M", seed = 1, zones = "single", pcp = false }
  m:sysctl{ watermark_boost_factor = 0 }
  local pfns, allocated = {}, {}
  for pfn in function() return m:alloc_pages(4, "__GFP_NOWARN|__GFP_MEMALLOC") end do
    pfns[#pfns + 1], allocated[pfn] = pfn, true
  end
  local pairs_found = {}                       -- buddies both allocated, in two pageblocks
  for _, pfn in ipairs(pfns) do
    local last = pairs_found[#pairs_found]
    if pfn % 32 == 0 and allocated[pfn + 16] and (not last or last >> 9 ~= pfn >> 9) then
      pairs_found[#pairs_found + 1] = pfn
    end
  end
  local a, b = pairs_found[1], pairs_found[2]
  m:free_pages(a, 4)
  m:free_pages(a + 16, 4)                       -- merged: order 5
  m:free_pages(b, 4)                            -- its buddy stays allocated
  local z = m:zones()[1]
  for order = 5, #z.free_by_type.Movable do lu.assertEquals(z.free_by_type.Movable[order], 0) end
  lu.assertEquals(z.free_by_type.Unmovable[5], 1)
  lu.assertEquals(z.free_by_type.Unmovable[6], 1)
  local blocks, high = z.pageblocks.Unmovable, z.high
  m:sysctl{ watermark_boost_factor = 15000 }
  lu.assertEquals(m:alloc_pages(4, "__GFP_NOWARN|__GFP_MOVABLE|__GFP_MEMALLOC"), b)
  z = m:zones()[1]
  lu.assertEquals(z.boost, max_boost(high, 15000))   -- min(512 + 512, 805)
  lu.assertEquals(z.pageblocks.Unmovable, blocks)    -- neither claimed
  lu.assertTrue(m:check())
end

-- The boost wakes kswapd through the next allocation that may wake it.
-- kswapd reclaims the boost from the page cache without swapping the
-- anonymous pages, takes the boost off, and wakes kcompactd for a
-- pageblock.
function test_kswapd_reclaims_the_boost_without_swap()
  local m, _, p = machine()
  -- the anonymous pages old, at the inactive tail: reclaim that may swap
  -- takes them (the holes make madvise answer ENOMEM, as Linux's does)
  p:madvise(BASE, 28000 * PAGE, "cold")
  alloc_until_boost_changes(m, 1, 5000)
  lu.assertEquals(m:zones()[1].boost, PAGEBLOCK)
  local v0 = m:vmstat()
  lu.assertTrue(v0.nr_anon_pages > 10000 and v0.nr_file_pages > 9000)
  local seq = {}
  for _, e in ipairs{ "mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake",
                      "mm_compaction_wakeup_kcompactd", "mm_vmscan_kswapd_sleep" } do
    m:on(e, function(ev) seq[#seq + 1] = ev.event .. (ev.order and " " .. ev.order or "") end)
  end
  wake_kswapd_by_boost(m)
  lu.assertEquals(seq, { "mm_vmscan_wakeup_kswapd 0", "mm_vmscan_kswapd_wake 0",
                         "mm_compaction_wakeup_kcompactd 9", "mm_vmscan_kswapd_sleep" })
  local v, z = m:vmstat(), m:zones()[1]
  lu.assertEquals(z.boost, 0)
  lu.assertEquals(zoneinfo_boost(m, "Normal"), 0)
  lu.assertEquals(v.pswpout, v0.pswpout)                     -- boosted reclaim does not swap
  lu.assertTrue(v.pgsteal_kswapd - v0.pgsteal_kswapd >= 805)  -- the boost, from the page cache
  lu.assertTrue(v.nr_file_pages < v0.nr_file_pages)
  lu.assertEquals(v.pgsteal_direct, v0.pgsteal_direct)
  lu.assertEquals(v.compact_daemon_wake, v0.compact_daemon_wake + 1)
  lu.assertTrue(m:check())
end

-- With only anonymous memory, boosted reclaim finds nothing it may take:
-- the first pass frees nothing and kswapd stops (no IO for a boost), and
-- the boost is taken off all the same.  Reclaim that may swap would have
-- taken the old anonymous pages: at swappiness 200 it scans only them,
-- 14000 >> DEF_PRIORITY = 3 in the first pass.
function test_boosted_reclaim_never_swaps()
  local m = new{ ram = "128M", swap = "64M", seed = 1, zones = "single", pcp = false }
  m:sysctl{ swappiness = 200 }
  local p = fragment(m, 28000)
  p:madvise(BASE, 28000 * PAGE, "cold")
  alloc_until_boost_changes(m, 1, 5000)
  lu.assertEquals(m:zones()[1].boost, PAGEBLOCK)
  local v0 = m:vmstat()
  lu.assertEquals(v0.nr_file_pages, 0)
  wake_kswapd_by_boost(m)
  local v = m:vmstat()
  lu.assertEquals(v.pswpout, v0.pswpout)
  lu.assertEquals(v.pgsteal_kswapd, v0.pgsteal_kswapd)
  lu.assertEquals(m:zones()[1].boost, 0)
  lu.assertTrue(m:check())
end

-- 20 MiB on x86-64: DMA has 4095 pages, DMA32 944 -- fewer than four
-- pageblocks, too small to boost (it could OOM at once).  Unmovable
-- allocations claim shared pageblocks in both.
-- The MIN watermark ignores the boost for an order-0 __GFP_HIGH request
-- (zone_watermark_fast's second check against the unboosted MIN): with
-- free pages between the two effective marks it succeeds, as it does
-- with boosting off; a request without __GFP_HIGH does not.
function test_gfp_high_order0_ignores_the_boost_at_min()
  local m <close> = new{ ram = "128M", swap = "64M", seed = 1, zones = "single",
                                pcp = false }
  local p = m:spawn{ name = "frag", aslr = false }
  local BASE = 0x7e0000000000
  assert(p:mmap(BASE, 28000 * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, 27999 do assert(p:write(BASE + i * PAGE, "x")) end
  for i = 0, 27999, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  local f = m:file{ path = "/data/f", size = 40 << 20 }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  for off = 0, (40 << 20) - 65536, 65536 do assert(p:pread(f, buf, 65536, off)) end
  while m:alloc_pages(9, "__GFP_NOWARN") do end
  while m:zones()[1].boost == 0 do assert(m:alloc_pages(0, "__GFP_NOWARN")) end
  local z = m:zones()[1]
  local rawmin = z.min - z.boost
  -- __GFP_HIGH|ALLOC_NON_BLOCK: mark - mark / 2, less a quarter of that
  local function eff(mark) local x = mark - mark // 2; return x - x // 4 end
  local target = (eff(rawmin) + eff(rawmin + z.boost)) // 2
  while m:zones()[1].free > target do assert(m:alloc_pages(0, "__GFP_NOWARN|__GFP_MEMALLOC")) end
  lu.assertTrue(m:zones()[1].boost > 0)
  lu.assertNil(m:alloc_pages(0, "__GFP_NOWARN"))			-- below MIN, no reserves
  lu.assertNotNil(m:alloc_pages(0, "__GFP_HIGH|__GFP_NOWARN"))	-- the unboosted MIN
end

local function small_machine(factor)
  local m = new{ ram = "20M", seed = 1, pcp = false }
  if factor then m:sysctl{ watermark_boost_factor = factor } end
  lu.assertEquals(m:zones()[2].managed, 944)
  fragment(m, 4390)             -- (the task's kernel stack and its vmalloc tables take 8 pages)
  local before = { m:zones()[1].pageblocks.Unmovable, m:zones()[2].pageblocks.Unmovable }
  for _ = 1, 2000 do assert(m:alloc_pages(0, "__GFP_NOWARN")) end
  local z = m:zones()
  lu.assertTrue(z[1].pageblocks.Unmovable > before[1])        -- claims in both zones
  lu.assertTrue(z[2].pageblocks.Unmovable > before[2])
  lu.assertTrue(m:check())
  return m, z
end

function test_small_zone_is_not_boosted()
  local m, z = small_machine()
  lu.assertEquals(z[1].boost, PAGEBLOCK)
  lu.assertEquals(z[2].boost, 0)
  lu.assertEquals(zoneinfo_boost(m, "DMA32"), 0)
  lu.assertEquals(zoneinfo_boost(m, "DMA"), PAGEBLOCK)
end

function test_factor_zero_disables_boosting()
  local m, z = small_machine(0)
  lu.assertEquals(z[1].boost, 0)
  lu.assertEquals(z[2].boost, 0)
  lu.assertEquals(zoneinfo_boost(m, "DMA"), 0)
end

os.exit(lu.LuaUnit.run())
