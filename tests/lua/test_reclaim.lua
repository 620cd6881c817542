-- test_reclaim.lua: the LRU lists and page reclaim (core/swap.c,
-- core/vmscan.c) through the Lua API: kswapd and direct reclaim of the
-- page cache, what a page's use does to its list, mapped pages unmapped
-- through the reverse map, dirty pages left to the flusher, MADV_FREE'd
-- pages dropped, mlocked pages kept, drop_caches, and the vmscan
-- tracepoints with tracefs's fields.
--
-- Run from the source root:  build/memlab run tests/lua/test_reclaim.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local MiB = 1024 * 1024

-- A machine of ram with a file of size bytes (contents: page i starts with "page i").
local function machine(ram, size)
  local m = memlab.new{ ram = ram, seed = 1 }
  local parts = {}
  for i = 0, size // PAGE - 1 do
    local head = string.format("page %d", i)
    parts[#parts + 1] = head .. string.rep(".", PAGE - #head)
  end
  local f = m:file{ path = "/data/f", contents = table.concat(parts), writable = true }
  return m, f
end

-- Read the whole file through a 64 KiB buffer of p.
local function stream(p, f, size)
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  for off = 0, size - 65536, 65536 do
    lu.assertEquals(p:pread(f, buf, 65536, off), 65536)
  end
  return buf
end

local function count(m, event, f)
  local n = 0
  m:on(event, function(ev) n = n + 1; if f then f(ev) end end)
  return function() m:on(event, nil); return n end
end

TestReclaim = {}

-- Streaming a file twice the size of memory: kswapd keeps the zone above
-- its watermarks, direct reclaim steps in, nothing is lost.
function TestReclaim:test_stream_larger_than_memory()
  local m, f = machine("32M", 64 * MiB)
  local p = m:spawn{ name = "reader" }
  local wakeups = count(m, "mm_vmscan_wakeup_kswapd")
  local wakes = count(m, "mm_vmscan_kswapd_wake")
  local sleeps = count(m, "mm_vmscan_kswapd_sleep")
  stream(p, f, 64 * MiB)
  local v = m:vmstat()
  lu.assertTrue(v.pgscan_kswapd > 0)
  lu.assertTrue(v.pgsteal_kswapd > 0)
  lu.assertEquals(v.pgsteal_kswapd + v.pgsteal_direct, v.pgsteal_file)
  lu.assertEquals(v.pgscan_kswapd + v.pgscan_direct, v.pgscan_file)
  lu.assertEquals(v.pgscan_anon, 0)        -- no swap: the anon lists are not scanned
  lu.assertTrue(v.pageoutrun > 0)
  lu.assertTrue(wakeups() > 0)
  lu.assertEquals(wakes(), sleeps())      -- each run ends balanced and asleep
  -- the newest pages may wait in the CPU's lru_add batch (up to 30)
  local waiting = v.nr_file_pages - (v.nr_inactive_file + v.nr_active_file)
  lu.assertTrue(waiting >= 0 and waiting < 31)
  m:lru_add_drain_all()
  v = m:vmstat()
  lu.assertEquals(v.nr_file_pages, v.nr_inactive_file + v.nr_active_file)
  lu.assertTrue(v.nr_file_pages < 8192)   -- less than the file: the rest was reclaimed
  -- kswapd left DMA32 at its high watermark; the reads since took less
  -- than would bring it below low (which wakes kswapd again)
  for _, z in ipairs(m:zones()) do
    if z.managed > 0 and z.name == "DMA32" then
      lu.assertTrue(z.free >= z.low, "DMA32 balanced")
    end
  end
  -- reclaimed pages read back from the disk, the same bytes
  local buf = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  for _, i in ipairs{ 0, 1, 2000, 16383 } do
    lu.assertEquals(p:pread(f, buf, PAGE, i * PAGE), PAGE)
    lu.assertEquals(p:read(buf, 12):match("^page %d+"), "page " .. i)
  end
  lu.assertTrue(m:check())
end

-- One operation that needs more than kswapd has freed stalls in direct reclaim.
function TestReclaim:test_direct_reclaim()
  local m, f = machine("32M", 32 * MiB)
  local p = m:spawn{ name = "p" }
  stream(p, f, 24 * MiB)                  -- the page cache fills memory
  local begins, ends = {}, {}
  m:on("mm_vmscan_direct_reclaim_begin", function(ev) begins[#begins + 1] = ev end)
  m:on("mm_vmscan_direct_reclaim_end", function(ev) ends[#ends + 1] = ev end)
  local v0 = m:vmstat()
  local a = assert(p:mmap(nil, 16 * MiB, "rw", "private|anonymous|populate"))
  m:on("mm_vmscan_direct_reclaim_begin", nil)
  m:on("mm_vmscan_direct_reclaim_end", nil)
  lu.assertTrue(#begins > 0)
  lu.assertEquals(#begins, #ends)
  local v = m:vmstat()
  -- user pages stall in Movable (gfp_zone of GFP_HIGHUSER_MOVABLE), page tables in Normal
  lu.assertEquals(v.allocstall_movable - v0.allocstall_movable +
                  v.allocstall_normal - v0.allocstall_normal, #begins)
  lu.assertTrue(v.allocstall_movable > v0.allocstall_movable)
  lu.assertEquals(begins[1].order, 0)
  lu.assertStrContains(memlab.gfp_format and memlab.gfp_format(begins[1].gfp_flags) or
                       "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER_MOVABLE")
  lu.assertTrue(ends[1].nr_reclaimed >= 32)
  lu.assertEquals(p:mm().rss_anon, 4096 + 16)   -- all of it populated (and the buffer)
  lu.assertTrue(a ~= nil)
  lu.assertTrue(m:check())
end

-- read(2) marks a page accessed: twice makes it active; pieces of one page count once.
function TestReclaim:test_read_activates()
  local m, f = machine("64M", 1 * MiB)
  local p = m:spawn{ name = "p" }
  local buf = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  p:pread(f, buf, 100, 0)                  -- reads pages 0..3 (the first window)
  m:lru_add_drain_all()                    -- off the CPU's lru_add batch, onto the list
  local pfn = p:translate(buf).pfn
  local function cached(index)
    for _, q in ipairs(m:lru("inactive_file")) do
      local pg = m:page(q)
      if pg.file and pg.index == index then return pg end
    end
    for _, q in ipairs(m:lru("active_file")) do
      local pg = m:page(q)
      if pg.file and pg.index == index then return pg end
    end
  end
  lu.assertTrue(pfn ~= nil)
  local pg = cached(0)
  lu.assertEquals(pg.lru_list, "inactive_file")
  lu.assertTrue(pg.referenced)
  p:pread(f, buf, 100, 100)                -- the same page, where the last read ended
  pg = cached(0)
  lu.assertEquals(pg.lru_list, "inactive_file")
  local act = m:vmstat().pgactivate
  p:pread(f, buf, 100, 4 * PAGE)           -- elsewhere, then back
  p:pread(f, buf, 100, 0)
  pg = cached(0)                           -- it waits in the CPU's lru_activate batch
  lu.assertEquals(pg.lru_list, "inactive_file")
  lu.assertEquals(m:vmstat().pgactivate - act, 0)
  m:lru_add_drain_all()
  pg = cached(0)
  lu.assertEquals(pg.lru_list, "active_file")
  lu.assertFalse(pg.referenced)
  lu.assertEquals(m:vmstat().pgactivate - act, 1)
  -- readahead brought the rest of its window in, unreferenced
  lu.assertFalse(cached(2).referenced)
  lu.assertEquals(cached(9).lru_list, "inactive_file")
  lu.assertTrue(m:check())
end

-- A mapped page is unmapped by reclaim; its next access is a major fault.
function TestReclaim:test_mapped_pages_unmapped()
  local m, f = machine("32M", 4 * MiB)
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 4 * MiB, "r", "shared", f, 0))
  lu.assertEquals(p:read(a + 5 * PAGE, 6), "page 5")
  local rss = p:mm().rss_file
  lu.assertTrue(rss > 0)
  -- someone else's reading pushes it out
  local q = m:spawn{ name = "q" }
  local g = m:file{ path = "/data/g", size = 96 * MiB }
  stream(q, g, 96 * MiB)
  lu.assertTrue(p:mm().rss_file < rss)
  local v = m:vmstat()
  lu.assertTrue(v.pgsteal_file > 0)
  lu.assertTrue(m:check())
  local maj = p:mm().maj_flt
  lu.assertEquals(p:read(a + 5 * PAGE, 6), "page 5")
  lu.assertEquals(p:mm().maj_flt, maj + 1)
  lu.assertTrue(m:check())
end

-- A young PTE spares a page once (referenced); a second use activates it.
function TestReclaim:test_pte_references()
  local m, f = machine("32M", 256 * 1024)
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 256 * 1024, "r", "shared", f, 0))
  p:read(a, 1)
  local pfn = p:translate(a).pfn
  lu.assertEquals(m:page(pfn).lru_list, "inactive_file")
  lu.assertTrue(p:pte(a).accessed)
  -- pressure: the mapped page survives the first look, with its entry made old
  local q = m:spawn{ name = "q" }
  local g = m:file{ path = "/data/g", size = 40 * MiB }
  stream(q, g, 40 * MiB)
  lu.assertEquals(p:translate(a).pfn, pfn)
  local pg = m:page(pfn)
  lu.assertTrue(pg.referenced or pg.active, "spared by its young entry")
  lu.assertTrue(m:check())
end

-- Dirty pages are written back by the flusher reclaim wakes, then reclaimed.
function TestReclaim:test_dirty_pages_written_back()
  local m, f = machine("32M", 4 * PAGE)
  local p = m:spawn{ name = "writer" }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  p:write(buf, string.rep("w", 65536))
  for off = 0, 48 * MiB - 65536, 65536 do
    lu.assertEquals(p:pwrite(f, buf, 65536, off), 65536)
  end
  local v = m:vmstat()
  lu.assertTrue(v.nr_written > 0)
  lu.assertTrue(v.nr_vmscan_immediate_reclaim > 0)
  lu.assertTrue(v.pgsteal_file > 0)
  lu.assertEquals(v.oom_kill, 0)
  lu.assertEquals(f:ondisk(0, 4), "wwww")  -- the first pages reached the disk
  lu.assertEquals(f:read(40 * MiB, 3), "www")
  lu.assertTrue(m:check())
end

-- A task of m with 64 pages written ("x") and made lazily free: it, their address.
local function lazyfree_pages(m)
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 64 * PAGE, "rw", "private|anonymous"))
  for i = 0, 63 do p:write(a + i * PAGE, "x") end
  lu.assertTrue(p:madvise(a, 64 * PAGE, "free"))
  return p, a
end

-- MADV_FREE'd pages not written since are dropped; a written one is kept.
-- The lazyfree moves wait in the CPU's batch of 31: two of the 64 join the
-- file list only when reclaim drains the batch, at its head, and outlive
-- the stream.
function TestReclaim:test_lazyfree()
  local m, f = machine("32M", 32 * MiB)
  local p, a = lazyfree_pages(m)
  p:write(a, "y")                          -- written again: not free to drop
  lu.assertEquals(m:vmstat().pglazyfree, 62)
  stream(p, f, 32 * MiB)
  local v = m:vmstat()
  lu.assertEquals(v.pglazyfree, 64)
  lu.assertEquals(v.pglazyfreed, 61)
  lu.assertEquals(p:read(a, 1), "y")
  lu.assertEquals(p:read(a + PAGE, 1), "\0")   -- dropped: reads zero again
  lu.assertEquals(p:read(a + 63 * PAGE, 1), "x")
  lu.assertTrue(m:check())
end

-- A lazily free page written through GUP (MADV_POPULATE_WRITE: its entry
-- stays clean, the page is marked dirty) is not dropped: try_to_unmap_one
-- finds the page dirty and makes it swap-backed again.
function TestReclaim:test_lazyfree_redirtied_by_gup()
  local m, f = machine("32M", 32 * MiB)
  local p, a = lazyfree_pages(m)
  lu.assertTrue(p:madvise(a + PAGE, PAGE, "populate_write"))
  stream(p, f, 32 * MiB)
  -- MADV_POPULATE_WRITE drained the lazyfree batch: all 64 are on the list
  lu.assertEquals(m:vmstat().pglazyfreed, 63)
  lu.assertEquals(p:read(a + PAGE, 1), "x")
  lu.assertEquals(p:read(a, 1), "\0")       -- dropped: reads zero again
  lu.assertTrue(m:check())
end

-- MAP_DROPPABLE pages are dropped under pressure, written or not.
function TestReclaim:test_droppable()
  local m, f = machine("32M", 32 * MiB)
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 64 * PAGE, "rw", "droppable|anonymous"))
  for i = 0, 63 do p:write(a + i * PAGE, "d") end
  lu.assertEquals(m:page(p:translate(a).pfn).lru_list, "inactive_file")
  stream(p, f, 32 * MiB)
  stream(p, f, 32 * MiB)
  lu.assertEquals(m:vmstat().pglazyfreed, 64)
  lu.assertEquals(p:mm().rss_anon, 32)     -- the two streams' buffers only
  lu.assertEquals(p:read(a, 1), "\0")
  lu.assertTrue(m:check())
end

-- Pages of a locked mapping are never reclaimed: reclaim finds the mlock.
function TestReclaim:test_mlocked_kept()
  local m, f = machine("32M", 1 * MiB)
  local p = m:spawn{ name = "p", root = true }
  local a = assert(p:mmap(nil, MiB, "r", "shared|locked", f, 0))
  local pfn = p:translate(a).pfn
  local q = m:spawn{ name = "q" }
  local g = m:file{ path = "/data/g", size = 48 * MiB }
  stream(q, g, 48 * MiB)
  lu.assertEquals(p:translate(a).pfn, pfn)
  lu.assertEquals(p:mm().rss_file, 256)
  lu.assertEquals(m:page(pfn).lru_list, "unevictable")   -- mlocked as it was mapped
  lu.assertEquals(m:vmstat().unevictable_pgs_mlocked, 256)
  lu.assertEquals(m:vmstat().nr_mlock, 256)
  -- the last locked mapping goes: the pages are evictable again
  -- (each munlock waits in the per-CPU mlock batch, which drains when it
  -- fills: 8 x 31 pages are munlocked, 8 wait with a reference until a drain)
  assert(p:munmap(a, MiB))
  lu.assertEquals(m:page(pfn).lru_list, "inactive_file")
  lu.assertEquals(m:vmstat().unevictable_pgs_munlocked, 248)
  lu.assertEquals(m:vmstat().nr_mlock, 8)
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().unevictable_pgs_munlocked, 256)
  lu.assertEquals(m:vmstat().unevictable_pgs_rescued, 256)
  lu.assertEquals(m:vmstat().nr_mlock, 0)
  lu.assertTrue(m:check())
end

-- A fork child's copy of a locked mapping is not locked: the pages go back
-- to evictable when the parent's mapping goes, though the child still maps
-- them (Linux's mlock_count reaches 0; checked on the host's kpageflags),
-- and with a COW copy the parent's new page is the locked one.
function TestReclaim:test_munlock_with_the_last_locked_mapping()
  local m = machine("32M", PAGE)
  local p = m:spawn{ name = "p", root = true }
  local a = assert(p:mmap(nil, 2 * PAGE, "rw", "private|anonymous|locked"))
  local c = assert(p:fork())
  local old = c:translate(a).pfn
  lu.assertEquals(m:page(old).lru_list, "unevictable")
  assert(p:write(a, "y"))                               -- the parent copies page 0
  -- the old page's munlock and the new page wait in the mlock batch until a drain
  lu.assertEquals(m:page(old).lru_list, "unevictable")
  lu.assertNil(m:page(p:translate(a).pfn).lru_list)
  m:lru_add_drain_all()
  lu.assertEquals(m:page(old).lru_list, "inactive_anon")
  lu.assertEquals(m:page(p:translate(a).pfn).lru_list, "unevictable")
  local second = c:translate(a + PAGE).pfn
  assert(p:munmap(a, 2 * PAGE))
  m:lru_add_drain_all()                                 -- the munlocks wait until then
  lu.assertEquals(m:page(second).lru_list, "inactive_anon")
  lu.assertEquals(m:vmstat().nr_mlock, 0)
  lu.assertEquals(c:read(a + PAGE, 1), "\0")
  lu.assertTrue(m:check())
end

-- Only anonymous memory left: reclaim finds nothing and the OOM killer runs.
function TestReclaim:test_anon_only_ooms()
  local m = memlab.new{ ram = "32M", seed = 1 }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init" }
  local p = m:spawn{ name = "hog" }
  local a = assert(p:mmap(nil, 64 * MiB, "rw", "private|anonymous"))
  local ok, retries = nil, {}
  m:on("reclaim_retry_zone", function(ev) retries[#retries + 1] = ev end)
  for i = 0, 64 * MiB // PAGE - 1 do
    ok = p:write(a + i * PAGE, "x")
    if not ok then break end
  end
  m:on("reclaim_retry_zone", nil)
  lu.assertNil(ok)
  -- should_reclaim_retry looked at every zone and found no watermark to reach
  lu.assertTrue(#retries > 0)
  local last = retries[#retries]
  lu.assertEquals(last.wmark_check, 0)
  lu.assertEquals(last.reclaimable, 0)      -- anonymous memory only: nothing to reclaim
  lu.assertEquals(m:vmstat().oom_kill, 1)
  lu.assertEquals(m:vmstat().pgsteal_file, 0)
  lu.assertTrue(m:vmstat().allocstall_movable > 0)
  lu.assertTrue(m:check())
end

-- drop_caches 1: clean unmapped pages go; mapped and dirty ones stay, deactivated.
function TestReclaim:test_drop_caches()
  local m, f = machine("64M", 1 * MiB)
  local p = m:spawn{ name = "p" }
  f:read(0, MiB)
  local a = assert(p:mmap(nil, PAGE, "r", "shared", f, 0))
  p:read(a, 1)
  f:write(PAGE, "dirty")
  local cached = m:vmstat().nr_file_pages
  lu.assertEquals(cached, 256)
  local n = m:drop_caches(1)
  lu.assertEquals(n, 254)
  local v = m:vmstat()
  lu.assertEquals(v.nr_file_pages, 2)
  lu.assertEquals(v.drop_pagecache, 1)
  lu.assertEquals(m:drop_caches(2), 0)
  lu.assertEquals(m:vmstat().drop_slab, 1)
  lu.assertEquals(p:read(a, 6), "page 0")
  lu.assertEquals(f:read(PAGE, 5), "dirty")
  lu.assertEquals(f:read(2 * PAGE, 6), "page 2")
  lu.assertErrorMsgContains("drop_caches", function() m:drop_caches(4) end)
  lu.assertErrorMsgContains("lru", function() m:lru("active") end)
  lu.assertTrue(m:check())
end

-- The lists and the counters agree; the tail is the oldest page.
function TestReclaim:test_lru_lists()
  local m, f = machine("64M", 1 * MiB)
  f:read(0, 10 * PAGE)
  local l = m:lru("inactive_file")
  lu.assertEquals(#l, m:vmstat().nr_inactive_file)
  lu.assertEquals(m:page(l[1]).index, 0)    -- read first: the oldest
  lu.assertEquals(#m:lru("active_file"), 0)
  lu.assertEquals(#m:lru("unevictable"), 0)
end

-- The vmscan events carry tracefs's fields.
function TestReclaim:test_tracepoint_fields()
  local m, f = machine("32M", 48 * MiB)
  local p = m:spawn{ name = "p" }
  m:trace{ events = { "mm_vmscan_lru_isolate", "mm_vmscan_lru_shrink_inactive",
                      "mm_vmscan_kswapd_wake", "mm_vmscan_wakeup_kswapd" }, size = 1 << 16 }
  stream(p, f, 48 * MiB)
  local seen = {}
  for _, ev in ipairs(m:trace_events()) do seen[ev.event] = ev end
  m:trace(false)
  local si = seen.mm_vmscan_lru_shrink_inactive
  lu.assertNotNil(si)
  for _, k in ipairs{ "nid", "nr_scanned", "nr_reclaimed", "nr_dirty", "nr_writeback",
                      "nr_congested", "nr_immediate", "nr_activate0", "nr_activate1",
                      "nr_ref_keep", "nr_unmap_fail", "priority", "reclaim_flags" } do
    lu.assertNotNil(si[k], k)
  end
  lu.assertEquals(si.reclaim_flags, 0x2 | 0x8)     -- RECLAIM_WB_FILE|RECLAIM_WB_ASYNC
  local iso = seen.mm_vmscan_lru_isolate
  lu.assertEquals(iso.lru, 2)                      -- inactive_file
  lu.assertTrue(iso.nr_taken <= iso.nr_requested)
  lu.assertNotNil(seen.mm_vmscan_kswapd_wake.order)
  lu.assertNotNil(seen.mm_vmscan_wakeup_kswapd.gfp_flags)
  m:trace{ events = { "mm_vmscan_lru_shrink_inactive" }, size = 16 }
  stream(p, f, 4 * MiB)
  local text = m:trace_dump("text")
  m:trace(false)
  lu.assertTrue(text:find("flags=RECLAIM_WB_FILE|RECLAIM_WB_ASYNC", 1, true) ~= nil)
end

-- MADV_PAGEOUT reclaims the pages only this process maps; MADV_COLD makes them old and inactive.
function TestReclaim:test_madv_pageout_and_cold()
  local m, f = machine("64M", 1 * MiB)
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 16 * PAGE, "r", "shared", f, 0))
  p:touch(a, 16 * PAGE, "r")
  lu.assertEquals(p:mm().rss_file, 16)
  local cached = m:vmstat().nr_file_pages
  lu.assertTrue(p:madvise(a, 8 * PAGE, "pageout"))
  lu.assertEquals(p:mm().rss_file, 8)
  lu.assertEquals(m:vmstat().nr_file_pages, cached - 8)
  lu.assertNil(p:translate(a).pfn)
  local maj = p:mm().maj_flt
  lu.assertEquals(p:read(a + 3 * PAGE, 6), "page 3")
  lu.assertEquals(p:mm().maj_flt, maj + 1)
  -- a file the task could not open for writing: only anonymous pages go
  local ro = m:file{ path = "/data/ro", size = 16 * PAGE }
  local b = assert(p:mmap(nil, 16 * PAGE, "r", "private", ro, 0))
  p:touch(b, 16 * PAGE, "r")
  local rss = p:mm().rss_file
  lu.assertTrue(p:madvise(b, 16 * PAGE, "pageout"))
  lu.assertEquals(p:mm().rss_file, rss)
  -- anonymous pages cannot go anywhere without swap: they are activated
  local c = assert(p:mmap(nil, 4 * PAGE, "rw", "private|anonymous"))
  p:touch(c, 4 * PAGE, "w")
  local act = m:vmstat().pgactivate
  lu.assertTrue(p:madvise(c, 4 * PAGE, "pageout"))
  lu.assertEquals(m:vmstat().pgactivate - act, 4)
  lu.assertEquals(m:page(p:translate(c).pfn).lru_list, "active_anon")
  lu.assertEquals(p:mm().rss_anon, 4)
  -- MADV_COLD: old entries, inactive pages
  lu.assertTrue(p:pte(c).accessed)
  local deact = m:vmstat().pgdeactivate
  lu.assertTrue(p:madvise(c, 4 * PAGE, "cold"))
  lu.assertFalse(p:pte(c).accessed)
  -- the deactivations wait in the CPU's lru_deactivate batch
  lu.assertEquals(m:vmstat().pgdeactivate - deact, 0)
  lu.assertEquals(m:page(p:translate(c).pfn).lru_list, "active_anon")
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().pgdeactivate - deact, 4)
  local pg = m:page(p:translate(c).pfn)
  lu.assertEquals(pg.lru_list, "inactive_anon")
  lu.assertTrue(pg.workingset)
  -- locked memory refuses both
  local q = m:spawn{ name = "q", root = true }
  local l = assert(q:mmap(nil, PAGE, "rw", "private|anonymous|locked"))
  local ok, err = q:madvise(l, PAGE, "cold")
  lu.assertNil(ok)
  lu.assertEquals(err, "EINVAL")
  lu.assertTrue(m:check())
end

-- While kswapd balances the node its zones are ZONE_RECLAIM_ACTIVE: a free
-- keeps at most four batches on the per-CPU list (nr_pcp_high), so what
-- it reclaims reaches the buddy lists (else some 200 pages stay there).
function TestReclaim:test_kswapd_keeps_pcp_short()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local A = m:file{ path = "/data/a", size = 96 * MiB }
  local p = m:spawn{ name = "p" }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  local runs, seen = m:vmstat().pageoutrun, 0
  for off = 0, 96 * MiB - 65536, 65536 do
    assert(p:pread(A, buf, 65536, off))
    local v = m:vmstat()
    if v.pageoutrun > runs then			-- kswapd ran as the read returned
      runs, seen = v.pageoutrun, seen + 1
      local z = m:zones()[2]
      lu.assertEquals(z.name, "DMA32")
      lu.assertTrue(z.pcp.count <= 4 * z.pcp.batch, z.pcp.count .. " pages on the pcp")
    end
  end
  lu.assertTrue(seen > 5)
  lu.assertTrue(m:check())
end

-- Refault detection: pages of a working set reclaimed shortly before they are
-- read again come back active (and restored: they were active before).
function TestReclaim:test_workingset_refault()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local A = m:file{ path = "/data/a", size = 40 * MiB }
  local B = m:file{ path = "/data/b", size = 48 * MiB }
  local p = m:spawn{ name = "p" }
  stream(p, A, 40 * MiB)
  stream(p, A, 40 * MiB)                  -- read twice: active
  -- 10240 activations = 330 batches of 31 and 10 that still wait
  lu.assertEquals(m:vmstat().nr_active_file, 10230)
  stream(p, B, 48 * MiB)                  -- pushes part of A out
  local v = m:vmstat()
  lu.assertTrue(v.pgdeactivate > 0)
  lu.assertEquals(v.workingset_refault_file, 0)
  stream(p, A, 40 * MiB)
  v = m:vmstat()
  lu.assertTrue(v.workingset_refault_file > 0)
  lu.assertTrue(v.workingset_activate_file > 0)
  lu.assertTrue(v.workingset_activate_file <= v.workingset_refault_file)
  lu.assertTrue(v.workingset_restore_file > 0)
  lu.assertTrue(m:check())
  -- a stream read long after: its refaults are too far to count as
  -- workingset, but for the few pages evicted last (the active pages
  -- deactivated at the end of B's stream)
  local m2 = memlab.new{ ram = "64M", seed = 1 }
  local A2 = m2:file{ path = "/data/a", size = 40 * MiB }
  local B2 = m2:file{ path = "/data/b", size = 160 * MiB }
  local q = m2:spawn{ name = "q" }
  stream(q, A2, 40 * MiB)
  stream(q, A2, 40 * MiB)
  stream(q, B2, 160 * MiB)
  stream(q, A2, 40 * MiB)
  v = m2:vmstat()
  lu.assertTrue(v.workingset_refault_file > 0)
  lu.assertTrue(v.workingset_activate_file * 20 < v.workingset_refault_file)
end

-- Rewriting pages reclaim evicted is no refault (filemap_add_folio skips
-- __GFP_WRITE), and write(2) reads no pages ahead.
function TestReclaim:test_rewrite_is_no_refault()
  local m = memlab.new{ ram = "32M", seed = 1 }
  local f = m:file{ path = "/data/w", writable = true }
  local p = m:spawn{ name = "p" }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  p:write(buf, string.rep("w", 65536))
  for off = 0, 48 * MiB - 65536, 65536 do assert(p:pwrite(f, buf, 65536, off)) end
  m:sync()
  local before = m:vmstat()
  for off = 0, 8 * MiB - 65536, 65536 do assert(p:pwrite(f, buf, 65536, off)) end
  local v = m:vmstat()
  lu.assertEquals(v.workingset_refault_file, before.workingset_refault_file)
  lu.assertEquals(v.pgpgin, before.pgpgin)          -- whole pages written: nothing read
  lu.assertTrue(m:check())
end

-- A seeded soak under memory pressure: file mappings (shared, private,
-- executable), read(2) and write(2), anonymous memory, MADV_FREE, forks
-- and exits on a 16 MiB machine, m:check() after every step.
-- Reclaim unmaps a PROT_NONE entry like any other (it maps its page): a
-- lazily freed page behind one is dropped by MADV_PAGEOUT, as on the 6.18
-- host, which drops both pages here.
function TestReclaim:test_pageout_through_prot_none()
  local m = memlab.new{ ram = "32M", seed = 1 }
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 2 * PAGE, "rw", "private|anonymous"))
  p:write(a, "\1"); p:write(a + PAGE, "\1")
  assert(p:madvise(a, 2 * PAGE, "free"))
  assert(p:mprotect(a, PAGE, "---"))
  assert(p:madvise(a, 2 * PAGE, "pageout"))
  local pm = p:pagemap(a, 2)
  lu.assertEquals({ pm[1].present, pm[2].present }, { false, false })
  assert(p:mprotect(a, PAGE, "rw-"))
  lu.assertEquals({ p:read(a, 1), p:read(a + PAGE, 1), m:vmstat().pglazyfreed }, { "\0", "\0", 2 })
  lu.assertTrue(m:check())
end

function TestReclaim:test_soak()
  local m = memlab.new{ ram = "16M", seed = 7 }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init" }
  local files = {}
  for i = 1, 3 do
    files[i] = m:file{ path = "/data/s" .. i, size = 6 * MiB, writable = true }
  end
  local rng = 12345
  local function rand(n)
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng % n
  end
  local procs = { m:spawn{ name = "w" } }
  local steps = 0
  for _ = 1, 1500 do
    local p = procs[rand(#procs) + 1]
    local f = files[rand(#files) + 1]
    local op = rand(10)
    if not p or not m:task(p.pid) then
      procs = { m:spawn{ name = "w" } }
    elseif op == 0 then
      local a = p:mmap(nil, 256 * PAGE, rand(2) == 0 and "r" or "rw",
                       rand(2) == 0 and "shared" or "private", f, rand(1280) * PAGE)
      if a then p:touch(a, 256 * PAGE, rand(3) == 0 and "w" or "r") end
    elseif op == 1 then
      local a = p:mmap(nil, 32 * PAGE, "rx", "private", f, 0)
      if a then p:touch(a, 32 * PAGE, "x") end
    elseif op == 2 then
      local buf = p:mmap(nil, 16 * PAGE, "rw", "private|anonymous")
      for _ = 1, 8 do
        if buf then p:pread(f, buf, 16 * PAGE, rand(1500) * PAGE) end
      end
    elseif op == 3 then
      local buf = p:mmap(nil, 16 * PAGE, "rw", "private|anonymous")
      if buf then p:write(buf, "data"); p:pwrite(f, buf, 16 * PAGE, rand(1500) * PAGE) end
    elseif op == 4 then
      local a = p:mmap(nil, 32 * PAGE, "rw", "private|anonymous")
      if a then p:touch(a, 32 * PAGE, "w"); p:madvise(a, 32 * PAGE, "free") end
    elseif op == 5 and #procs < 6 then
      local c = p:fork()
      if c then procs[#procs + 1] = c end
    elseif op == 6 and #procs > 1 then
      p:exit()
    elseif op == 7 then
      for _, v in ipairs(p:vmas()) do
        if v.name == "" and rand(4) == 0 then p:munmap(v.start, v["end"] - v.start) end
      end
    elseif op == 8 then
      if rand(10) == 0 then m:drop_caches(1) end
      local buf = p:mmap(nil, 16 * PAGE, "rw", "private|anonymous")
      for _ = 1, 32 do
        if buf then p:pread(files[rand(#files) + 1], buf, 16 * PAGE, rand(1500) * PAGE) end
      end
    else
      for _, v in ipairs(p:vmas()) do
        if v.name:match("^/data") and rand(3) == 0 then p:read(v.start, 1) end
        if rand(8) == 0 then
          p:madvise(v.start, v["end"] - v.start, rand(2) == 0 and "cold" or "pageout")
        end
      end
    end
    local alive = {}
    for _, q in ipairs(procs) do if m:task(q.pid) then alive[#alive + 1] = q end end
    procs = alive
    m:check()
    steps = steps + 1
  end
  lu.assertEquals(steps, 1500)
  local v = m:vmstat()
  lu.assertTrue(v.pgsteal_file > 0)
  lu.assertTrue(v.pgscan_kswapd > 0)
end

-- MADV_PAGEOUT reclaims a PMD's pages together (reclaim_pages), whatever
-- their memory cgroups: each page activated (no swap for anonymous ones)
-- counts pgactivate in its own memcg, as shrink_folio_list's
-- count_memcg_folio_events does.
function TestReclaim:test_pageout_activations_by_memcg()
  local PAGE, BASE = 4096, 0x7f0000000000
  local m <close> = memlab.new{}
  local a, b = assert(m:cgroup("/a")), assert(m:cgroup("/b"))
  local p = m:spawn{ aslr = false, cgroup = "/a" }
  assert(p:mmap(BASE, 20 * PAGE, "rw-", "private|anonymous|fixed"))
  for i = 0, 9 do assert(p:write(BASE + i * PAGE, "a")) end
  b:attach(p)
  for i = 10, 19 do assert(p:write(BASE + i * PAGE, "b")) end
  m:lru_add_drain_all()
  local a0, b0, g0 = a:stat().pgactivate, b:stat().pgactivate, m:vmstat().pgactivate
  assert(p:madvise(BASE, 20 * PAGE, "pageout"))
  lu.assertEquals({ a:stat().pgactivate - a0, b:stat().pgactivate - b0, m:vmstat().pgactivate - g0 },
                  { 10, 10, 20 })
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run(), true)
