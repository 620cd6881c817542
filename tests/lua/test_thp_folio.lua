-- test_thp_folio.lua: huge pages mapped by PTEs (large folios) and the
-- deferred split queue, in the corners a review found: each test states
-- Linux 6.18's behaviour, with the function it comes from.
--
-- Run from the source root:  build/memlab run tests/lua/test_thp_folio.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local HP, BASE = 2 * 1024 * 1024, 0x7e0000000000

local function machine(opts)
  local o = { ram = "256M", seed = 1, debug_vm = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  local m = memlab.new(o)
  m:thp{ enabled = "always" }
  return m
end

-- A huge page of p at BASE, then PTE-mapped whole in one VMA: mprotect of one
-- page to r-- splits the PMD (vma_adjust_trans_huge), mprotect back to rw-
-- merges the VMAs again; the 512 PTEs differ in no bit folio_pte_batch() looks at.
local function pte_mapped_whole(m, p)
  assert(p:mmap(BASE, 2 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(H.fill(p, BASE, HP))
  assert(p:mprotect(BASE + 4096, 4096, "r--"))
  assert(p:mprotect(BASE + 4096, 4096, "rw-"))
  assert(not p:translate(BASE).huge)
  local vma = p:find_vma(BASE)
  assert(vma.start == BASE and vma["end"] == BASE + 2 * HP)
end

TestTHPFolio = {}

-- zap_pte_range() -> zap_present_ptes() batches the PTEs of one folio
-- (folio_pte_batch) and folio_remove_rmap_ptes(folio, page, 512) takes them
-- off at once: the folio goes from all pages mapped to none, so
-- __folio_remove_rmap() sees partially_mapped = false and queues nothing.
function TestTHPFolio:test_unmapping_a_whole_pte_mapped_folio_is_no_deferred_split()
  for _, how in ipairs{ "munmap", "dontneed", "exit" } do
    local m <close> = machine()
    local p = m:spawn{ aslr = false }
    pte_mapped_whole(m, p)
    if how == "munmap" then assert(p:munmap(BASE, HP))
    elseif how == "dontneed" then assert(p:madvise(BASE, HP, "dontneed"))
    else p:exit() end
    lu.assertEquals({ how, m:vmstat().thp_deferred_split_page }, { how, 0 })
  end
end

-- folio_referenced_one() runs once per VMA and counts that VMA once
-- (if (referenced) pra->referenced++), however many of its PTEs were young:
-- referenced_ptes 1, no PG_referenced yet -> FOLIOREF_KEEP on the first
-- look, as test_thp's test_reclaim_sees_a_young_pmd shows for the PMD.
function TestTHPFolio:test_reclaim_counts_a_vma_once_for_a_pte_mapped_folio()
  local m <close> = machine{ ram = "64M", swap = "64M" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ name = "p", aslr = false, cgroup = "/g" }
  pte_mapped_whole(m, p)
  assert(p:touch(BASE, HP, "r"))		-- every PTE young
  m:trace{ events = { "mm_vmscan_lru_shrink_inactive" }, size = 64 }
  assert(cg:write("memory.reclaim", "4K swappiness=max"))
  local evs = m:trace_events()
  m:trace(false)
  lu.assertEquals({ evs[1].nr_scanned, evs[1].nr_ref_keep }, { 512, 512 })
end

-- A folio the parent maps with its PMD and the child with PTEs (after the
-- child's write).  MADV_COLD, MADV_PAGEOUT and MADV_FREE of part of it in the
-- child leave it alone (madvise_cold_or_pageout_pte_range(),
-- madvise_free_pte_range(): "if (folio_maybe_mapped_shared(folio))
-- continue"), and mlock_pte_range() never splits (allow_mlock_munlock()):
-- the parent's PMD stays.
function TestTHPFolio:test_child_advice_leaves_a_shared_folio_and_the_parents_pmd()
  for _, adv in ipairs{ "cold", "pageout", "free", "mlock" } do
    local m <close> = machine{ swap = "64M" }
    local p = m:spawn{ aslr = false, root = true }
    assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
    assert(H.fill(p, BASE, HP))
    local c = assert(p:fork())
    assert(c:write(BASE, "c"))
    if adv == "mlock" then assert(c:mlock(BASE + 4096, 4096))
    else assert(c:madvise(BASE + 4096, 4096, adv)) end
    lu.assertEquals({ adv, p:translate(BASE).huge, m:vmstat().thp_split_page }, { adv, true, 0 })
  end
end

-- do_shrink_slab(): deferred_split_scan() that splits nothing and leaves the
-- memcg's queue empty returns SHRINK_STOP, and the loop breaks before
-- count_vm_events(SLABS_SCANNED, ...).  One whole THP, drop_caches 2: it
-- leaves the queue, slabs_scanned stays.
function TestTHPFolio:test_drop_slab_stops_when_the_scan_empties_the_queue()
  local m <close> = machine()
  local p = m:spawn{ aslr = false }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:write(BASE, "x"))
  local s0 = m:vmstat().slabs_scanned
  m:drop_caches(2)
  lu.assertEquals(m:vmstat().slabs_scanned - s0, 0)
end

-- madvise advice that changes no VMA and unmaps nothing splits no PMD in
-- Linux (madvise_update_vma() returns early when the flags do not change;
-- MADV_WILLNEED on anonymous memory only reads swap).
function TestTHPFolio:test_advice_that_changes_nothing_splits_no_pmd()
  for _, adv in ipairs{ "willneed", "normal", "hugepage", "dofork" } do
    local m <close> = machine()
    local p = m:spawn{ aslr = false }
    assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
    assert(p:madvise(BASE, HP, "hugepage"))
    assert(H.fill(p, BASE, HP))
    assert(p:madvise(BASE + 4096, 4096, adv))
    lu.assertEquals({ adv, p:translate(BASE).huge, m:vmstat().thp_split_pmd }, { adv, true, 0 })
  end
end

-- __split_huge_pmd_locked() maps the folio's 512 pages by PTEs
-- (folio_add_anon_rmap_ptes: the folio mapped whole, so mlock_vma_folio()
-- mlocks it once more, Linux 6.18) and ends with folio_remove_rmap_pmd(),
-- whose munlock_vma_folio() takes one off: splitting the PMD of a
-- VM_LOCKED VMA leaves the folio mlocked.  On the 6.18 host Mlocked stays
-- 2048 kB after such an mprotect.
function TestTHPFolio:test_splitting_a_locked_pmd_leaves_the_folio_mlocked()
  local m <close> = machine()
  local p = m:spawn{ aslr = false, root = true }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed|locked"))
  local pfn = p:translate(BASE).pfn
  lu.assertEquals(m:vmstat().nr_mlock, 512)
  assert(p:mprotect(BASE + 4096, 4096, "r--"))
  m:lru_add_drain_all()
  lu.assertFalse(p:translate(BASE).huge)
  lu.assertEquals({ m:vmstat().nr_mlock, m:page(pfn).lru_list }, { 512, "unevictable" })
end

-- Found by a randomized stress run (seed 537, x86_64, 256M, swap 64M): a
-- split mlocked THP leaves PG_mlocked on pages only unlocked VMAs map, and
-- compaction migrates one (PG_mlocked is not in PG_MIGRATE_MASK).  Linux
-- frees the source with folio_put() -> __page_cache_release(), which
-- clears PG_mlocked, takes it off NR_MLOCK and counts
-- unevictable_pgs_cleared: no free frame is left mlocked.
function TestTHPFolio:test_migration_frees_no_mlocked_frame()
  local PS = 4096
  local function A(pg) return BASE + pg * PS end
  local m <close> = memlab.new{ ram = "256M", swap = "64M", seed = 537 }
  m:thp{ enabled = "always" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ cgroup = "/g", aslr = false }
  assert(p:mmap(BASE, 1536 * PS, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:mlock(BASE, 1024 * PS))
  local c = assert(p:fork())
  for pg = 1024, 1535 do c:read(A(pg), 1) end
  assert(p:mremap(A(314), 193 * PS, 36 * PS, "maymove|fixed", A(117)))
  cg:write("memory.reclaim", tostring(6 * 1024 * 1024))
  assert(c:mremap(A(436), 5 * PS, 3 * PS, "maymove|fixed", A(121)))
  local c2 = assert(c:fork()); assert(c2:fork())
  for pg = 0, 1023 do c:write(A(pg), "\18") end
  m:drop_caches(3)
  m:compact()
  local leaked = 0
  for f = 0, m:info().nr_frames - 1 do
    local pg = m:page(f)
    if pg.mlocked and pg.refcount == 0 then leaked = leaked + 1 end
  end
  lu.assertEquals(leaked, 0)
  cg:write("memory.reclaim", tostring(6 * 1024 * 1024))
  lu.assertTrue(m:check())
end

-- shrink_folio_list(): a huge page with no swap cluster to go to whole is
-- split onto the list being shrunk (split_folio_to_list(folio,
-- folio_list)), so its 512 pages go to swap in the same pass:
-- nr_scanned and nr_reclaimed 512 in one mm_vmscan_lru_shrink_inactive.
function TestTHPFolio:test_a_huge_page_split_for_swap_goes_in_one_pass()
  local m <close> = machine{ ram = "64M", swap = "64M" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ name = "p", aslr = false, cgroup = "/g" }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(H.fill(p, BASE, HP))
  assert(p:madvise(BASE, HP, "cold"))		-- old and inactive: reclaimed at first sight
  m:trace{ events = { "mm_vmscan_lru_shrink_inactive" }, size = 64 }
  assert(cg:write("memory.reclaim", "2M swappiness=max"))
  local evs = m:trace_events()
  m:trace(false)
  lu.assertEquals({ evs[1].nr_scanned, evs[1].nr_reclaimed }, { 512, 512 })
  local v = m:vmstat()
  lu.assertEquals({ v.thp_split_page, v.thp_swpout_fallback, v.pswpout }, { 1, 1, 512 })
  lu.assertEquals(p:read(BASE, 1), "Z")		-- read back from swap
  lu.assertTrue(m:check())
end

-- lru_add_split_folio(): a huge page split on its LRU list keeps its place
-- -- its head where it was, each other page just newer -- so the older
-- huge page's pages stay older than the newer one's; an unevictable one's
-- other pages start with mlock_count 0.
function TestTHPFolio:test_a_split_huge_page_keeps_its_place_on_the_lru()
  local m <close> = machine()
  local p = m:spawn{ aslr = false }
  assert(p:mmap(BASE, 2 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(H.fill(p, BASE, HP))			-- A, the older
  assert(H.fill(p, BASE + HP, HP))		-- B
  m:lru_add_drain_all()
  local a, b = p:translate(BASE).pfn, p:translate(BASE + HP).pfn
  assert(p:munmap(BASE + HP - 4096, 4096))	-- A partially mapped
  m:drop_caches(2)				-- the deferred split
  lu.assertEquals(m:vmstat().thp_split_page, 1)
  local l = m:lru("inactive_anon")
  local pos = {}
  for i, pfn in ipairs(l) do pos[pfn] = i end
  lu.assertEquals({ pos[a], pos[a + 1], pos[a + 510], pos[b] }, { 1, 511, 2, 512 })
end

-- do_shrink_slab() (mm/shrinker.c) at reclaim's priorities: four
-- partially mapped huge pages give freeable 4; at priority 2 the delta,
-- (4 >> 2) * 4 / DEFAULT_SEEKS = 2, is below freeable and is deferred;
-- at priority 1 it is (4 >> 1) * 2 = 4 plus half the 2 deferred: 5, one
-- batch -- slabs_scanned 5, the four split.  Split pages freed are not
-- reclaimed pages: memory.reclaim still answers EAGAIN.
function TestTHPFolio:test_reclaim_runs_the_deferred_split_shrinker_by_priority()
  local m <close> = machine{ ram = "64M" }
  local cg = m:cgroup("/g")
  local p = m:spawn{ aslr = false, cgroup = "/g" }
  assert(p:mmap(BASE, 4 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(H.fill(p, BASE, 4 * HP))
  for i = 0, 3 do assert(p:munmap(BASE + i * HP, HP // 2)) end
  lu.assertEquals({ m:vmstat().thp_deferred_split_page, m:vmstat().thp_split_page }, { 4, 0 })
  lu.assertEquals({ cg:write("memory.reclaim", "1M") }, { nil, "EAGAIN", 11 })
  local v = m:vmstat()
  lu.assertEquals({ v.thp_split_page, v.slabs_scanned }, { 4, 5 })
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
