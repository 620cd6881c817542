-- test_tlb_batch.lua: the TLB flushes of reclaim, migration and splits
-- (docs/lua-api.md, "CPUs and TLBs"): TTU_BATCH_FLUSH defers a flush
-- when another CPU may hold the mm's entries, try_to_unmap_flush() sends
-- one IPI for the batch, a dirty page is flushed before its write-out,
-- flush_tlb_batched_pending() flushes the mm once more at its next PTE
-- walk, and the CPU that flushes is the one running the code (a kernel
-- thread's: CPU 0).  tests/diff/diff_tlbbatch.c checks the counts of the
-- pageout cases against the host.
--
-- Run from the source root:  build/memlab run tests/lua/test_tlb_batch.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local PMD = 2 * 1024 * 1024
local BASE = 0x7f0000000000		-- PMD-aligned
local KEYS = { "nr_tlb_remote_flush", "nr_tlb_remote_flush_received",
               "nr_tlb_local_flush_all", "nr_tlb_local_flush_one", "tlbi_broadcast" }

-- The flush counters of every CPU, as { [cpu + 1] = { key = n } }.
local function counters(m)
  local out = {}
  for i, s in ipairs(m:tlb_stats()) do
    out[i] = {}
    for _, k in ipairs(KEYS) do out[i][k] = s[k] end
  end
  return out
end

-- What fn did to the counters of CPU cpu.
local function flushes(m, cpu, fn)
  local before = counters(m)
  fn()
  local after, d = counters(m), {}
  for _, k in ipairs(KEYS) do d[k] = after[cpu + 1][k] - before[cpu + 1][k] end
  return d
end

-- A 2-CPU machine, a process p on CPU 0 and its thread t on CPU 1 (which
-- runs the mm, on memory of its own), and n pages at addr: a file's,
-- clean (read) or dirty (written through a shared mapping), or
-- anonymous (written).
local function setup(opts)
  local m = memlab.new{ cpus = 2, swap = "64M", arch = opts.arch }
  local p = m:spawn{ aslr = false }
  local t = p:thread()
  lu.assertEquals({ p.cpu, t.cpu }, { 0, 1 })
  local n, addr = opts.pages, opts.addr or BASE
  if opts.anon then
    assert(p:mmap(addr, n * PAGE, "rw-", "private|anonymous|fixed"))
    for i = 0, n - 1 do assert(p:write(addr + i * PAGE, "x")) end
  else
    local f = m:file{ path = "/data", size = n * PAGE, writable = true }
    assert(p:mmap(addr, n * PAGE, opts.dirty and "rw-" or "r--", "shared|fixed", f, 0))
    for i = 0, n - 1 do
      if opts.dirty then assert(p:write(addr + i * PAGE, "x")) else assert(p:read(addr + i * PAGE, 1)) end
    end
  end
  local own = assert(t:mmap(nil, PAGE, "rw-", "private|anonymous"))
  assert(t:write(own, "t"))
  return m, p, t, addr
end

TestReclaim = {}

-- 100 clean pages in one PMD: reclaim_pages() frees them 31 at a time,
-- each batch after one flush: 4 IPIs, not 100; CPU 0 flushes itself too.
function TestReclaim:test_clean_pages_one_ipi_per_batch()
  local m <close>, p, _, a = setup{ pages = 100 }
  local before = counters(m)
  assert(p:madvise(a, 100 * PAGE, "pageout"))
  local after = counters(m)
  lu.assertEquals(after[2].nr_tlb_remote_flush_received - before[2].nr_tlb_remote_flush_received, 4)
  lu.assertEquals(after[1].nr_tlb_remote_flush - before[1].nr_tlb_remote_flush, 4)
  lu.assertEquals(after[1].nr_tlb_local_flush_all - before[1].nr_tlb_local_flush_all, 4)
  lu.assertEquals(after[1].nr_tlb_local_flush_one - before[1].nr_tlb_local_flush_one, 0)
  lu.assertNil(p:translate(a).pfn)	-- unmapped
  lu.assertTrue(m:check())
end

-- A batch is a PMD's pages: 10 below a PMD boundary and 52 above are two
-- reclaim_pages() calls (1 + 2 flushes), and the second PMD's walk first
-- flushes the whole mm for the first's deferred flushes
-- (flush_tlb_batched_pending): 4, as on the host.
function TestReclaim:test_each_pmd_its_batch_and_the_pending_flush()
  local m <close>, p, _, a = setup{ pages = 62, addr = BASE + PMD - 10 * PAGE }
  local d = flushes(m, 1, function() assert(p:madvise(a, 62 * PAGE, "pageout")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 4)
  lu.assertTrue(m:check())
end

-- Dirty file pages are unmapped and left to the flusher: one flush at the
-- end of the batch for them all.
function TestReclaim:test_dirty_file_pages_one_flush()
  local m <close>, p, _, a = setup{ pages = 100, dirty = true }
  local d = flushes(m, 1, function() assert(p:madvise(a, 100 * PAGE, "pageout")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)
  lu.assertNil(p:translate(a).pfn)
  lu.assertTrue(m:check())
end

-- A dirty anonymous page is written to swap, and a writable entry must
-- be gone from every TLB first (try_to_unmap_flush_dirty): a flush each.
function TestReclaim:test_dirty_anon_flushed_before_writeout()
  local m <close>, p, _, a = setup{ pages = 40, anon = true }
  local before = m:vmstat().pswpout
  local d = flushes(m, 1, function() assert(p:madvise(a, 40 * PAGE, "pageout")) end)
  lu.assertEquals(m:vmstat().pswpout - before, 40)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 40)
  lu.assertTrue(m:check())
end

-- An mm that runs on this CPU alone is flushed at once, page by page
-- (should_defer_flush() is false: no IPI to save).
function TestReclaim:test_mm_on_this_cpu_alone_is_not_deferred()
  local m <close> = memlab.new{ cpus = 2 }
  local p = m:spawn{ aslr = false }
  local f = m:file{ path = "/data", size = 40 * PAGE, writable = true }
  assert(p:mmap(BASE, 40 * PAGE, "r--", "shared|fixed", f, 0))
  for i = 0, 39 do assert(p:read(BASE + i * PAGE, 1)) end
  local d = flushes(m, 0, function() assert(p:madvise(BASE, 40 * PAGE, "pageout")) end)
  lu.assertEquals(d.nr_tlb_local_flush_one, 40)
  lu.assertEquals(d.nr_tlb_local_flush_all, 0)
  lu.assertEquals(d.nr_tlb_remote_flush, 0)
  lu.assertTrue(m:check())
end

-- A CPU that went idle (its thread exited) is lazy: the batch's flush
-- skips it (no IPI), and its slot, behind, flushes when the mm returns.
function TestReclaim:test_lazy_cpu_gets_no_ipi()
  local m <close>, p, t, a = setup{ pages = 100 }
  t:exit()
  lu.assertTrue(m:tlb_stats()[2].lazy)
  local d = flushes(m, 1, function() assert(p:madvise(a, 100 * PAGE, "pageout")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 0)
  lu.assertTrue(m:check())
end

-- The deferred flushes stay pending for the mm: its next PTE walk (here
-- munmap's zap) flushes it whole, then munmap's freed table flushes again.
function TestReclaim:test_munmap_after_pageout_flushes_the_pending()
  local m <close>, p, _, a = setup{ pages = 100 }
  local d = flushes(m, 1, function() assert(p:munmap(a, 100 * PAGE)) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)
  local m2 <close>, p2, _, a2 = setup{ pages = 100 }
  assert(p2:madvise(a2, 100 * PAGE, "pageout"))
  d = flushes(m2, 1, function() assert(p2:munmap(a2, 100 * PAGE)) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 2)
  -- once flushed, nothing is pending: mprotect of what is left costs one
  assert(p2:mmap(a2, PAGE, "rw-", "private|anonymous|fixed"))
  assert(p2:write(a2, "y"))
  d = flushes(m2, 1, function() assert(p2:mprotect(a2, PAGE, "r--")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)
  lu.assertTrue(m2:check())
end

-- mremap and MADV_FREE flush the pending batch too: the first of them
-- after the pageout costs one IPI more than the next.  (mremap's move_ptes
-- walk finds it, or the zap of the old range after it: the count cannot
-- tell which; MADV_FREE's walk is its only one.)
function TestReclaim:test_mremap_and_free_flush_the_pending()
  local m <close>, p, _, a = setup{ pages = 64 }
  assert(p:madvise(a, 64 * PAGE, "pageout"))
  local b = BASE + 16 * PMD
  local first = flushes(m, 1, function()
    assert(p:mremap(a, 64 * PAGE, 64 * PAGE, "maymove|fixed", b)) end)
  local again = flushes(m, 1, function()
    assert(p:mremap(b, 64 * PAGE, 64 * PAGE, "maymove|fixed", a)) end)
  lu.assertEquals(first.nr_tlb_remote_flush_received - again.nr_tlb_remote_flush_received, 1)
  local m2 <close>, q, _, c = setup{ pages = 64, anon = true }
  assert(q:madvise(c, 64 * PAGE, "pageout"))		-- to swap
  first = flushes(m2, 1, function() assert(q:madvise(c, 64 * PAGE, "free")) end)
  again = flushes(m2, 1, function() assert(q:madvise(c, 64 * PAGE, "free")) end)
  lu.assertEquals(first.nr_tlb_remote_flush_received - again.nr_tlb_remote_flush_received, 1)
  lu.assertTrue(m:check())
  lu.assertTrue(m2:check())
end

-- arm64 issues each deferred page's TLBI at once (only the barrier
-- waits): 100 broadcasts.  The mm's next PTE walk still flushes it whole
-- (6.16+: a barrier here does not wait for TLBIs another CPU sent): an
-- mprotect of the now empty range is one TLBI ASIDE1IS, nothing else.
function TestReclaim:test_arm64_tlbi_at_once()
  local m <close>, p, _, a = setup{ pages = 100, arch = "arm64" }
  local d = flushes(m, 0, function() assert(p:madvise(a, 100 * PAGE, "pageout")) end)
  lu.assertEquals(d.tlbi_broadcast, 100)
  d = flushes(m, 0, function() assert(p:mprotect(a, 100 * PAGE, "---")) end)
  lu.assertEquals(d.tlbi_broadcast, 1)
  d = flushes(m, 0, function() assert(p:mprotect(a, 100 * PAGE, "r--")) end)
  lu.assertEquals(d.tlbi_broadcast, 0)	-- nothing pending any more, nothing mapped
  lu.assertTrue(m:check())
end

-- A split in MADV_COLD's walk (a 64K folio advised in part) defers its
-- unmap's flushes; the walk, taking the PTE lock again, flushes the mm
-- at once (flush_tlb_batched_pending), not at the next call.
function TestReclaim:test_split_in_walk_flushes_pending()
  local m <close> = memlab.new{ cpus = 2 }
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = m:spawn{ aslr = false }
  local t = p:thread()
  assert(t:write(assert(t:mmap(nil, PAGE, "rw-", "private|anonymous")), "t"))
  assert(p:mmap(BASE, 16 * PAGE, "rw-", "private|anonymous|fixed"))
  for i = 0, 15 do assert(p:write(BASE + i * PAGE, "x")) end
  lu.assertEquals(m:page(p:translate(BASE).pfn).order, 4)
  local d = flushes(m, 1, function() assert(p:madvise(BASE, 8 * PAGE, "cold")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 3)	-- the split's batch, the pending, the gather's
  d = flushes(m, 1, function() assert(p:mprotect(BASE + 8 * PAGE, 8 * PAGE, "r--")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)	-- its own flush only
  lu.assertTrue(m:check())
end

TestInitiator = {}

-- Reclaim outside a task's call (memory.reclaim written by no task, as a
-- kernel thread runs it) runs on CPU 0: a task running on CPU 1 alone
-- gets a shootdown, and CPU 0, running no user task, holds its mm lazily.
function TestInitiator:test_kernel_thread_flushes_from_cpu0()
  local m <close> = memlab.new{ cpus = 2 }
  local q = m:spawn{ aslr = false }			-- CPU 0
  local p = m:spawn{ aslr = false }			-- CPU 1
  lu.assertEquals(p.cpu, 1)
  local f = m:file{ path = "/data", size = 64 * PAGE, writable = true }
  assert(p:mmap(BASE, 64 * PAGE, "r--", "shared|fixed", f, 0))
  for i = 0, 63 do assert(p:read(BASE + i * PAGE, 1)) end
  assert(q:read(q:mmap(nil, PAGE, "rw-", "private|anonymous"), 1))	-- CPU 0 runs q
  m:lru_add_drain_all()
  local before = counters(m)
  for _ = 1, 4 do m:cgroup("/"):write("memory.reclaim", "128K") end	-- EAGAIN: less freed
  lu.assertNil(p:translate(BASE).pfn)					-- unmapped by reclaim
  local after = counters(m)
  lu.assertTrue(after[2].nr_tlb_remote_flush_received > before[2].nr_tlb_remote_flush_received)
  lu.assertEquals(after[2].nr_tlb_remote_flush_received - before[2].nr_tlb_remote_flush_received,
                  after[1].nr_tlb_remote_flush - before[1].nr_tlb_remote_flush)
  lu.assertTrue(m:tlb_stats()[1].lazy)
  assert(q:read(q:mmap(nil, PAGE, "rw-", "private|anonymous"), 1))	-- q runs again
  lu.assertFalse(m:tlb_stats()[1].lazy)
  lu.assertTrue(m:check())
end

-- x86's flush_tlb_range() passes freed_tables (Linux 3ef938c35035): a
-- huge PMD's split (pmdp_invalidate) reaches a lazy CPU of the mask too,
-- which switches to init_mm.
function TestInitiator:test_flush_range_reaches_lazy_cpus()
  local m <close> = memlab.new{ cpus = 2 }
  m:thp{ enabled = "always" }
  local p = m:spawn{ aslr = false }			-- CPU 0
  assert(p:mmap(BASE, PMD, "rw-", "private|anonymous|fixed"))
  assert(p:write(BASE, "x"))
  lu.assertTrue(p:translate(BASE).huge)
  p:run_on(1)
  assert(p:read(BASE, 1))				-- CPU 0 idle: lazy, in mm_cpumask
  lu.assertTrue(m:tlb_stats()[1].lazy)
  local d = flushes(m, 0, function() assert(p:mprotect(BASE, PAGE, "r--")) end)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)
  lu.assertEquals(m:tlb_stats()[1].loaded_pid, 0)	-- init_mm now
  lu.assertTrue(m:check())
end

-- The tlb_flush trace of a batch's flush, as Linux traces it: the IPIs
-- sent (reason 4, TLB_REMOTE_SEND_IPI, all pages), the initiator's own
-- flush of no mm (2, TLB_LOCAL_SHOOTDOWN) and the other CPU's (1).
function TestInitiator:test_batch_flush_trace()
  local m <close>, p, _, a = setup{ pages = 31 }
  m:trace{ events = { "tlb_flush" } }
  assert(p:madvise(a, 31 * PAGE, "pageout"))
  local seq = {}
  for _, ev in ipairs(m:trace_events()) do seq[#seq + 1] = { ev.reason, ev.pages } end
  m:trace(false)
  lu.assertEquals(seq, { { 4, -1 }, { 2, -1 }, { 1, -1 } })
  lu.assertTrue(m:check())
end

TestMigration = {}

-- Compaction (m:compact(): CPU 0) of pages whose mm runs on CPU 1:
-- try_to_migrate() defers each entry's flush to the batch's end, so
-- CPU 1 takes an IPI per migrate_pages() batch, not per page.
function TestMigration:test_compaction_batches_its_flushes()
  local m <close> = memlab.new{ cpus = 2, ram = "64M" }
  local _ = m:spawn{ aslr = false }			-- CPU 0
  local p = m:spawn{ aslr = false }			-- CPU 1
  local n = 4096
  assert(p:mmap(BASE, n * PAGE, "rw-", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  for i = 0, n - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
  local moved = m:vmstat().pgmigrate_success
  local d = flushes(m, 1, function() assert(m:compact()) end)
  moved = m:vmstat().pgmigrate_success - moved
  lu.assertTrue(moved > 64)
  lu.assertTrue(d.nr_tlb_remote_flush_received > 0)
  lu.assertTrue(d.nr_tlb_remote_flush_received * 16 <= moved)	-- batches of up to 32
  for i = 1, n - 1, 2 do lu.assertEquals(p:read(BASE + i * PAGE, #("page " .. i)), "page " .. i) end
  lu.assertTrue(m:check())
end

TestSplit = {}

-- A split unmaps the folio's PTEs with TTU_BATCH_FLUSH and flushes once
-- (unmap_folio): the deferred split shrinker (m:drop_caches(2), on CPU 0)
-- splitting a huge page mapped by 511 PTEs of a task on CPU 1 costs CPU 1
-- one IPI.  On one CPU nothing is deferred, but the kernel thread's CPU
-- holds the task's mm lazily: the first flush switches it to init_mm, and
-- the task's return flushes its ASID (switch_mm: its generation is behind).
local function split_case(cpus)
  local m <close> = memlab.new{ cpus = cpus, ram = "64M" }
  m:thp{ enabled = "always" }
  local _ = cpus > 1 and m:spawn{ aslr = false }	-- CPU 0
  local p = m:spawn{ aslr = false }
  assert(p:mmap(BASE, PMD, "rw-", "private|anonymous|fixed"))
  for i = 0, 511 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
  assert(p:munmap(BASE + 511 * PAGE, PAGE))		-- partially mapped: queued
  local split = m:vmstat().thp_split_page
  local d = flushes(m, p.cpu, function() m:drop_caches(2) end)
  lu.assertEquals(m:vmstat().thp_split_page - split, 1)
  d.switch_flushes = m:tlb_stats()[p.cpu + 1].switch_flushes
  assert(p:read(BASE, 1))
  d.switch_flushes = m:tlb_stats()[p.cpu + 1].switch_flushes - d.switch_flushes
  for i = 0, 510, 97 do lu.assertEquals(p:read(BASE + i * PAGE, #("page " .. i)), "page " .. i) end
  lu.assertTrue(m:check())
  return d
end

function TestSplit:test_split_flushes_once()
  local d = split_case(2)
  lu.assertEquals(d.nr_tlb_remote_flush_received, 1)
  lu.assertEquals(d.switch_flushes, 0)
  d = split_case(1)
  lu.assertEquals(d.nr_tlb_local_flush_one + d.nr_tlb_local_flush_all, 0)
  lu.assertEquals(d.switch_flushes, 1)
end

os.exit(lu.LuaUnit.run(), true)
