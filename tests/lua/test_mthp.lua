-- test_mthp.lua: multi-size transparent huge pages for anonymous memory
-- (Linux 6.18's mTHP: alloc_anon_folio in mm/memory.c, the
-- hugepages-<size>kB directories of mm/huge_memory.c): the settings, which
-- size a write fault takes, its fallbacks, the stats/ counters, and the
-- large folio mapped by PTEs through munmap, fork, reclaim and the deferred
-- split.  Every machine runs with debug_vm, so every call is followed by
-- m:check(), which checks nr_anon and nr_anon_partially_mapped against the
-- frames.  tests/diff/diff_mthp.c compares random sequences with the host.
--
-- Run from the source root:  build/memlab run tests/lua/test_mthp.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local K, MiB = 1024, 1024 * 1024
local PAGE = 4096
local BASE = 0x7e0000000000

local function machine(opts)
  local o = { ram = "256M", seed = 1, debug_vm = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  return memlab.new(o)
end

-- A process with len bytes of anonymous memory at BASE (2 MiB-aligned).
local function setup(m, len, advise)
  local p = m:spawn{ name = "mthp", aslr = false }
  assert(p:mmap(BASE, len or MiB, "rw-", "private|anonymous|fixed_noreplace"))
  if advise then assert(p:madvise(BASE, len or MiB, advise)) end
  return p
end

local function free_pages(m)
  m:drain_pages()
  return m:vmstat().nr_free_pages
end

local function stats(m, size)
  return m:thp().hugepages[size].stats
end

-- The folio mapped at addr: its first frame and its number of pages.
local function folio_at(m, p, addr)
  local w = assert(p:translate(addr))
  local head = m:page(w.pfn).folio
  return head, m:page(head).order and 2 ^ m:page(head).order or 1
end

-- The pages of [addr, addr + n pages) that PTEs map, as a string of 0 and 1.
local function mapped(p, addr, n)
  local s = {}
  for i = 0, n - 1 do s[#s + 1] = p:translate(addr + i * PAGE).present and "1" or "0" end
  return table.concat(s)
end

TestMTHP = {}

function TestMTHP:test_sizes_and_defaults()
  local m <close> = machine()
  local hp = m:thp().hugepages
  local names = {}
  for k, v in pairs(hp) do
    names[#names + 1] = tonumber(k:match("^(%d+)kB$"))
    lu.assertEquals(v.enabled, k == "2048kB" and "inherit" or "never")
    lu.assertEquals(v.stats.anon_fault_alloc, 0)
    lu.assertEquals(v.stats.nr_anon_partially_mapped, 0)
  end
  table.sort(names)
  lu.assertEquals(names, { 16, 32, 64, 128, 256, 512, 1024, 2048 })	-- no 8kB: order 1
  local a16 <close> = machine{ arch = "arm64", page_size = 16384 }
  lu.assertNotNil(a16:thp().hugepages["64kB"])
  lu.assertNotNil(a16:thp().hugepages["32768kB"])
  lu.assertNil(a16:thp().hugepages["32kB"])
  local a64 <close> = machine{ arch = "arm64", page_size = 65536, ram = "1G" }
  lu.assertNotNil(a64:thp().hugepages["256kB"])
  lu.assertEquals(a64:thp().hugepages["524288kB"].enabled, "inherit")
end

-- A bad size or mode raises, and nothing of the call changes -- not the
-- good sizes beside it, not transparent_hugepage/enabled.
function TestMTHP:test_settings_all_or_nothing()
  local m <close> = machine()
  lu.assertEquals(m:thp{ hugepages = { ["64kB"] = "always", ["16kB"] = { enabled = "madvise" } } }
                    .hugepages["16kB"].enabled, "madvise")
  lu.assertEquals(m:thp().hugepages["64kB"].enabled, "always")
  for _, bad in ipairs{ { ["8kB"] = "always" }, { ["4096kB"] = "always" }, { ["64k"] = "always" },
                        { ["32kB"] = "sometimes" }, { ["32kB"] = true }, { [64] = "always" } } do
    bad["128kB"] = "always"
    H.assert_raises({ "thp", "hugepages" }, m.thp, m, { enabled = "always", hugepages = bad })
  end
  H.assert_raises({ "thp", "hugepages" }, m.thp, m, { hugepages = "always" })
  -- only the sysfs spelling: one key per size, so no two keys name one size
  for _, bad in ipairs{ " 64kB", "+64kB", "064kB", "64KB", "64kB ", "65536", "-18446744073709551552kB" } do
    H.assert_raises({ "thp", "hugepages" }, m.thp, m, { hugepages = { [bad] = "always" } })
  end
  local many = {}
  for i = 0, 16 do many[string.rep("0", i) .. "64kB"] = "always" end
  H.assert_raises({ "thp", "hugepages" }, m.thp, m, { hugepages = many })
  local st = m:thp()
  lu.assertEquals(st.enabled, "madvise")
  lu.assertEquals(st.hugepages["128kB"].enabled, "never")
  lu.assertEquals(st.hugepages["32kB"].enabled, "never")
  m:thp{ hugepages = { ["64kB"] = "never", ["16kB"] = "inherit" } }
  lu.assertEquals(m:thp().hugepages["64kB"].enabled, "never")
  lu.assertEquals(m:thp().hugepages["16kB"].enabled, "inherit")
end

-- A write fault maps the largest enabled size whose aligned range lies in
-- the VMA: all its pages at once, by PTEs, each exclusive; the folio is
-- one allocation, its head's counters say so.
function TestMTHP:test_write_fault_maps_a_whole_folio()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  local free = m:vmstat().nr_free_pages
  assert(p:write(BASE + 5 * PAGE, "x"))
  lu.assertEquals(mapped(p, BASE, 20), "11111111111111110000")
  local head, nr = folio_at(m, p, BASE + 5 * PAGE)
  lu.assertEquals(nr, 16)
  lu.assertEquals(p:translate(BASE + 15 * PAGE).pfn, head + 15)
  lu.assertTrue(m:page(head + 7).anon_exclusive)
  lu.assertEquals(m:page(head).refcount, 16)
  local f = m:kpageflags(head, 2)
  lu.assertTrue(f[1].compound_head and f[1].thp and f[2].compound_tail)
  lu.assertEquals(stats(m, "64kB").anon_fault_alloc, 1)
  lu.assertEquals(stats(m, "64kB").nr_anon, 1)
  local vs = m:vmstat()
  lu.assertEquals(vs.thp_fault_alloc, 0)			-- PMD-sized only
  lu.assertEquals(vs.nr_anon_pages, 16)
  lu.assertEquals(vs.nr_anon_transparent_hugepages, 0)	-- AnonHugePages: PMDs only
  lu.assertTrue(free - vs.nr_free_pages >= 16)
  lu.assertEquals(m:proc(p.pid .. "/status"):match("VmRSS:%s+(%d+) kB"), "64")
  lu.assertEquals(p:write(BASE + 9 * PAGE, "y") and stats(m, "64kB").anon_fault_alloc, 1)
  lu.assertEquals(p:read(BASE + 5 * PAGE, 1), "x")
end

-- The highest order first; an order whose range holds an entry already
-- (here the zero page's, from a read) gives way to the next; a range the
-- VMA does not cover whole too.
function TestMTHP:test_order_chosen_by_range_and_vma()
  local m <close> = machine()
  m:thp{ hugepages = { ["16kB"] = "always", ["64kB"] = "always", ["256kB"] = "always" } }
  local p = setup(m)
  assert(p:write(BASE, "a"))
  lu.assertEquals(select(2, folio_at(m, p, BASE)), 64)		-- 256 kB
  assert(p:read(BASE + 256 * K + 17 * PAGE, 1))			-- a zero-page PTE in 256K..512K
  assert(p:write(BASE + 256 * K + 2 * PAGE, "b"))
  lu.assertEquals(select(2, folio_at(m, p, BASE + 256 * K)), 16)	-- 64 kB
  assert(p:write(BASE + 256 * K + 16 * PAGE, "c"))
  lu.assertEquals(select(2, folio_at(m, p, BASE + 256 * K + 16 * PAGE)), 1)	-- 16 kB holds the zero page
  lu.assertEquals(mapped(p, BASE + 256 * K + 16 * PAGE, 4), "1100")
  -- a VMA of 12 pages: no 64 kB fits; 16 kB does, but not across its end
  local q = m:spawn{ name = "q", aslr = false }
  assert(q:mmap(BASE, 12 * PAGE, "rw-", "private|anonymous|fixed"))
  assert(q:write(BASE + 11 * PAGE, "d"))
  lu.assertEquals(select(2, folio_at(m, q, BASE + 11 * PAGE)), 4)
  assert(q:mmap(BASE + 64 * K, 2 * PAGE, "rw-", "private|anonymous|fixed"))
  assert(q:write(BASE + 64 * K, "e"))
  lu.assertEquals(select(2, folio_at(m, q, BASE + 64 * K)), 1)
  lu.assertEquals(stats(m, "256kB").anon_fault_alloc, 1)
  lu.assertEquals(stats(m, "64kB").anon_fault_alloc, 1)
  lu.assertEquals(stats(m, "16kB").anon_fault_alloc, 1)
  lu.assertEquals(stats(m, "16kB").anon_fault_fallback, 0)	-- a full range is not a fallback
end

-- A read maps the zero page whatever the settings; "inherit" follows
-- transparent_hugepage/enabled, "madvise" needs MADV_HUGEPAGE, and
-- MADV_NOHUGEPAGE refuses every size.
function TestMTHP:test_read_and_the_modes()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:read(BASE, 1))
  lu.assertEquals(mapped(p, BASE, 16), "1000000000000000")
  lu.assertEquals(stats(m, "64kB").anon_fault_alloc, 0)
  local function size_of_write(mode, advise, global)
    local mm <close> = machine()
    mm:thp{ enabled = global or "madvise", hugepages = { ["64kB"] = mode, ["2048kB"] = "never" } }
    local q = setup(mm, MiB, advise)
    assert(q:write(BASE, "w"))
    return select(2, folio_at(mm, q, BASE))
  end
  lu.assertEquals(size_of_write("inherit"), 1)
  lu.assertEquals(size_of_write("inherit", "hugepage"), 16)
  lu.assertEquals(size_of_write("inherit", nil, "always"), 16)
  lu.assertEquals(size_of_write("inherit", "hugepage", "never"), 1)
  lu.assertEquals(size_of_write("madvise"), 1)
  lu.assertEquals(size_of_write("madvise", "hugepage", "never"), 16)
  lu.assertEquals(size_of_write("always", "nohugepage"), 1)
  lu.assertEquals(size_of_write("always", nil, "never"), 16)
  lu.assertEquals(size_of_write("never", "hugepage", "always"), 1)
end

-- THPeligible: 1 when a size enabled for the VMA fits inside it.
function TestMTHP:test_smaps_thpeligible()
  local m <close> = machine()
  local p = setup(m, 64 * K)
  local function eligible()
    return tonumber(m:proc(p.pid .. "/smaps"):match(string.format("\n%x%%-.-THPeligible:%%s+(%%d)", BASE)))
  end
  lu.assertEquals(eligible(), 0)
  m:thp{ hugepages = { ["128kB"] = "always" } }
  lu.assertEquals(eligible(), 0)				-- 128 kB does not fit
  m:thp{ hugepages = { ["64kB"] = "madvise" } }
  lu.assertEquals(eligible(), 0)
  assert(p:madvise(BASE, 64 * K, "hugepage"))
  lu.assertEquals(eligible(), 1)
  -- a regular file: 0, whatever the settings (the host's kernel has no
  -- CONFIG_READ_ONLY_THP_FOR_FS; its smaps says 0 for an 8 MiB file
  -- mapped 2 MiB-aligned with MADV_HUGEPAGE)
  m:thp{ enabled = "always" }
  local f = assert(m:file{ path = "/data/big", size = 8 * 1024 * K })
  assert(p:mmap(BASE + 0x10000000, 8 * 1024 * K, "r--", "private|fixed", f, 0))
  assert(p:madvise(BASE + 0x10000000, 8 * 1024 * K, "hugepage"))
  lu.assertEquals(tonumber(m:proc(p.pid .. "/smaps"):match(
    string.format("\n%x%%-.-THPeligible:%%s+(%%d)", BASE + 0x10000000))), 0)
end

-- An allocation that fails counts anon_fault_fallback for its size and the
-- next size is tried; a charge the memcg refuses counts _charge too.
function TestMTHP:test_fallbacks()
  local m <close> = machine()
  m:thp{ hugepages = { ["32kB"] = "always", ["64kB"] = "always" } }
  local p = setup(m)
  m:inject("fail_page_alloc", { probability = 100, times = 1, min_order = 4,
                                ignore_gfp_highmem = false, verbose = 0 })
  assert(p:write(BASE, "x"))
  lu.assertEquals(select(2, folio_at(m, p, BASE)), 8)
  lu.assertEquals(stats(m, "64kB").anon_fault_fallback, 1)
  lu.assertEquals(stats(m, "32kB").anon_fault_fallback, 0)
  lu.assertEquals(stats(m, "32kB").anon_fault_alloc, 1)
  m:inject("fail_page_alloc", false)
  -- a cgroup with room for 12 pages: 64 kB and 32 kB are refused without
  -- reclaim (GFP_TRANSHUGE_LIGHT), a small page is charged
  local cg = m:cgroup("/small")
  assert(cg:write("memory.max", tostring(48 * K)))
  local q = m:spawn{ name = "q", aslr = false, cgroup = "/small" }
  assert(q:mmap(BASE, MiB, "rw-", "private|anonymous|fixed"))
  assert(q:write(BASE, "y"))
  lu.assertEquals(select(2, folio_at(m, q, BASE)), 1)
  lu.assertEquals(stats(m, "64kB").anon_fault_fallback_charge, 1)
  lu.assertEquals(stats(m, "32kB").anon_fault_fallback_charge, 1)
  lu.assertEquals(stats(m, "64kB").anon_fault_fallback, 2)
  lu.assertEquals(stats(m, "32kB").anon_fault_fallback, 1)
  lu.assertEquals(m:vmstat().thp_fault_fallback, 0)		-- PMD-sized only
end

-- Part of a folio unmapped: partially mapped, queued (split_deferred,
-- nr_anon_partially_mapped); the shrinker splits it, frees what no PTE
-- maps, and counts split -- not vmstat's thp_ counters, which are for
-- PMD-sized folios.
function TestMTHP:test_partial_unmap_and_deferred_split()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(H.fill(p, BASE, 64 * K))
  local head = folio_at(m, p, BASE)
  assert(p:munmap(BASE + 4 * PAGE, 8 * PAGE))
  assert(p:madvise(BASE + 12 * PAGE, PAGE, "dontneed"))
  local st = stats(m, "64kB")
  lu.assertEquals({ st.split_deferred, st.nr_anon_partially_mapped, st.nr_anon }, { 1, 1, 1 })
  lu.assertEquals(m:vmstat().thp_deferred_split_page, 0)
  lu.assertEquals(m:vmstat().nr_anon_pages, 7)
  local free = free_pages(m)
  m:drop_caches(2)
  st = stats(m, "64kB")
  lu.assertEquals({ st.split, st.nr_anon, st.nr_anon_partially_mapped }, { 1, 0, 0 })
  lu.assertEquals(m:vmstat().thp_split_page, 0)
  lu.assertEquals(free_pages(m) - free, 9)
  lu.assertEquals(m:page(head + 1).folio, head + 1)		-- small pages now
  lu.assertEquals(p:read(BASE + 13 * PAGE, 1), "\x5a")
end

-- Fork shares the folio; a write copies one small page; once the child is
-- gone the parent writes its pages in place (reuse of an exclusive large
-- anonymous folio, wp_can_reuse_anon_folio).
function TestMTHP:test_fork_copies_a_page_then_reuses()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(H.fill(p, BASE, 64 * K))
  local head = folio_at(m, p, BASE)
  local c = assert(p:fork())
  assert(c:write(BASE + 3 * PAGE, "c"))
  lu.assertNotEquals(c:translate(BASE + 3 * PAGE).pfn, head + 3)
  lu.assertEquals(c:translate(BASE + 4 * PAGE).pfn, head + 4)
  lu.assertEquals(m:page(head).refcount, 31)
  assert(p:write(BASE + 5 * PAGE, "p"))				-- c maps it too: copied
  lu.assertNotEquals(p:translate(BASE + 5 * PAGE).pfn, head + 5)
  c:exit()
  local reuse = m:vmstat().pgreuse
  assert(p:write(BASE + 6 * PAGE, "p"))
  lu.assertEquals(p:translate(BASE + 6 * PAGE).pfn, head + 6)
  lu.assertEquals(m:vmstat().pgreuse, reuse + 1)
  lu.assertEquals(stats(m, "64kB").split_deferred, 1)		-- p's copy left page 5 unmapped
end

-- Reclaim has no swap-out of large folios in memlab: it splits the folio
-- first (swpout_fallback, for its size only) and swaps the small pages.
function TestMTHP:test_pageout_splits_for_swap()
  local m <close> = machine{ ram = "64M", swap = "64M" }
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(H.fill(p, BASE, 128 * K))
  assert(p:write(BASE + 20 * PAGE, "x"))
  assert(p:madvise(BASE, 128 * K, "pageout"))
  local st = stats(m, "64kB")
  lu.assertEquals({ st.swpout_fallback, st.split, st.nr_anon, st.swpout }, { 2, 2, 0, 0 })
  lu.assertEquals(m:vmstat().thp_swpout_fallback, 0)
  lu.assertEquals(m:vmstat().pswpout, 32)
  lu.assertEquals(p:read(BASE + 20 * PAGE, 1), "x")
end

-- Reclaim unmaps a lazily freed large folio's PTEs as one batch (Linux
-- 6.18's folio_unmap_pte_batch): clean, the folio goes whole; one page
-- written since MADV_FREE keeps every page mapped, the folio swap-backed
-- again and whole -- not partially mapped, as a PTE at a time would leave
-- it (tests/diff/diff_mthp.c seed 5908 found the difference).
function TestMTHP:test_lazyfree_folio_reclaimed_as_one_batch()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(H.fill(p, BASE, 128 * K))
  local head = folio_at(m, p, BASE + 64 * K)
  assert(p:madvise(BASE, 128 * K, "free"))
  assert(p:write(BASE + 64 * K + 3 * PAGE, "w"))
  assert(p:madvise(BASE, 128 * K, "pageout"))
  lu.assertEquals(mapped(p, BASE, 32), string.rep("0", 16) .. string.rep("1", 16))
  lu.assertEquals(m:vmstat().pglazyfreed, 16)
  lu.assertTrue(m:page(head).swapbacked)
  lu.assertEquals(p:translate(BASE + 64 * K + 15 * PAGE).pfn, head + 15)
  lu.assertTrue(p:translate(BASE + 64 * K).dirty)		-- the batch mapped again, all dirty
  local st = stats(m, "64kB")
  lu.assertEquals({ st.split_deferred, st.nr_anon, st.nr_anon_partially_mapped }, { 0, 1, 0 })
  lu.assertEquals(p:read(BASE + 64 * K + 3 * PAGE, 2), "w\x5a")
end

-- mlock takes only a large folio the locked VMA maps whole
-- (allow_mlock_munlock); a split of one it could not take mlocks the small
-- pages its locked mappings map again (remove_migration_pte ->
-- mlock_vma_folio).  tests/diff/diff_mthp.c seed 459 found the second.
function TestMTHP:test_mlock_and_a_split_folio()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = m:spawn{ name = "l", aslr = false, root = true }
  assert(p:mmap(BASE, MiB, "rw-", "private|anonymous|fixed"))
  assert(H.fill(p, BASE, 64 * K))
  local head = folio_at(m, p, BASE)
  assert(p:mlock(BASE, 8 * PAGE))			-- half the folio: not taken
  lu.assertFalse(m:page(head).mlocked)
  assert(p:mlock(BASE + 64 * K, 64 * K))		-- populated: a folio all inside
  lu.assertTrue(m:page(folio_at(m, p, BASE + 64 * K)).mlocked)
  assert(p:madvise(BASE + 12 * PAGE, PAGE, "cold"))	-- part of the first: split
  lu.assertEquals(select(2, folio_at(m, p, BASE)), 1)
  for i = 0, 15 do
    lu.assertEquals(m:page(p:translate(BASE + i * PAGE).pfn).mlocked, i < 8, "page " .. i)
  end
  lu.assertEquals(m:vmstat().nr_mlock, 16 + 8)
end

-- Large folios below the PMD size and a PMD-sized one side by side: the
-- PMD fault is taken first where a whole PMD fits, mTHP elsewhere.
function TestMTHP:test_pmd_first_then_mthp()
  local m <close> = machine()
  m:thp{ enabled = "always", hugepages = { ["64kB"] = "always" } }
  local p = setup(m, 3 * MiB)
  assert(p:write(BASE, "x"))
  assert(p:write(BASE + 2 * MiB, "y"))
  lu.assertTrue(p:translate(BASE).huge)
  lu.assertEquals(select(2, folio_at(m, p, BASE + 2 * MiB)), 16)
  lu.assertEquals(stats(m, "2048kB").anon_fault_alloc, 1)
  lu.assertEquals(stats(m, "2048kB").nr_anon, 1)
  lu.assertEquals(m:vmstat().thp_fault_alloc, 1)
  p:exit()
  lu.assertEquals(stats(m, "2048kB").nr_anon, 0)
  lu.assertEquals(stats(m, "64kB").nr_anon, 0)
end

-- arm64 with 16K pages: the smallest size is 64 kB (4 pages).
function TestMTHP:test_arm64_16k()
  local m <close> = machine{ arch = "arm64", page_size = 16384 }
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = m:spawn{ name = "a", aslr = false }
  local a = assert(p:mmap(0, 2 * MiB, "rw-", "private|anonymous"))
  assert(p:write(a + 16384, "x"))
  lu.assertEquals(select(2, folio_at(m, p, a)), 4)
  lu.assertEquals(stats(m, "64kB").anon_fault_alloc, 1)
end

-- khugepaged and min_free_kbytes follow hugepage_pmd_enabled(): the PMD
-- size's own setting or the global one, not the smaller sizes.
function TestMTHP:test_khugepaged_and_min_free_follow_the_pmd_size()
  local m <close> = machine()
  local min0 = m:info().min_free_kbytes
  m:thp{ enabled = "never" }
  local off = m:info().min_free_kbytes
  lu.assertTrue(off < min0)
  m:thp{ hugepages = { ["64kB"] = "always" } }			-- not the PMD size: no change
  lu.assertEquals(m:info().min_free_kbytes, off)
  m:thp{ hugepages = { ["2048kB"] = "always" } }		-- hugepage_pmd_enabled()
  lu.assertEquals(m:info().min_free_kbytes, min0)
  m:thp{ enabled = "madvise", hugepages = { ["2048kB"] = "never" } }	-- global on, PMD size off
  lu.assertEquals(m:info().min_free_kbytes, off)
  m:thp{ hugepages = { ["2048kB"] = "inherit" } }
  lu.assertEquals(m:info().min_free_kbytes, min0)
end

-- Reclaim restores a missed mlock only of a folio the locked VMA maps
-- whole (folio_referenced_one, try_to_unmap_one); a large folio half in a
-- locked VMA is split to be swapped (a swap file has no large entries),
-- and only its pages in the locked VMA are mlocked again as they are
-- mapped back (remove_migration_pte).
function TestMTHP:test_reclaim_of_a_folio_half_locked()
  local m <close> = machine{ ram = "256M", swap = "64M" }
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local cg = m:cgroup("/b")
  local p = m:spawn{ name = "h", aslr = false, cgroup = "/b", root = true }
  assert(p:mmap(BASE, MiB, "rw-", "private|anonymous|fixed"))
  assert(p:write(BASE, "x"))
  local head = folio_at(m, p, BASE)
  assert(p:mlock(BASE, 8 * PAGE))			-- the VMA split: half the folio locked
  m:lru_add_drain_all()
  lu.assertEquals({ m:page(head).mlocked, m:vmstat().nr_mlock }, { false, 0 })
  cg:write("memory.reclaim", "1M")			-- EAGAIN: the locked pages stay
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().nr_mlock, 8)
  for i = 0, 15 do
    local t = p:translate(BASE + i * PAGE)
    lu.assertEquals(t.present and m:page(t.pfn).mlocked, i < 8, "page " .. i)
  end
  lu.assertEquals(stats(m, "64kB").swpout_fallback, 1)
end

-- A MAP_DROPPABLE VMA's huge pages are never swap-backed, PMD-sized or not
-- (folio_add_new_anon_rmap): reclaim drops them.
function TestMTHP:test_droppable_large_folios_are_not_swapbacked()
  local m <close> = machine()
  m:thp{ enabled = "always", hugepages = { ["64kB"] = "always" } }
  local p = m:spawn{ name = "d", aslr = false }
  assert(p:mmap(BASE, 3 * MiB, "rw-", "droppable|anonymous|fixed"))
  assert(p:write(BASE, "x"))				-- a PMD-sized huge page
  assert(p:write(BASE + 2 * MiB, "y"))			-- no PMD fits there: 64 kB
  lu.assertTrue(p:translate(BASE).huge)
  lu.assertEquals(select(2, folio_at(m, p, BASE + 2 * MiB)), 16)
  lu.assertFalse(m:page(p:translate(BASE).pfn).swapbacked)
  lu.assertFalse(m:page(p:translate(BASE + 2 * MiB).pfn).swapbacked)
end

os.exit(lu.LuaUnit.run())
