-- test_lru_batch.lua: the per-CPU folio batches (mm/swap.c cpu_fbatches)
-- between the pages and the LRU lists, as Linux 6.18 has them: new pages
-- and moves between lists wait per CPU, up to 30 a batch, each with a
-- reference (docs/lua-api.md, "Reclaim" and m:lru_add_drain_all()).
--
-- Run from the source root:  build/memlab run tests/lua/test_lru_batch.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE = 4096
local MiB = 1024 * 1024

-- Anonymous pages of p written one by one: their addresses' base.
local function written(p, n)
  local a = assert(p:mmap(nil, n * PAGE, "rw", "private|anonymous"))
  for i = 0, n - 1 do assert(p:write(a + i * PAGE, "x")) end
  return a
end

local function on_lists(m, name)
  return #m:lru(name)
end

-- NR_MLOCK and the unevictable_pgs_* events since v0 (an m:vmstat()).
local function mlock_since(m, v0)
  local v = m:vmstat()
  local function d(k) return v[k] - v0[k] end
  return { nr_mlock = d("nr_mlock"), mlocked = d("unevictable_pgs_mlocked"),
           culled = d("unevictable_pgs_culled"), munlocked = d("unevictable_pgs_munlocked"),
           rescued = d("unevictable_pgs_rescued") }
end

-- 30 new pages wait; the 31st fills the batch, which moves them all.
function test_lru_add_batch_of_31()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "p" }
  local a = written(p, 30)
  lu.assertEquals(on_lists(m, "inactive_anon"), 0)
  lu.assertEquals(m:vmstat().nr_anon_pages, 30)
  local pg = m:page(p:translate(a).pfn)
  lu.assertNil(pg.lru_list)
  lu.assertEquals(pg.refcount, 2)                 -- the mapping's and the batch's
  written(p, 1)
  lu.assertEquals(on_lists(m, "inactive_anon"), 31)
  lu.assertEquals(m:page(p:translate(a).pfn).refcount, 1)
  lu.assertTrue(m:check())
end

-- A huge page never waits: it moves at once, and the batch before it too.
function test_huge_page_drains_the_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "p" }
  written(p, 5)
  lu.assertEquals(on_lists(m, "inactive_anon"), 0)
  local h = assert(p:mmap(nil, 4 * MiB, "rw", "private|anonymous"))
  local base = (h + 2 * MiB - 1) // (2 * MiB) * (2 * MiB)
  assert(p:write(base, "h"))
  lu.assertEquals(m:vmstat().thp_fault_alloc, 1)
  lu.assertEquals(m:vmstat().nr_inactive_anon, 5 + 512)
  lu.assertTrue(m:check())
end

-- read(2) of a page twice: the second look finds it waiting to be added
-- and marks it active there (__lru_cache_activate_folio): it joins the
-- active list, with no pgactivate.  On a list already, the activation
-- waits in the lru_activate batch and counts when it drains.
function test_mark_accessed_in_and_after_the_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local f = m:file{ path = "/data/f", size = 8 * PAGE }   -- readahead fits a batch
  local p = m:spawn{ name = "p" }
  local buf = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  m:lru_add_drain_all()
  lu.assertEquals(p:pread(f, buf, 100, 0), 100)
  lu.assertEquals(p:pread(f, buf, 100, 4 * PAGE), 100)    -- elsewhere, then back
  local act = m:vmstat().pgactivate
  lu.assertEquals(p:pread(f, buf, 100, 0), 100)
  lu.assertEquals(on_lists(m, "inactive_file") + on_lists(m, "active_file"), 0)
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().pgactivate, act)
  lu.assertEquals(on_lists(m, "active_file"), 1)
  -- a page on a list: the activation waits
  lu.assertEquals(p:pread(f, buf, 100, 6 * PAGE), 100)
  lu.assertEquals(p:pread(f, buf, 100, 2 * PAGE), 100)
  lu.assertEquals(p:pread(f, buf, 100, 6 * PAGE), 100)
  lu.assertEquals(on_lists(m, "active_file"), 1)
  lu.assertEquals(m:vmstat().pgactivate, act)
  m:lru_add_drain_all()
  lu.assertEquals(on_lists(m, "active_file"), 2)
  lu.assertEquals(m:vmstat().pgactivate, act + 1)
  lu.assertTrue(m:check())
end

-- A page unmapped while it waits in a batch is freed only when that batch
-- drains: until then it is in no counter but the memcg's usage.  munmap
-- does not drain; MADV_COLD drains only its own CPU's batches.
function test_unmapped_page_outlives_its_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1, cpus = 2 }
  local p = m:spawn{ name = "p" }
  local function pfns(a, n)
    local t = {}
    for i = 0, n - 1 do t[#t + 1] = p:translate(a + i * PAGE).pfn end
    return t
  end
  local function in_use(list)
    local n = 0
    for _, pfn in ipairs(list) do
      local pg = m:page(pfn)
      if not pg.free and not pg.pcp then n = n + 1 end
    end
    return n
  end
  p:run_on(1)
  local a = written(p, 4)
  local held = pfns(a, 4)
  p:run_on(0)
  assert(p:munmap(a, 4 * PAGE))
  lu.assertEquals(m:vmstat().nr_anon_pages, 0)
  lu.assertEquals(in_use(held), 4)                 -- CPU 1's batch holds them
  lu.assertEquals(m:page(held[1]).refcount, 1)
  lu.assertTrue(m:check())
  m:lru_add_drain_all()
  lu.assertEquals(in_use(held), 0)
  lu.assertTrue(m:check())
  -- on its own CPU too: the 6.18 host's munmap does not drain
  -- (/proc/kpageflags: the unmapped page stays anonymous, off the LRU)
  local b = written(p, 4)
  held = pfns(b, 4)
  assert(p:munmap(b, 4 * PAGE))
  lu.assertEquals(in_use(held), 4)
  assert(p:madvise(assert(p:mmap(nil, PAGE, "rw", "private|anonymous")), PAGE, "cold"))
  lu.assertEquals(in_use(held), 0)                 -- MADV_COLD drains this CPU's
  lu.assertTrue(m:check())
end

-- A write fault after fork: the page the parent alone maps again is reused
-- when this CPU's batch held it (wp_can_reuse_anon_folio drains it), and
-- copied when another CPU's does -- Linux's extra copy.
function test_cow_copies_a_page_another_cpu_holds()
  local m <close> = memlab.new{ ram = "64M", seed = 1, cpus = 2 }
  local p = m:spawn{ name = "p" }
  local a = written(p, 2)                          -- in CPU 0's batch
  local c = assert(p:fork())
  c:run_on(0)
  c:exit()                                         -- its exit drains nothing
  local pfn = p:translate(a).pfn
  assert(p:write(a, "y"))
  lu.assertEquals(p:translate(a).pfn, pfn)         -- reused: CPU 0 drained its batch
  local b = written(p, 2)
  p:run_on(1)
  c = assert(p:fork())
  c:run_on(1)
  c:exit()
  pfn = p:translate(b).pfn
  assert(p:write(b, "y"))
  lu.assertNotEquals(p:translate(b).pfn, pfn)      -- copied: CPU 0's batch holds it
  lu.assertTrue(m:check())
end

-- A memory cgroup whose charged pages all wait in a batch has nothing on
-- its lists: reclaim finds nothing to scan (and so never drains), and the
-- cgroup OOM-kills with clean page cache in hand -- as the host does.
function test_memcg_oom_with_page_cache_in_the_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local f = m:file{ path = "/data/f", size = 64 * PAGE }
  local cg = m:cgroup("/box")
  m:spawn{ name = "init" }                         -- pid 1: no OOM killer takes it
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local a = assert(p:mmap(nil, 64 * PAGE, "r", "private", f, 0))
  assert(p:madvise(a, 64 * PAGE, "random"))        -- no fault-around, no readahead
  assert(p:read(a, 1))
  lu.assertEquals(#m:lru("inactive_file"), 0)      -- the cgroup's page waits too
  local s = cg:stat()                              -- room for 16 more pages
  assert(cg:write("memory.max", tostring(s.anon + s.file + s.kernel + 16 * PAGE)))
  local got, err, read = nil, nil, 0
  for i = 1, 63 do
    got, err = p:read(a + i * PAGE, 1)
    if not got then break end
    read = read + 1
  end
  lu.assertEquals(err, "SIGKILL")
  lu.assertEquals(read, 16)                        -- all 16 wait in the lru_add batch
  lu.assertEquals(cg:events().oom_kill, 1)
  lu.assertTrue(m:check())
end

-- Which calls drain this CPU's batches, as a 6.18 host answers (a page
-- written, then the call on another, untouched mapping; /proc/kpageflags
-- says whether the page reached the LRU): munmap, MADV_DONTNEED and
-- mprotect do not; MADV_FREE, MADV_COLD, MADV_POPULATE_*, MAP_POPULATE and
-- mlock do.
function test_drain_points_as_the_host()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "p", root = true }
  local function drains(call)
    local a = written(p, 1)
    local b = assert(p:mmap(nil, 2 * PAGE, "rw", "private|anonymous"))
    call(b)
    local on_list = m:page(p:translate(a).pfn).lru_list ~= nil
    m:lru_add_drain_all()
    assert(p:munmap(a, PAGE))
    if p:translate(b) and p:translate(b).pfn then p:munlock(b, 2 * PAGE) end
    p:munmap(b, 2 * PAGE)
    m:lru_add_drain_all()
    return on_list
  end
  lu.assertFalse(drains(function() end))
  lu.assertFalse(drains(function(b) assert(p:munmap(b, 2 * PAGE)) end))
  lu.assertFalse(drains(function(b) assert(p:madvise(b, 2 * PAGE, "dontneed")) end))
  lu.assertFalse(drains(function(b) assert(p:mprotect(b, 2 * PAGE, "r")) end))
  lu.assertTrue(drains(function(b) assert(p:madvise(b, 2 * PAGE, "free")) end))
  lu.assertTrue(drains(function(b) assert(p:madvise(b, 2 * PAGE, "cold")) end))
  lu.assertTrue(drains(function(b) assert(p:madvise(b, 2 * PAGE, "populate_read")) end))
  lu.assertTrue(drains(function(b) assert(p:madvise(b, 2 * PAGE, "populate_write")) end))
  lu.assertTrue(drains(function(b) assert(p:mlock(b, 2 * PAGE)) end))
  lu.assertTrue(drains(function()
    assert(p:munmap(assert(p:mmap(nil, 2 * PAGE, "rw", "private|anonymous|populate")), 2 * PAGE))
  end))
  lu.assertTrue(m:check())
end

-- drop_caches drains after a file's first 31 pages, not after the rest:
-- 30 clean pages dropped, then 10 dirty active ones deactivated -- the
-- first at that drain, 9 waiting in the lru_deactivate_file batch -- and
-- a page cached far out in a sparse file costs no walk over the hole.
function test_drop_caches_drains_after_the_first_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local f = m:file{ path = "/data/f", size = 40 * PAGE, writable = true }
  for i = 30, 39 do assert(f:write(i * PAGE, "x")) end
  m:lru_add_drain_all()
  for _ = 1, 2 do for i = 0, 39 do f:read(i * PAGE, 1) end end
  m:lru_add_drain_all()
  lu.assertEquals(#m:lru("active_file"), 40)
  local d = m:vmstat().pgdeactivate
  lu.assertEquals(m:drop_caches(1), 30)
  lu.assertEquals(m:vmstat().pgdeactivate - d, 1)
  lu.assertEquals(#m:lru("active_file"), 9)
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().pgdeactivate - d, 10)
  local sparse = m:file{ path = "/data/sparse", size = (1 << 44) - PAGE, writable = true }
  assert(sparse:write((1 << 44) - 2 * PAGE, "y"))
  lu.assertEquals(m:drop_caches(1), 0)             -- dirty: kept, at once
  lu.assertTrue(m:check())
end

-- A page read back from swap waits in the lru_add batch; a write fault
-- that swaps it in drains the CPU's batches first (do_swap_page), so that
-- the refcount says whether the fault owns the page.
function test_swap_in_write_drains()
  local m <close> = memlab.new{ ram = "64M", seed = 1, swap = "16M" }
  m:sysctl{ page_cluster = 0 }	-- swap readahead would drain the batch after its window
  local p = m:spawn{ name = "p" }
  local a = written(p, 2)
  assert(p:madvise(a, 2 * PAGE, "pageout"))
  lu.assertNil(p:translate(a).pfn)
  lu.assertEquals(p:read(a, 1), "x")               -- a read: the page waits
  lu.assertNil(m:page(p:translate(a).pfn).lru_list)
  assert(p:write(a + PAGE, "y"))                   -- a write: drained first
  lu.assertNotNil(m:page(p:translate(a + PAGE).pfn).lru_list)
  lu.assertNotNil(m:page(p:translate(a).pfn).lru_list)
  lu.assertTrue(m:check())
end

-- exit_mmap() drains no batch either (6.15's "mm: remove unnecessary calls
-- to lru_add_drain"), though the exiting task frees its pages on this CPU.
-- A 6.18 host, one CPU, SCHED_FIFO: a page MADV_FREEd (its lazyfree move
-- waiting), then a child (raw clone, so that nothing else faults) that
-- exits at once, or maps and writes a page first: the parent's page shows
-- LazyFree 0 kB in 20 runs of 20; when the child calls MADV_COLD instead,
-- 4 kB.
function test_exit_drains_nothing()
  for _, child_does in ipairs{ "exit", "write a page, exit", "MADV_COLD, exit" } do
    local m <close> = memlab.new{ ram = "64M", seed = 1 }
    local p = m:spawn{ name = "p" }
    local a = assert(p:mmap(nil, PAGE, "rw", "private|anonymous|populate"))
    assert(p:madvise(a, PAGE, "free"))
    local c = assert(p:fork())
    c:run_on(p.cpu)                                -- one CPU, as on the host
    if child_does == "write a page, exit" then
      written(c, 1)
    elseif child_does == "MADV_COLD, exit" then
      assert(c:madvise(a, PAGE, "cold"))
    end
    c:exit()
    local smaps = m:proc(p.pid .. "/smaps")
    local vma = smaps:sub((assert(smaps:find(string.format("%x-", a), 1, true))))
    local lazyfree = tonumber(vma:match("LazyFree:%s+(%d+)"))
    lu.assertEquals(lazyfree, child_does == "MADV_COLD, exit" and 4 or 0, child_does)
    lu.assertTrue(m:check())
  end
end

-- drop_caches deactivates a page it cannot drop, and releasing the
-- file's first batch of pages drains this CPU's batches: the
-- deactivation is done when it returns (mapping_try_invalidate).
function test_drop_caches_deactivates_at_once()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local f = m:file{ path = "/data/f", size = 2 * PAGE, writable = true }
  assert(f:write(0, "x"))                          -- dirty: cannot be dropped
  m:lru_add_drain_all()
  for _ = 1, 2 do f:read(0, 1); f:read(PAGE, 1) end
  m:lru_add_drain_all()
  lu.assertEquals(#m:lru("active_file"), 2)
  local d = m:vmstat().pgdeactivate
  lu.assertEquals(m:drop_caches(1), 1)             -- the clean page
  lu.assertEquals(m:vmstat().pgdeactivate - d, 1)
  lu.assertEquals(#m:lru("active_file"), 0)
  lu.assertTrue(m:check())
end

-- A fault in locked memory mlocks its new page at once (Mlocked,
-- unevictable_pgs_mlocked) and leaves it waiting in the per-CPU mlock
-- batch, on no list and with the batch's reference (mlock_new_folio); it
-- joins the unevictable list, culled, when the batch drains -- when it
-- fills (the 31st entry), or in a drain.  (MAP_LOCKED and mlock populate
-- and drain after: MLOCK_ONFAULT's pages fault in one by one.)
function test_locked_fault_waits_in_the_mlock_batch()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "p", root = true }
  local a = assert(p:mmap(nil, 61 * PAGE, "rw", "private|anonymous"))
  assert(p:mlock(a, 61 * PAGE, "onfault"))
  local v0 = m:vmstat()
  for i = 0, 29 do assert(p:write(a + i * PAGE, "x")) end
  lu.assertEquals(mlock_since(m, v0),
                  { nr_mlock = 30, mlocked = 30, culled = 0, munlocked = 0, rescued = 0 })
  lu.assertEquals(on_lists(m, "unevictable"), 0)
  local pg = m:page(p:translate(a).pfn)
  lu.assertTrue(pg.mlocked)
  lu.assertFalse(pg.unevictable)
  lu.assertNil(pg.lru_list)
  lu.assertEquals(pg.refcount, 2)                 -- the mapping's and the mlock batch's
  lu.assertTrue(m:check())
  m:lru_add_drain_all()
  lu.assertEquals(mlock_since(m, v0).culled, 30)
  lu.assertEquals(on_lists(m, "unevictable"), 30)
  pg = m:page(p:translate(a).pfn)
  lu.assertEquals({ pg.lru_list, pg.refcount }, { "unevictable", 1 })
  -- 31 more: the 31st fills the batch, which moves them all
  for i = 30, 59 do assert(p:write(a + i * PAGE, "x")) end
  lu.assertEquals(on_lists(m, "unevictable"), 30)
  assert(p:write(a + 60 * PAGE, "x"))
  lu.assertEquals(on_lists(m, "unevictable"), 61)
  lu.assertEquals(mlock_since(m, v0).culled, 61)
  lu.assertTrue(m:check())
end

-- mlock of a page waiting in another CPU's lru_add batch: mlock drains
-- only its own CPU's batches, so the page is mlocked at once but its
-- mlock finds it on no list (__mlock_folio does nothing); lru_add() puts
-- it on the unevictable list when that batch drains (culled then, with
-- an mlock_count of 0: the next munlock is the last).
function test_mlock_of_a_page_waiting_in_lru_add()
  local m <close> = memlab.new{ ram = "64M", seed = 1, cpus = 2 }
  local p = m:spawn{ name = "p", root = true }
  p:run_on(1)
  local a = written(p, 1)                          -- in CPU 1's lru_add batch
  p:run_on(0)
  local v0 = m:vmstat()
  assert(p:mlock(a, PAGE))
  local pg = m:page(p:translate(a).pfn)
  lu.assertTrue(pg.mlocked)
  lu.assertNil(pg.lru_list)
  lu.assertEquals(mlock_since(m, v0),
                  { nr_mlock = 1, mlocked = 1, culled = 0, munlocked = 0, rescued = 0 })
  lu.assertTrue(m:check())
  m:lru_add_drain_all()
  lu.assertEquals(m:page(p:translate(a).pfn).lru_list, "unevictable")
  lu.assertEquals(mlock_since(m, v0).culled, 1)
  assert(p:munlock(a, PAGE))
  lu.assertEquals(m:page(p:translate(a).pfn).lru_list, "inactive_anon")
  lu.assertEquals(mlock_since(m, v0),
                  { nr_mlock = 0, mlocked = 1, culled = 1, munlocked = 1, rescued = 1 })
  lu.assertTrue(m:check())
end

-- A page munlocked by the going of its last locked mapping (munmap does
-- not drain) waits in the mlock batch, still mlocked and on the
-- unevictable list, with the batch's reference: the fork child's write
-- then copies the page it alone maps -- wp_can_reuse_anon_folio drains
-- only for a page off the LRU (diff_rss --batched seed 488, on the host).
function test_munlocked_page_waits_and_is_copied()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ name = "p", root = true }
  local a = assert(p:mmap(nil, 2 * PAGE, "rw", "private|anonymous|locked"))
  m:lru_add_drain_all()
  local pfn = p:translate(a).pfn
  local c = assert(p:fork())
  local v0 = m:vmstat()
  assert(p:munmap(a, PAGE))
  local pg = m:page(pfn)
  lu.assertEquals({ pg.mlocked, pg.lru_list, pg.refcount }, { true, "unevictable", 2 })
  lu.assertEquals(mlock_since(m, v0).nr_mlock, 0)
  lu.assertTrue(m:check())
  assert(c:write(a, "z"))
  lu.assertNotEquals(c:translate(a).pfn, pfn)      -- copied: the batch holds the old page
  lu.assertEquals(m:page(pfn).refcount, 1)
  m:lru_add_drain_all()                            -- munlocked (rescued), then freed
  lu.assertEquals(mlock_since(m, v0),
                  { nr_mlock = -1, mlocked = 0, culled = 0, munlocked = 1, rescued = 1 })
  lu.assertFalse(m:page(pfn).mlocked)
  lu.assertTrue(m:check())
  c:exit()
end

os.exit(lu.LuaUnit.run(), true)
