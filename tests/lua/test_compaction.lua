-- test_compaction.lua: memory compaction and page migration as the bindings
-- show them (m:compact(), direct compaction in m:alloc_pages): fragmented
-- process memory becomes high-order free blocks, the pages keep their
-- contents at new frames, the counters and tracepoints carry Linux's names,
-- and unmovable pages block it.
--
-- Run from the source root:  build/memlab run tests/lua/test_compaction.lua -o text

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

local function machine()
  return new{ ram = "64M", seed = 1, debug_vm = true }
end

-- Blocks of order >= 9 (a pageblock, 2 MiB) free in zone DMA32, from buddyinfo.
local function free_blocks(m, from_order)
  m:drain_pages()
  local line = m:proc("buddyinfo"):match("zone%s+DMA32([^\n]*)")
  local n, order = 0, 0
  for count in line:gmatch("%d+") do
    if order >= from_order then n = n + tonumber(count) end
    order = order + 1
  end
  return n
end

-- n pages written with their number, then every other one unmapped.
local function fragment(m, n)
  local p = m:spawn{ name = "frag", aslr = false }
  assert(p:mmap(BASE, n * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  for i = 0, n - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  return p
end

local function delta(before, after, keys)
  local d = {}
  for _, k in ipairs(keys) do d[k] = after[k] - before[k] end
  return d
end

function test_compact_makes_high_order_blocks()
  local m = machine()
  local p = fragment(m, 4096)
  local frames = {}
  for i = 1, 4095, 2 do frames[i] = p:translate(BASE + i * PAGE).pfn end
  local blocks_before = free_blocks(m, 9)
  local before = m:vmstat()
  lu.assertTrue(m:compact())
  local after = m:vmstat()
  lu.assertTrue(free_blocks(m, 9) > blocks_before)
  local d = delta(before, after, { "pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
                                   "compact_free_scanned", "compact_isolated", "compact_stall",
                                   "compact_success", "compact_fail", "nr_isolated_anon" })
  lu.assertTrue(d.pgmigrate_success > 0)
  lu.assertTrue(d.compact_migrate_scanned > 0)
  lu.assertTrue(d.compact_free_scanned > 0)
  lu.assertTrue(d.compact_isolated >= d.pgmigrate_success)
  lu.assertEquals(d.compact_stall, 0)
  lu.assertEquals(d.compact_success, 0)
  lu.assertEquals(d.compact_fail, 0)
  lu.assertEquals(after.nr_isolated_anon, 0)
  -- the pages that moved: new frames, same bytes, same PTE bits
  local moved = 0
  for i = 1, 4095, 2 do
    local w = p:translate(BASE + i * PAGE)
    if w.pfn ~= frames[i] then moved = moved + 1 end
    lu.assertEquals(w.flags, "P RW US A D NX")
    local s = "page " .. i
    lu.assertEquals(p:read(BASE + i * PAGE, #s), s)
  end
  lu.assertEquals(moved, d.pgmigrate_success)
  lu.assertTrue(m:check())
  m:close()
end

function test_compact_tracepoints()
  local m = machine()
  fragment(m, 2048)
  m:trace{ events = { "mm_compaction_begin", "mm_compaction_end", "mm_compaction_migratepages",
                      "mm_migrate_pages", "mm_compaction_isolate_freepages",
                      "mm_compaction_isolate_migratepages", "mm_compaction_finished" },
           size = 1 << 16 }
  m:compact()
  local ev = m:trace_events()
  local seen, migrated, moved = {}, 0, 0
  for _, e in ipairs(ev) do
    seen[e.event] = (seen[e.event] or 0) + 1
    if e.event == "mm_compaction_migratepages" then migrated = migrated + e.nr_migrated end
    if e.event == "mm_migrate_pages" then
      moved = moved + e.succeeded
      lu.assertEquals(e.mode, 2)     -- MIGRATE_SYNC
      lu.assertEquals(e.reason, 0)   -- MR_COMPACTION
    end
  end
  lu.assertEquals(ev[1].event, "mm_compaction_begin")
  lu.assertEquals(ev[#ev].event, "mm_compaction_end")
  lu.assertEquals(seen.mm_compaction_begin, seen.mm_compaction_end)
  lu.assertEquals(migrated, moved)
  lu.assertEquals(migrated, m:vmstat().pgmigrate_success)
  lu.assertTrue(seen.mm_compaction_isolate_freepages > 0)
  lu.assertTrue(seen.mm_compaction_isolate_migratepages > 0)
  -- every field tracefs shows, in its order
  local b = ev[1]
  for _, f in ipairs{ "zone_start", "migrate_pfn", "free_pfn", "zone_end", "sync" } do
    lu.assertNotNil(b[f], f)
  end
  lu.assertEquals(b.sync, 1)
  local text = m:trace_dump("text")
  lu.assertStrContains(text, "mm_compaction_end: zone_start=0x")
  lu.assertStrContains(text, "sync=sync status=complete")
  lu.assertStrContains(text, "mode=MIGRATE_SYNC reason=compaction")
  lu.assertStrContains(text, "mm_compaction_finished: nid=0 idx=DMA32 order=-1 ret=continue")
  lu.assertTrue(m:check())
  m:close()
end

-- Raw kernel allocations are unmovable: memory fragmented by them stays
-- fragmented, however hard compaction tries.
function test_unmovable_pages_block_compaction()
  local m = machine()
  local held = {}
  while true do
    local pfn = m:alloc_pages(0, "kernel|nowarn")
    if not pfn then break end
    held[#held + 1] = pfn
  end
  for i = 1, #held, 2 do m:free_pages(held[i], 0) end
  local holes = free_blocks(m, 0) - free_blocks(m, 1)
  local high = free_blocks(m, 9)
  local before = m:vmstat()
  m:compact()
  local after = m:vmstat()
  lu.assertTrue(holes > 1000)
  lu.assertEquals(after.pgmigrate_success - before.pgmigrate_success, 0)
  lu.assertEquals(free_blocks(m, 9), high)
  lu.assertEquals(free_blocks(m, 0) - free_blocks(m, 1), holes)
  lu.assertTrue(m:check())
  for i = 2, #held, 2 do m:free_pages(held[i], 0) end
  lu.assertTrue(m:check())
  m:close()
end

-- An order-4 allocation that may reclaim compacts directly: compact_stall
-- and compact_success count it, mm_compaction_try_to_compact_pages shows it.
function test_direct_compaction()
  local m = machine()
  fragment(m, 8192)
  m:drain_pages()   -- pages waiting on the pcp would make every order-4 block fail
  while m:alloc_pages(4, "atomic|nowarn") do end
  m:trace{ events = { "mm_compaction_try_to_compact_pages", "mm_compaction_suitable",
                      "mm_compaction_end" }, size = 4096 }
  local before = m:vmstat()
  local pfn = m:alloc_pages(4, "kernel|noretry")
  lu.assertNotNil(pfn)
  local after = m:vmstat()
  lu.assertEquals(after.compact_stall - before.compact_stall, 1)
  lu.assertEquals(after.compact_success - before.compact_success, 1)
  lu.assertEquals(after.compact_fail - before.compact_fail, 0)
  local ev = m:trace_events()
  lu.assertEquals(ev[1].event, "mm_compaction_try_to_compact_pages")
  lu.assertEquals(ev[1].order, 4)
  lu.assertEquals(ev[1].prio, 2)   -- COMPACT_PRIO_ASYNC: the first, async attempt
  lu.assertStrContains(m:trace_dump("text"), "gfp_mask=GFP_KERNEL|__GFP_NORETRY")
  m:free_pages(pfn, 4)
  lu.assertTrue(m:check())
  m:close()
end

-- An mlocked page migrates as 6.18's migrate_pages() moves it: each
-- locked mapping's removal munlocks the old page while it is isolated
-- (stranded), the new page goes on the LRU (rescued) and each locked
-- mapping's return mlocks it again (mlocked, culled): its mlock_count is
-- the mappings counted anew.  The host gave the same four counts, one
-- each per page, for 22202 mlocked pages of a process that
-- /proc/sys/vm/compact_memory moved (Linux 6.18, x86-64).
function test_mlocked_pages_migrate()
  local m = machine()
  local hog = m:spawn{ name = "hog" }
  local h = assert(hog:mmap(nil, 40 << 20, "rw", "private|anonymous"))
  hog:touch(h, 40 << 20, "w")				-- our pages go low in the zone
  local f = m:file{ path = "/data/g", size = 4 * PAGE }
  local p = m:spawn{ name = "p", root = true }
  local q = m:spawn{ name = "q", root = true }
  local a = assert(p:mmap(nil, 4 * PAGE, "r", "shared|locked", f, 0))
  local b = assert(q:mmap(nil, 4 * PAGE, "r", "shared|locked", f, 0))
  local c = assert(p:mmap(nil, 4 * PAGE, "rw", "private|anonymous|locked"))
  hog:exit()						-- and free memory above them
  m:lru_add_drain_all()
  local file0, anon0 = p:translate(a).pfn, p:translate(c).pfn
  local keys = { "nr_mlock", "unevictable_pgs_mlocked", "unevictable_pgs_culled",
                 "unevictable_pgs_munlocked", "unevictable_pgs_rescued",
                 "unevictable_pgs_stranded", "unevictable_pgs_cleared", "pgmigrate_success" }
  local v0 = m:vmstat()
  assert(m:compact())
  lu.assertEquals(delta(v0, m:vmstat(), keys),
                  { nr_mlock = 0, unevictable_pgs_mlocked = 8, unevictable_pgs_culled = 8,
                    unevictable_pgs_munlocked = 0, unevictable_pgs_rescued = 8,
                    unevictable_pgs_stranded = 8, unevictable_pgs_cleared = 0,
                    pgmigrate_success = 8 })
  local file1, anon1 = p:translate(a).pfn, p:translate(c).pfn
  lu.assertNotEquals(file1, file0)
  lu.assertNotEquals(anon1, anon0)
  lu.assertEquals(q:translate(b).pfn, file1)
  for _, pfn in ipairs({ file1, anon1 }) do
    local pg = m:page(pfn)
    lu.assertEquals({ pg.lru_list, pg.mlocked }, { "unevictable", true })
  end
  -- the file page's mlock_count is 2 again: one munlock leaves it locked
  assert(q:munmap(b, 4 * PAGE))
  m:lru_add_drain_all()
  lu.assertEquals({ m:page(file1).lru_list, m:page(file1).mlocked }, { "unevictable", true })
  assert(p:munlock(a, 4 * PAGE))
  lu.assertEquals({ m:page(file1).lru_list, m:page(file1).mlocked }, { "inactive_file", false })
  lu.assertTrue(m:check())
end

-- Direct compaction drains only its own CPU's folio batches (compact_zone's
-- lru_add_drain): the host's allocation runs on CPU 0, so pages new on
-- CPU 0 join the LRU lists and can move, while CPU 1's still wait.
function test_direct_compaction_drains_its_cpu()
  local m = new{ ram = "64M", seed = 1, cpus = 2 }
  local frag = fragment(m, 8192)
  local function fresh(cpu)
    local p = m:spawn{ name = "cpu" .. cpu }
    p:run_on(cpu)
    local a = assert(p:mmap(nil, 4 * PAGE, "rw", "private|anonymous"))
    for i = 0, 3 do assert(p:write(a + i * PAGE, "x")) end
    return p, a
  end
  m:lru_add_drain_all()			-- nothing else waits
  local p0, a0 = fresh(0)
  local p1, a1 = fresh(1)
  local w0, w1 = p0:translate(a0).pfn, p1:translate(a1).pfn
  lu.assertNil(m:page(w0).lru_list)	-- both wait in their CPU's lru_add batch
  lu.assertNil(m:page(w1).lru_list)
  m:drain_pages()
  while m:alloc_pages(4, "atomic|nowarn") do end
  local before = m:vmstat()
  local pfn = m:alloc_pages(4, "kernel|noretry")
  lu.assertNotNil(pfn)
  lu.assertEquals(m:vmstat().compact_stall - before.compact_stall, 1)
  lu.assertEquals(m:page(p0:translate(a0).pfn).lru_list, "inactive_anon")
  lu.assertNil(m:page(p1:translate(a1).pfn).lru_list)
  lu.assertEquals(p1:translate(a1).pfn, w1)		-- off the LRU: compaction left it
  m:free_pages(pfn, 4)
  frag:exit()
  lu.assertTrue(m:check())
  m:close()
end

-- compact_zone's check_drain (lru_add_drain_cpu_zone) drains this CPU's
-- folio batches too: the pages it migrated join the LRU lists, none waits.
function test_direct_compaction_drains_what_it_migrated()
  local m = machine()
  fragment(m, 8192)
  m:lru_add_drain_all()
  m:drain_pages()
  while m:alloc_pages(4, "atomic|nowarn") do end
  local before = m:vmstat()
  local pfn = m:alloc_pages(4, "kernel|noretry")
  lu.assertNotNil(pfn)
  local v = m:vmstat()
  lu.assertTrue(v.pgmigrate_success - before.pgmigrate_success > 0)
  lu.assertEquals(v.nr_inactive_anon + v.nr_active_anon, v.nr_anon_pages)
  m:free_pages(pfn, 4)
  lu.assertTrue(m:check())
  m:close()
end

-- An anonymous page in the swap cache (read back after MADV_PAGEOUT) is
-- migrated too: folio_mapping() names the swap cache, so the pinned test
-- (references beyond the mappings) is not asked of it, and the swap
-- cache's slot follows the page.  A dirty PTE of one dirties the page
-- (try_to_migrate_one's folio_mark_dirty: the swap cache's is a noop
-- dirty_folio) -- half of them were written since they came back.
function test_swapcache_page_migrates()
  local m = new{ ram = "64M", seed = 1, debug_vm = true, swap = "64M" }  -- under half full: kept on swap-in
  local p = m:spawn{ name = "frag", aslr = false }
  assert(p:mmap(BASE, 4096 * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, 4095 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  assert(p:madvise(BASE, 4096 * PAGE, "pageout"))	-- and read back: in the swap cache
  for i = 0, 4095 do assert(p:read(BASE + i * PAGE, 1)) end
  for i = 0, 4095, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  for i = 1, 4095, 4 do assert(p:write(BASE + i * PAGE, "page " .. i)) end	-- PTE dirty
  m:drain_pages()			-- the holes, on the buddy lists for the free scanner
  local frames = {}
  for i = 1, 4095, 2 do
    lu.assertEquals(p:read(BASE + i * PAGE, #("page " .. i)), "page " .. i)
    frames[i] = p:translate(BASE + i * PAGE).pfn
    lu.assertTrue(m:page(frames[i]).swapcache)
  end
  lu.assertTrue(m:compact())
  local moved = 0
  for i = 1, 4095, 2 do
    local pfn = p:translate(BASE + i * PAGE).pfn
    if pfn ~= frames[i] then
      moved = moved + 1
      lu.assertTrue(m:page(pfn).swapcache)
      lu.assertEquals(m:page(pfn).dirty, i % 4 == 1)
    end
    lu.assertEquals(p:read(BASE + i * PAGE, #("page " .. i)), "page " .. i)
  end
  lu.assertTrue(moved > 0)
  lu.assertTrue(m:check())
  for i = 1, 4095, 2 do assert(p:write(BASE + i * PAGE, "again " .. i)) end
  lu.assertTrue(m:check())
  m:close()
end

-- Direct compaction for a GFP_NOFS allocation takes no page that has a
-- mapping: not a file's, nor -- folio_mapping() -- an anonymous page's in
-- the swap cache; GFP_KERNEL compaction takes them.
function test_nofs_compaction_leaves_swapcache_pages()
  local function attempt(gfp)
    local m = new{ ram = "64M", seed = 1, swap = "64M" }
    local p = m:spawn{ name = "frag", aslr = false }
    assert(p:mmap(BASE, 8192 * PAGE, "rw", "private|anonymous|fixed"))
    for i = 0, 8191 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
    assert(p:madvise(BASE, 8192 * PAGE, "pageout"))
    for i = 0, 8191 do assert(p:read(BASE + i * PAGE, 1)) end	-- back, in the swap cache
    for i = 0, 8191, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
    m:lru_add_drain_all()
    m:drain_pages()
    while m:alloc_pages(4, "atomic|nowarn") do end
    local v0 = m:vmstat()
    m:alloc_pages(4, gfp)
    local isolated = m:vmstat().compact_isolated - v0.compact_isolated
    lu.assertTrue(m:vmstat().compact_stall > v0.compact_stall)
    lu.assertTrue(m:check())
    m:close()
    return isolated
  end
  lu.assertTrue(attempt("GFP_KERNEL|__GFP_MOVABLE|__GFP_NORETRY") > 0)
  lu.assertEquals(attempt("GFP_NOFS|__GFP_MOVABLE|__GFP_NORETRY"), 0)
end

function test_compact_argument_errors()
  local m = machine()
  lu.assertTrue(m:compact())           -- nothing to do is fine
  lu.assertTrue(m:check())
  m:close()
  H.assert_raises({ "compact" }, m.compact, m)
  H.assert_raises({ "compact" }, m.compact, nil)
end

-- kswapd, woken for a high order it cannot balance, reclaims and then wakes
-- kcompactd, which compacts when the operation returns (compact_daemon_*).
function test_kswapd_wakes_kcompactd()
  local m = new{ ram = "64M", seed = 1, zones = "single" }
  local p = m:spawn{ name = "frag", aslr = false }
  local n = 12000
  assert(p:mmap(BASE, n * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  for i = 0, n - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  local f = m:file{ path = "/data/f", size = 40 << 20 }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  for off = 0, (40 << 20) - 65536, 65536 do assert(p:pread(f, buf, 65536, off)) end
  local seq = {}
  for _, e in ipairs{ "mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_sleep",
                      "mm_compaction_wakeup_kcompactd", "mm_compaction_kcompactd_wake",
                      "mm_compaction_kcompactd_sleep" } do
    m:on(e, function(ev) seq[#seq + 1] = ev.event end)
  end
  while m:alloc_pages(9, "GFP_NOWAIT") do end      -- no direct reclaim or compaction
  lu.assertEquals({ table.unpack(seq, 1, 5) },
                  { "mm_vmscan_wakeup_kswapd", "mm_compaction_wakeup_kcompactd",
                    "mm_vmscan_kswapd_sleep", "mm_compaction_kcompactd_wake",
                    "mm_compaction_kcompactd_sleep" })
  local v = m:vmstat()
  lu.assertEquals(v.compact_daemon_wake, 1)
  lu.assertTrue(v.compact_daemon_migrate_scanned > 0)
  lu.assertTrue(v.compact_daemon_free_scanned > 0)
  lu.assertEquals(v.compact_stall, 0)             -- kcompactd's work is not a stall
  for i = 1, n - 1, 2 do lu.assertEquals(p:read(BASE + i * PAGE, 5 + #tostring(i)), "page " .. i) end
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
