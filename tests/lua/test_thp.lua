-- test_thp.lua: transparent huge pages for anonymous memory (mm/huge_memory.c
-- as memlab models it): the settings, huge faults, the huge zero page,
-- splits, fork, unmapping, and the counters.  Every machine runs with
-- debug_vm, so every call is followed by m:check().
--
-- Run from the source root:  build/memlab run tests/lua/test_thp.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local MiB, HP = 1024 * 1024, 2 * 1024 * 1024
local BASE = 0x7e0000000000

local function machine(opts)
  local o = { ram = "256M", seed = 1, debug_vm = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  return memlab.new(o)
end

local function free_pages(m)
  m:drain_pages()
  return m:vmstat().nr_free_pages
end

-- The smaps field of the VMA starting at addr, in kB.
local function smaps_kb(m, p, addr, field)
  local head = string.format("^%x%%-", addr)
  local inside = false
  for line in m:proc(p.pid .. "/smaps"):gmatch("[^\n]+") do
    if line:match("^%x+%-%x+ ") then inside = line:match(head) ~= nil
    elseif inside and line:match("^" .. field .. ":") then
      return tonumber(line:match("(%d+) kB"))
    end
  end
end

-- A process with 8 MiB of anonymous memory at BASE, madvised or not.
local function setup(m, advise)
  local p = m:spawn{ name = "thp", aslr = false }
  assert(p:mmap(BASE, 8 * MiB, "rw-", "private|anonymous|fixed_noreplace"))
  if advise then assert(p:madvise(BASE, 8 * MiB, advise)) end
  return p
end

TestTHP = {}

function TestTHP:test_settings()
  local m <close> = machine()
  local st = m:thp()
  lu.assertEquals(st.khugepaged.max_ptes_none, 511)	-- test_khugepaged.lua has the rest
  st.khugepaged = nil
  st.hugepages = nil	-- test_mthp.lua's
  lu.assertEquals(st, { enabled = "madvise", use_zero_page = true, hpage_pmd_size = HP })
  lu.assertEquals(m:thp{ enabled = "always", use_zero_page = false }.enabled, "always")
  lu.assertFalse(m:thp().use_zero_page)
  H.assert_raises({ "thp" }, m.thp, m, { enabled = "sometimes" })
  H.assert_raises({ "thp" }, m.thp, m, { use_zero_page = 1 })
  H.assert_raises({ "thp" }, m.thp, m, 42)
  local a <close> = machine{ arch = "arm64", page_size = 16384 }
  lu.assertEquals(a:thp().hpage_pmd_size, 32 * MiB)
end

function TestTHP:test_madvised_write_maps_a_huge_page()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  local free0 = free_pages(m)
  assert(p:write(BASE + 5, "x"))
  local t = p:translate(BASE + 5)
  lu.assertTrue(t.huge)
  lu.assertEquals(t.size, HP)
  lu.assertEquals(t.levels[#t.levels].level, "PMD")
  lu.assertEquals(p:mm().rss_anon, 512)
  lu.assertEquals(p:mm().min_flt, 1)
  lu.assertEquals(m:vmstat().thp_fault_alloc, 1)
  lu.assertEquals(m:vmstat().nr_anon_transparent_hugepages, 1)
  lu.assertEquals(m:vmstat().nr_anon_pages, 512)
  lu.assertEquals(tonumber(m:proc("meminfo"):match("AnonHugePages:%s+(%d+)")), 2048)
  lu.assertEquals(smaps_kb(m, p, BASE, "AnonHugePages"), 2048)
  lu.assertEquals(smaps_kb(m, p, BASE, "Rss"), 2048)
  -- a huge page and a deposited PTE table (and the upper tables)
  lu.assertEquals(free0 - free_pages(m), 512 + p:mm().pgtables_bytes // 4096)
  assert(p:write(BASE + HP - 1, "y"))		-- same huge page: no fault
  lu.assertEquals(p:mm().min_flt, 1)
  lu.assertEquals(p:read(BASE + 5, 1), "x")
end

function TestTHP:test_not_without_madvise_or_with_never()
  local m <close> = machine()
  local p = setup(m, nil)
  assert(p:write(BASE, "x"))
  lu.assertFalse(p:translate(BASE).huge)
  lu.assertEquals(p:mm().rss_anon, 1)
  local q = setup(m, "nohugepage")
  m:thp{ enabled = "always" }
  assert(q:write(BASE, "x"))
  lu.assertFalse(q:translate(BASE).huge)
  assert(p:write(BASE + HP, "x"))			-- "always": no madvise needed
  lu.assertTrue(p:translate(BASE + HP).huge)
  m:thp{ enabled = "never" }
  local r = setup(m, "hugepage")
  assert(r:write(BASE, "x"))
  lu.assertFalse(r:translate(BASE).huge)
end

-- A write to the huge zero page takes a new huge page in its place
-- (do_huge_zero_wp_pmd, Linux 6.13 on; tests/diff/diff_mthp.c saw the
-- host do it); only when none can be had is the zero PMD split and one
-- small page copied.
function TestTHP:test_huge_zero_page_then_write()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  lu.assertEquals(p:read(BASE, 4), "\0\0\0\0")
  local t = p:translate(BASE)
  lu.assertTrue(t.huge and t.special and not t.write)
  lu.assertEquals(p:mm().rss_anon, 0)
  lu.assertEquals(m:vmstat().thp_zero_page_alloc, 1)
  assert(p:write(BASE + 4096, "w"))		-- a huge page in the zero PMD's place
  t = p:translate(BASE)
  lu.assertTrue(t.huge and t.write and t.dirty and not t.special)
  lu.assertEquals(p:read(BASE + 4095, 2), "\0w")
  lu.assertEquals(p:mm().rss_anon, 512)
  lu.assertEquals({ m:vmstat().thp_fault_alloc, m:vmstat().thp_split_pmd }, { 1, 0 })
  assert(p:read(BASE + HP, 1))			-- another zero PMD; no huge page to be had
  m:inject("fail_page_alloc", { probability = 100, times = 1, min_order = 9,
                                ignore_gfp_highmem = false, ignore_gfp_wait = false, verbose = 0 })
  assert(p:write(BASE + HP, "v"))		-- splits the zero PMD, then a small COW
  lu.assertFalse(p:translate(BASE + HP).huge)
  lu.assertTrue(p:translate(BASE + HP + 4096).special)
  lu.assertEquals(p:mm().rss_anon, 513)
  lu.assertEquals({ m:vmstat().thp_split_pmd, m:vmstat().thp_fault_fallback }, { 1, 1 })
  local q = setup(m, "hugepage")
  lu.assertEquals(q:read(BASE, 1), "\0")
  m:thp{ use_zero_page = false }
  assert(q:read(BASE + HP, 1) == "\0")		-- without the zero page: a huge page
  lu.assertTrue(q:translate(BASE + HP).huge and not q:translate(BASE + HP).special)
end

-- An operation on part of a huge page splits only that PMD
-- (vma_adjust_trans_huge -> __split_huge_pmd): the folio stays whole and
-- PTE-mapped; what is unmapped of it leaves it partially mapped, queued
-- for the deferred split, which drop_caches 2 (drop_slab) does, freeing
-- the unmapped pages (the 6.18 host: thp_split_pmd 3, thp_split_page 0,
-- thp_deferred_split_page 2, then thp_split_page 2).
function TestTHP:test_partial_operations_split_the_pmd_only()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  for i = 0, 3 do assert(p:write(BASE + i * HP, string.char(65 + i))) end
  lu.assertEquals(m:vmstat().nr_anon_transparent_hugepages, 4)
  local pfn1 = p:translate(BASE + HP).pfn
  assert(p:mprotect(BASE + 4096, 4096, "r--"))	-- cuts huge page 0
  lu.assertFalse(p:translate(BASE).huge)
  lu.assertTrue(p:translate(BASE).write)		-- the split pages stay this mm's
  lu.assertEquals(p:mm().rss_anon, 4 * 512)
  assert(p:munmap(BASE + HP + 8192, 4096))		-- cuts huge page 1
  lu.assertFalse(p:translate(BASE + HP).huge)
  lu.assertEquals(p:translate(BASE + HP + 4096).pfn, pfn1 + 1)	-- still the folio's
  lu.assertEquals(m:page(pfn1 + 1).folio, pfn1)
  lu.assertEquals(p:mm().rss_anon, 4 * 512 - 1)
  assert(p:madvise(BASE + 2 * HP, 4096, "dontneed"))	-- cuts huge page 2
  lu.assertEquals(p:read(BASE + 2 * HP, 1), "\0")
  lu.assertEquals(p:read(BASE + 2 * HP + 4096, 1), "\0")
  assert(p:munmap(BASE + 3 * HP, HP))		-- the whole of page 3: no split
  local v = m:vmstat()
  lu.assertEquals({ v.thp_split_pmd, v.thp_split_page, v.thp_deferred_split_page,
                    v.nr_anon_transparent_hugepages, v.nr_anon_pages },
                  { 3, 0, 2, 0, 3 * 512 - 2 })
  lu.assertEquals(p:read(BASE, 1), "A")
  lu.assertEquals(p:read(BASE + HP, 1), "B")
  local free = free_pages(m)
  m:drop_caches(2)				-- the shrinker splits the two
  v = m:vmstat()
  -- freed: the two pages no one mapped, and every page that held only
  -- zeroes -- all but "B" -- whose mappings became the zero page's
  -- (try_to_map_unused_to_zeropage)
  lu.assertEquals({ v.thp_split_page, free_pages(m) - free }, { 2, 1023 })
  lu.assertEquals(p:mm().rss_anon, 512 + 1)
  lu.assertTrue(p:translate(BASE + HP + 4096).special)
  lu.assertEquals(m:page(pfn1 + 1).folio, pfn1 + 1)
  lu.assertEquals(p:read(BASE + HP, 1), "B")
end

-- A write to a huge page a fork shares splits the writer's PMD alone
-- (do_huge_pmd_wp_page -> __split_huge_pmd) and copies the one small
-- page written; the other process keeps its huge mapping.
function TestTHP:test_fork_write_splits_only_the_writers_pmd()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(p:write(BASE, "parent"))
  local c = assert(p:fork())
  local pfn = p:translate(BASE).pfn
  lu.assertTrue(c:translate(BASE).huge)
  lu.assertEquals(c:translate(BASE).pfn, pfn)
  lu.assertEquals({ m:page(pfn).mapcount, m:page(pfn).entire_mapcount }, { 2, 2 })
  lu.assertFalse(p:translate(BASE).write)
  lu.assertEquals(c:mm().rss_anon, 512)
  assert(c:write(BASE, "child!"))
  lu.assertEquals(p:read(BASE, 6), "parent")
  lu.assertEquals(c:read(BASE, 6), "child!")
  lu.assertTrue(p:translate(BASE).huge)
  lu.assertFalse(c:translate(BASE).huge)
  lu.assertNotEquals(c:translate(BASE).pfn, pfn)
  lu.assertEquals(c:translate(BASE + 4096).pfn, pfn + 1)
  lu.assertEquals({ m:page(pfn).mapcount, m:page(pfn + 1).mapcount, m:page(pfn + 1).folio,
                    m:page(pfn + 1).entire_mapcount, m:page(pfn + 1).refcount },
                  { 1, 2, pfn, 1, 1 + 511 })
  local v = m:vmstat()
  lu.assertEquals({ v.thp_split_pmd, v.thp_split_page, v.nr_anon_transparent_hugepages },
                  { 1, 0, 1 })
  lu.assertEquals({ smaps_kb(m, p, BASE, "AnonHugePages"), smaps_kb(m, c, BASE, "AnonHugePages") },
                  { 2048, 0 })
  lu.assertEquals(c:mm().rss_anon, 512)
  c:exit()						-- p's PMD is the folio's only mapping
  assert(p:write(BASE + 4096, "p"))			-- refcount 1: reused whole
  lu.assertTrue(p:translate(BASE).huge and p:translate(BASE).write)
  lu.assertEquals(p:translate(BASE).pfn, pfn)
end

-- The experiment of the notes on THP and fork (a 6.18 host): 8 MiB of
-- huge pages, fork, the parent writes one byte in the middle of the last
-- huge page.  Private_Dirty grows by 4 kB, not 2 MiB; the parent's
-- AnonHugePages drops by the one huge page; the child's does not.
function TestTHP:test_fork_cow_copies_one_small_page()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(H.fill(p, BASE, 8 * MiB))
  local c = assert(p:fork())
  assert(p:write(BASE + 7 * MiB, "y"))
  local function fields(t)
    local r = {}
    for _, f in ipairs{ "Rss", "Shared_Dirty", "Private_Dirty", "AnonHugePages" } do
      r[#r + 1] = smaps_kb(m, t, BASE, f)
    end
    return r
  end
  lu.assertEquals(fields(p), { 8192, 8188, 4, 6144 })
  lu.assertEquals(fields(c), { 8192, 8188, 4, 8192 })
  lu.assertEquals(m:vmstat().thp_split_pmd, 1)
end

-- Another page of a PTE-mapped huge page is copied while another mm maps
-- the folio, and reused once this mm maps all that is left of it
-- (__wp_can_reuse_large_anon_folio); the folio partly unmapped by the
-- other's munmap is queued for the deferred split.
function TestTHP:test_pte_mapped_folio_copied_while_shared_then_reused()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(H.fill(p, BASE, HP))
  local pfn = p:translate(BASE).pfn
  local c = assert(p:fork())
  assert(c:write(BASE, "c"))			-- c: PTEs, page 0 copied
  assert(c:write(BASE + 4096, "c"))		-- still shared with p's PMD: copied
  lu.assertNotEquals(c:translate(BASE + 4096).pfn, pfn + 1)
  lu.assertEquals(m:vmstat().thp_deferred_split_page, 0)
  assert(p:munmap(BASE, 8 * MiB))		-- p's PMD goes: pages 0 and 1 unmapped
  lu.assertEquals(m:vmstat().thp_deferred_split_page, 1)
  lu.assertEquals(m:vmstat().nr_anon_transparent_hugepages, 0)
  local reuse = m:vmstat().pgreuse
  assert(c:write(BASE + 2 * 4096, "c"))		-- c's alone now: written in place
  lu.assertEquals(c:translate(BASE + 2 * 4096).pfn, pfn + 2)
  lu.assertEquals(m:vmstat().pgreuse, reuse + 1)
  lu.assertTrue(m:page(pfn + 2).anon_exclusive)
  lu.assertFalse(m:page(pfn + 3).anon_exclusive)
  local free = free_pages(m)
  c:exit()					-- the whole folio freed with its last mapping
  lu.assertTrue(free_pages(m) - free >= 512)
end

function TestTHP:test_exit_and_whole_munmap_free_everything()
  local m <close> = machine()
  local free0 = free_pages(m)
  local p = setup(m, "hugepage")
  for i = 0, 2 do assert(p:write(BASE + i * HP, "x")) end
  assert(p:read(BASE + 3 * HP, 1))			-- and a huge zero page
  local c = assert(p:fork())
  assert(p:munmap(BASE, 2 * HP))
  c:exit()
  p:exit()
  H.shrink_kernel_caches(m)	-- the slabs of their kernel objects
  lu.assertEquals(free_pages(m) + H.kernel_kept(m), free0)  -- their kernel stacks cached
end

function TestTHP:test_mremap_moves_or_splits()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(p:write(BASE, "moved"))
  local to = 0x7f0000000000
  assert(p:mremap(BASE, HP, HP, "maymove|fixed", to))	-- same alignment: moved whole
  lu.assertTrue(p:translate(to).huge)
  lu.assertEquals(p:read(to, 5), "moved")
  assert(p:mremap(to, HP, HP, "maymove|fixed", to + HP + 4096 * 3))	-- another: split
  lu.assertFalse(p:translate(to + HP + 4096 * 3).huge)
  lu.assertEquals(p:read(to + HP + 4096 * 3, 5), "moved")
end

-- Page tables where Linux's walks make them, entries or not: mremap out of
-- a PMD that has a PTE table gives the destination PMD a PTE table
-- (move_page_tables: pte_alloc before move_ptes), and fork gives the
-- child one wherever the parent has one (copy_pte_range) -- so a later
-- fault there finds a table and gets no huge page.  The 6.18 host does
-- both (tests/diff/diff_mthp.c seed 1907).
function TestTHP:test_empty_tables_made_by_mremap_and_fork()
  local m <close> = machine()
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "t", aslr = false }
  assert(p:mmap(BASE, 4 * HP, "rw-", "private|anonymous|fixed"))
  assert(p:madvise(BASE, HP, "nohugepage"))		-- small pages in the first PMD
  assert(p:write(BASE, "x"))
  local pte0 = p:mm().pgtables_bytes
  assert(p:mremap(BASE + 4096 * 100, 4096 * 8, 4096 * 8, "maymove|fixed", BASE + 2 * HP))
  lu.assertEquals(p:mm().pgtables_bytes, pte0 + 4096)	-- an empty PTE table there now
  assert(p:write(BASE + 3 * HP, "y"))			-- a PMD with no table: huge
  lu.assertTrue(p:translate(BASE + 3 * HP).huge)
  assert(p:write(BASE + 2 * HP + 4096 * 300, "z"))	-- beside the moved VMA: small
  lu.assertFalse(p:translate(BASE + 2 * HP + 4096 * 300).huge)
  assert(p:madvise(BASE + 3 * HP, 4096, "dontneed"))	-- split: a PTE table
  assert(p:madvise(BASE + 3 * HP, HP // 2, "dontneed"))	-- in two halves: the table kept,
  assert(p:madvise(BASE + 3 * HP + HP // 2, HP // 2, "dontneed"))	-- empty
  lu.assertFalse(p:translate(BASE + 3 * HP + 4096).present)
  local c = assert(p:fork())
  lu.assertEquals(c:mm().pgtables_bytes, p:mm().pgtables_bytes)
  assert(c:write(BASE + 3 * HP, "c"))
  lu.assertFalse(c:translate(BASE + 3 * HP).huge)
end

-- fork's copy of a sparse 64 GiB VMA: the child's tables are the parent's,
-- table for table, across the holes above the PMD level (passed in one
-- step each, alloc_like_tables).
function TestTHP:test_fork_copies_the_tables_of_a_sparse_vma()
  local m <close> = machine()
  local p = m:spawn{ name = "s", aslr = false }
  local G = 1024 * 1024 * 1024
  assert(p:mmap(0x700000000000, 64 * G, "rw-", "private|anonymous|fixed|noreserve"))
  for _, off in ipairs{ 0, 3 * G + 5 * 4096, 40 * G, 64 * G - 4096 } do
    assert(p:write(0x700000000000 + off, "s"))
  end
  assert(p:madvise(0x700000000000 + 40 * G, 4096, "dontneed"))	-- an empty PTE table
  local c = assert(p:fork())
  lu.assertEquals(c:mm().pgtables_bytes, p:mm().pgtables_bytes)
  lu.assertEquals(c:read(0x700000000000 + 64 * G - 4096, 1), "s")
  lu.assertFalse(c:translate(0x700000000000 + 40 * G).present)
end

-- MADV_DONTNEED of a range covering a whole PMD frees its PTE table once
-- the zap left it empty (CONFIG_PT_RECLAIM, x86-64 from 6.14): the PMD can
-- map a huge page again, as on the 6.18 host (tests/diff/diff_mthp.c
-- seeds 8889, 21180).  Half a PMD, or arm64, keeps the table.
function TestTHP:test_dontneed_of_a_whole_pmd_frees_its_table()
  for _, arch in ipairs{ "x86_64", "arm64" } do
    local m <close> = machine{ arch = arch }
    m:thp{ enabled = "always" }
    local p = m:spawn{ name = "t", aslr = false }
    local a = assert(p:mmap(arch == "arm64" and nil or BASE, 2 * HP, "rw-", "private|anonymous"))
    a = (a + HP - 1) & ~(HP - 1)
    assert(p:write(a, "x"))
    assert(p:madvise(a + 4096, 4096, "dontneed"))	-- split: PTEs now
    local bytes = p:mm().pgtables_bytes
    assert(p:madvise(a, HP // 2, "dontneed"))
    lu.assertEquals(p:mm().pgtables_bytes, bytes, arch)	-- half: kept
    assert(p:madvise(a, HP, "dontneed"))
    lu.assertEquals(p:mm().pgtables_bytes, bytes - (arch == "x86_64" and 4096 or 0), arch)
    assert(p:write(a + 4096, "y"))
    lu.assertEquals(p:translate(a).huge, arch == "x86_64", arch)
  end
end

-- A locked huge page that a fork child maps too goes back to evictable
-- when the parent's (locked) mapping goes: the child's copy is not locked
-- (folio_remove_rmap_pmd -> munlock_vma_folio).  On the 6.18 host Mlocked
-- drops by the 2 MiB at the parent's munmap.
function TestTHP:test_locked_huge_page_munlocked_with_its_last_locked_mapping()
  local m = machine()
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "p", root = true, aslr = false }
  local a = assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed|locked"))
  local pfn = p:translate(a).pfn
  lu.assertEquals({ p:translate(a).size, m:page(pfn).lru_list, m:vmstat().nr_mlock },
                  { HP, "unevictable", 512 })
  local c = assert(p:fork())
  assert(p:munmap(a, HP))
  lu.assertEquals({ m:page(pfn).lru_list, m:vmstat().nr_mlock, c:translate(a).size },
                  { "inactive_anon", 0, HP })
  c:exit()
  lu.assertTrue(m:check())
end

-- Reclaim reads a huge PMD's accessed bit (folio_referenced_one ->
-- pmdp_clear_flush_young): the first look at a freshly faulted huge page
-- keeps it (nr_ref_keep 512) and makes its PMD old; a later pass, the PMD
-- still old, splits it for swap.
function TestTHP:test_reclaim_sees_a_young_pmd()
  local m <close> = machine{ ram = "64M", swap = "64M" }
  m:thp{ enabled = "always" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ name = "p", aslr = false, cgroup = "/g" }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed"))
  assert(H.fill(p, BASE, HP))
  lu.assertTrue(p:translate(BASE).huge and p:translate(BASE).accessed)
  m:trace{ events = { "mm_vmscan_lru_shrink_inactive" }, size = 64 }
  assert(cg:write("memory.reclaim", "4K swappiness=max"))
  local evs = m:trace_events()
  m:trace(false)
  lu.assertEquals({ evs[1].nr_scanned, evs[1].nr_ref_keep, evs[1].nr_reclaimed }, { 512, 512, 0 })
  lu.assertTrue(evs[#evs].nr_reclaimed > 0)		-- a later pass: old now
  lu.assertEquals(m:vmstat().thp_split_page, 1)
end

-- Only a VMA that changes splits the PMDs it cuts (vma_adjust_trans_huge):
-- MADV_HUGEPAGE where the VMA has it already and mprotect to the same
-- protection split nothing; MADV_NOHUGEPAGE of part splits the VMA and
-- that PMD; MADV_DONTNEED of part splits the PMD it covers in part
-- (zap_pmd_range).  The 6.18 host agrees (tests/diff/diff_thp.c).
function TestTHP:test_madvise_splits_only_where_linux_does()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(H.fill(p, BASE, 8 * MiB))
  assert(p:madvise(BASE + 4 * MiB, MiB, "hugepage"))
  assert(p:mprotect(BASE + 4 * MiB, MiB, "rw-"))
  lu.assertEquals(m:vmstat().thp_split_pmd, 0)
  assert(p:madvise(BASE + 4 * MiB, MiB, "nohugepage"))
  lu.assertEquals({ m:vmstat().thp_split_pmd, m:vmstat().thp_deferred_split_page }, { 1, 0 })
  assert(p:madvise(BASE + 3 * MiB, 4096, "dontneed"))
  lu.assertEquals({ m:vmstat().thp_split_pmd, m:vmstat().thp_deferred_split_page }, { 2, 1 })
  lu.assertTrue(p:translate(BASE).huge and p:translate(BASE + 6 * MiB).huge)
end

-- MADV_COLD, MADV_FREE and MADV_PAGEOUT of a whole huge page this process
-- alone maps act on it whole; of part of one, split it first; of one a
-- fork shares, leave it (madvise_cold_or_pageout_pte_range,
-- madvise_free_huge_pmd).  Without swap, MADV_PAGEOUT splits it
-- (thp_swpout_fallback) and keeps every page.
function TestTHP:test_cold_free_pageout_of_huge_pages()
  local m <close> = machine()
  local p = setup(m, "hugepage")
  assert(H.fill(p, BASE, 8 * MiB))
  local pfn = p:translate(BASE).pfn
  assert(p:madvise(BASE, HP, "cold"))
  lu.assertTrue(p:translate(BASE).huge)
  lu.assertFalse(p:translate(BASE).accessed)
  lu.assertFalse(m:page(pfn).referenced)
  lu.assertEquals(m:page(pfn).lru_list, "inactive_anon")
  assert(p:madvise(BASE + HP, HP, "free"))
  local v = m:vmstat()
  lu.assertEquals({ v.pglazyfree, v.thp_split_page, smaps_kb(m, p, BASE, "LazyFree") },
                  { 512, 0, 2048 })
  lu.assertEquals(m:page(p:translate(BASE + HP).pfn).lru_list, "inactive_file")
  assert(p:madvise(BASE + 2 * HP, MiB, "cold"))	-- part: the folio is split
  lu.assertEquals({ m:vmstat().thp_split_pmd, m:vmstat().thp_split_page }, { 1, 1 })
  assert(p:madvise(BASE + 3 * HP, HP, "pageout"))
  v = m:vmstat()
  lu.assertEquals({ v.thp_split_page, v.thp_swpout_fallback, p:mm().rss_anon }, { 2, 1, 2048 })
  local c = assert(p:fork())
  assert(c:madvise(BASE, HP, "free"))			-- shared: left alone
  assert(c:madvise(BASE, MiB, "cold"))
  lu.assertEquals({ m:vmstat().pglazyfree, m:vmstat().thp_split_page }, { 512, 2 })
end

-- Reclaim drops a lazily freed huge page whole (pglazyfreed 512, no split:
-- __discard_anon_folio_pmd_locked); one written since MADV_FREE becomes
-- swap-backed again and stays, its contents kept.
function TestTHP:test_reclaim_discards_a_lazily_freed_huge_page_whole()
  local m <close> = machine()
  m:thp{ enabled = "always" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ name = "p", aslr = false, cgroup = "/g" }
  assert(p:mmap(BASE, 2 * HP, "rw-", "private|anonymous|fixed"))
  assert(H.fill(p, BASE, 2 * HP))
  assert(p:write(BASE + HP, "kept"))
  assert(p:madvise(BASE, 2 * HP, "free"))
  assert(p:write(BASE + HP + 4096, "x"))		-- the second written again
  local free = free_pages(m)
  cg:write("memory.reclaim", "4M")			-- EAGAIN: no swap for the rest
  local v = m:vmstat()
  lu.assertEquals({ v.pglazyfreed, v.thp_split_page, p:mm().rss_anon }, { 512, 0, 512 })
  lu.assertTrue(free_pages(m) - free >= 512)
  lu.assertEquals(p:read(BASE, 1), "\0")			-- dropped: zeroes again
  lu.assertEquals(p:read(BASE + HP, 4), "kept")
  lu.assertTrue(p:translate(BASE + HP).huge)
  lu.assertTrue(m:page(p:translate(BASE + HP).pfn).swapbacked)
  -- PTE-mapped whole (its PMD split by an mprotect undone): the same, a PTE at a time
  local q = m:spawn{ name = "q", aslr = false, cgroup = "/g" }
  assert(q:mmap(BASE, HP, "rw-", "private|anonymous|fixed"))
  assert(H.fill(q, BASE, HP))
  assert(q:mprotect(BASE, 4096, "r--"))
  assert(q:mprotect(BASE, 4096, "rw-"))
  assert(q:madvise(BASE, HP, "free"))
  lu.assertFalse(q:translate(BASE).huge)
  cg:write("memory.reclaim", "4M")
  v = m:vmstat()
  lu.assertEquals({ v.pglazyfreed, v.thp_split_page, q:mm().rss_anon }, { 1024, 0, 0 })
end

-- A huge page its PTEs map whole (its PMD split by an mprotect undone
-- again) is advised and mlocked whole, its PTEs taken in one batch
-- (madvise_folio_pte_batch, folio_mlock_step): no split.  MADV_COLD of
-- part of one splits it -- its unmapping, PTE by PTE, leaves it partially
-- mapped a moment: thp_deferred_split_page -- and mlock of part of one
-- leaves it as it is (allow_mlock_munlock).
function TestTHP:test_pte_mapped_huge_page_advised_and_locked_whole()
  local m <close> = machine()
  local p = m:spawn{ name = "thp", aslr = false, root = true }
  assert(p:mmap(BASE, 8 * MiB, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:madvise(BASE, 8 * MiB, "hugepage"))
  assert(H.fill(p, BASE, 8 * MiB))
  for i = 0, 3 do
    assert(p:mprotect(BASE + i * HP, MiB, "r--"))
    assert(p:mprotect(BASE + i * HP, MiB, "rw-"))
  end
  lu.assertFalse(p:translate(BASE).huge)
  local pfn = p:translate(BASE).pfn
  lu.assertEquals({ m:vmstat().thp_split_pmd, m:page(pfn + 7).folio }, { 4, pfn })
  assert(p:madvise(BASE, HP, "cold"))
  lu.assertEquals(m:vmstat().thp_split_page, 0)
  lu.assertFalse(p:translate(BASE + 7 * 4096).accessed)
  lu.assertEquals(m:page(pfn).lru_list, "inactive_anon")
  assert(p:mlock(BASE + HP, HP))
  lu.assertEquals({ m:vmstat().nr_mlock, m:page(p:translate(BASE + HP).pfn).lru_list },
                  { 512, "unevictable" })
  assert(p:mlock(BASE + 2 * HP, MiB))
  lu.assertEquals({ m:vmstat().nr_mlock, m:vmstat().thp_split_page }, { 512, 0 })
  assert(p:madvise(BASE + 3 * HP, MiB, "cold"))
  local v = m:vmstat()
  lu.assertEquals({ v.thp_split_page, v.thp_deferred_split_page }, { 1, 1 })
  assert(p:munlock(BASE + HP, HP))
  lu.assertEquals(m:vmstat().nr_mlock, 0)
end

function TestTHP:test_arm64()
  local m <close> = machine{ arch = "arm64", va_bits = 48 }
  local p = setup(m, "hugepage")
  assert(p:write(BASE + 7, "a"))
  lu.assertTrue(p:translate(BASE).huge)
  lu.assertEquals(p:translate(BASE).levels[#p:translate(BASE).levels].level, "PMD")
  local c = assert(p:fork())
  assert(c:write(BASE, "b"))
  lu.assertEquals(p:read(BASE + 7, 1), "a")
  lu.assertEquals(c:read(BASE, 1), "b")
end

os.exit(lu.LuaUnit.run())
