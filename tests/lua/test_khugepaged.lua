-- test_khugepaged.lua: small pages collapsed into huge ones (mm/khugepaged.c
-- of Linux 6.18): MADV_COLLAPSE at once, khugepaged a pass at a time
-- (m:khugepaged()), and the settings of
-- /sys/kernel/mm/transparent_hugepage/khugepaged.  tests/diff/diff_thp.c
-- compares MADV_COLLAPSE with the host; these tests cover what the host
-- cannot be made to do on demand (khugepaged's passes, its limits, swap,
-- failures).  Every machine runs with debug_vm, so every call is
-- followed by m:check().
--
-- Run from the source root:  build/memlab run tests/lua/test_khugepaged.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE, HP, BASE = 4096, 2 * 1024 * 1024, 0x7e0000000000

local function machine(opts)
  local o = { ram = "256M", seed = 1, debug_vm = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  return memlab.new(o)
end

-- A process whose [BASE, BASE + n huge pages) holds small pages: written
-- while transparent_hugepage/enabled is "never" (every given page, or
-- every page), then "madvise" again; no MADV_HUGEPAGE yet.
local function small_pages(m, n, pages)
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, n * HP, "rw-", "private|anonymous|fixed_noreplace"))
  m:thp{ enabled = "never" }
  if pages then
    for _, i in ipairs(pages) do assert(p:write(BASE + i * PAGE, string.format("page%d", i))) end
  else
    assert(p:touch(BASE, n * HP, "w"))
  end
  m:thp{ enabled = "madvise" }
  assert(not p:translate(BASE + (pages and pages[1] or 0) * PAGE).huge)
  return p
end

local function huge(p, addr) return p:translate(addr).huge == true end

local function free_pages(m)
  m:drain_pages()
  return m:vmstat().nr_free_pages
end

TestKhugepaged = {}

function TestKhugepaged:test_settings()
  local m <close> = machine()
  lu.assertEquals(m:thp().khugepaged, {
    pages_to_scan = 4096, max_ptes_none = 511, max_ptes_swap = 64, max_ptes_shared = 256,
    scan_sleep_millisecs = 10000, alloc_sleep_millisecs = 60000, defrag = true,
    pages_collapsed = 0, full_scans = 0 })
  local k = m:thp{ khugepaged = { max_ptes_none = 0, defrag = false, pages_to_scan = 1 } }.khugepaged
  lu.assertEquals({ k.max_ptes_none, k.defrag, k.pages_to_scan }, { 0, false, 1 })
  -- sysfs refuses what the kernel's stores refuse, and nothing changes
  H.assert_raises({ "thp", "out of range" }, m.thp, m, { khugepaged = { max_ptes_swap = 512 } })
  H.assert_raises({ "thp", "out of range" }, m.thp, m,
                  { khugepaged = { pages_to_scan = 0, max_ptes_none = 3 } })
  lu.assertEquals(m:thp().khugepaged.max_ptes_none, 0)
  H.assert_raises({ "thp", "no setting 'pages'" }, m.thp, m, { khugepaged = { pages = 1 } })
  H.assert_raises({ "thp", "defrag" }, m.thp, m, { khugepaged = { defrag = 1 } })
  H.assert_raises({ "thp", "max_ptes_none", "integer" }, m.thp, m, { khugepaged = { max_ptes_none = -1 } })
  H.assert_raises({ "thp", "max_ptes_none", "integer" }, m.thp, m, { khugepaged = { max_ptes_none = 1.5 } })
  H.assert_raises({ "thp", "khugepaged" }, m.thp, m, { khugepaged = 7 })
  -- the limits are in pages of the huge page: 2048 of them with 16K pages
  local a <close> = machine{ arch = "arm64", page_size = 16384 }
  lu.assertEquals(a:thp().khugepaged.max_ptes_none, 2047)
  lu.assertEquals(a:thp{ khugepaged = { max_ptes_none = 2047 } }.khugepaged.max_ptes_none, 2047)
end

-- madvise_collapse(): the pages' contents move into a new huge page
-- (thp_collapse_alloc), the empty entries become zeroes that count in RSS,
-- the small pages are freed; "never" does not stop MADV_COLLAPSE.
function TestKhugepaged:test_madv_collapse_copies_and_frees()
  local m <close> = machine()
  local p = small_pages(m, 1, { 0, 7, 511 })
  m:thp{ enabled = "never" }
  lu.assertEquals(p:mm().rss_anon, 3)
  local free0 = free_pages(m)
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(p, BASE))
  for _, i in ipairs{ 0, 7, 511 } do
    lu.assertEquals(p:read(BASE + i * PAGE, 5 + #tostring(i) - 1), "page" .. i)
  end
  lu.assertEquals(p:read(BASE + 8 * PAGE, 4), "\0\0\0\0")
  lu.assertEquals(p:mm().rss_anon, 512)
  local vs = m:vmstat()
  lu.assertEquals({ vs.thp_collapse_alloc, vs.nr_anon_transparent_hugepages, vs.nr_anon_pages },
                  { 1, 1, 512 })
  -- the huge page came, the three small pages went; the PTE table stays, deposited
  lu.assertEquals(free0 - free_pages(m), 512 - 3)
  -- collapsing again finds the PMD mapped: nothing to do
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertEquals(m:vmstat().thp_collapse_alloc, 1)
  -- the huge page splits again like any other
  assert(p:munmap(BASE + PAGE, PAGE))
  lu.assertEquals(m:vmstat().thp_split_pmd, 1)
end

-- The errno of each failure (madvise_collapse_errno) and the VMAs it refuses.
function TestKhugepaged:test_madv_collapse_errors()
  local m <close> = machine()
  local p = small_pages(m, 3)
  assert(p:madvise(BASE, HP, "nohugepage"))
  H.assert_errno("EINVAL", 22, p:madvise(BASE, HP, "collapse"))	-- VM_NOHUGEPAGE
  assert(p:madvise(BASE, HP, "hugepage"))
  H.assert_errno("EINVAL", 22, p:madvise(BASE + PAGE, PAGE, "collapse"))	-- no whole huge page
  -- a hole: the VMAs on both sides are collapsed, then ENOMEM
  assert(p:munmap(BASE + HP, PAGE))
  H.assert_errno("ENOMEM", 12, p:madvise(BASE, 3 * HP, "collapse"))
  lu.assertTrue(huge(p, BASE) and huge(p, BASE + 2 * HP))
  -- a VMA with no room for a huge page cannot have one: EINVAL
  assert(p:munmap(BASE + 2 * HP, HP))
  H.assert_errno("EINVAL", 22, p:madvise(BASE + HP + PAGE, HP - PAGE, "collapse"))
  -- shared anonymous memory is shmem; a file's pages are the page cache
  local s = p:mmap(0, 2 * HP, "rw-", "shared|anonymous")
  H.assert_errno("EINVAL", 22, p:madvise(s, 2 * HP, "collapse"))
  local f = m:file{ path = "/f", size = 4 * HP }
  local fa = p:mmap(0, 4 * HP, "r--", "private", f, 0)
  H.assert_errno("EINVAL", 22, p:madvise(fa, 4 * HP, "collapse"))
  -- no huge page to be had: ENOMEM, counted
  local q = small_pages(m, 1)
  assert(m:inject("fail_page_alloc", { probability = 100, min_order = 9, ignore_gfp_wait = false,
                                       ignore_gfp_highmem = false, verbose = 0 }))
  H.assert_errno("ENOMEM", 12, q:madvise(BASE, HP, "collapse"))
  lu.assertEquals(m:vmstat().thp_collapse_alloc_failed, 1)
  assert(m:inject("fail_page_alloc", false))
  lu.assertFalse(huge(q, BASE))
  lu.assertEquals(q:mm().rss_anon, 512)
end

-- A memcg without room for the huge page: EBUSY (SCAN_CGROUP_CHARGE_FAIL).
function TestKhugepaged:test_madv_collapse_memcg_full_is_ebusy()
  local m <close> = machine()
  local cg = m:cgroup("/g")
  local p = m:spawn{ name = "p", aslr = false, cgroup = "/g" }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  m:thp{ enabled = "never" }
  assert(p:touch(BASE, 16 * PAGE, "w"))
  assert(cg:write("memory.max", "1M"))
  H.assert_errno("EBUSY", 16, p:madvise(BASE, HP, "collapse"))
  lu.assertEquals(m:vmstat().thp_collapse_alloc, 1)	-- allocated, then not charged
  lu.assertFalse(huge(p, BASE))
  assert(cg:write("memory.max", "max"))
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertEquals(cg:stat().thp_collapse_alloc, 1)	-- the memcg counts the one it got
end

-- __collapse_huge_page_swapin(): a swap entry whose page must be read
-- leaves it in the swap cache and the collapse gives up (EAGAIN, a major
-- fault); the next try finds it there, maps it and collapses.
function TestKhugepaged:test_madv_collapse_reads_swap_first()
  local m <close> = machine{ swap = "64M" }
  local p = small_pages(m, 1, { 1, 2, 3 })
  assert(p:madvise(BASE + PAGE, PAGE, "pageout"))
  lu.assertNotNil(p:translate(BASE + PAGE).swap)
  local vs0 = m:vmstat()
  H.assert_errno("EAGAIN", 11, p:madvise(BASE, HP, "collapse"))
  local vs = m:vmstat()
  lu.assertEquals({ vs.pswpin - vs0.pswpin, vs.pgmajfault - vs0.pgmajfault }, { 1, 1 })
  lu.assertNotNil(p:translate(BASE + PAGE).swap)		-- the entry stays
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(p, BASE))
  lu.assertEquals(p:read(BASE + PAGE, 5), "page1")
  lu.assertEquals(m:proc(p.pid .. "/status"):match("VmSwap:%s+(%d+)"), "0")
end

-- A private page of a fork child's is copied; the parent keeps its own.
function TestKhugepaged:test_madv_collapse_after_fork()
  local m <close> = machine()
  local p = small_pages(m, 1, { 0, 1 })
  local c = p:fork()
  assert(c:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(c, BASE))
  lu.assertFalse(huge(p, BASE))
  lu.assertEquals(c:read(BASE + PAGE, 5), "page1")
  assert(c:write(BASE + PAGE, "child"))
  lu.assertEquals(p:read(BASE + PAGE, 5), "page1")
end

-- khugepaged scans only the mms entered on its list: a huge page fault,
-- MADV_HUGEPAGE or a VMA merge enters one, a plain anonymous mmap does not.
function TestKhugepaged:test_khugepaged_scans_registered_mms()
  local m <close> = machine()
  local p = small_pages(m, 2, { 3 })
  m:thp{ enabled = "always" }
  lu.assertEquals(m:khugepaged(), 0)		-- never entered: not scanned
  lu.assertFalse(huge(p, BASE))
  assert(p:madvise(BASE, 2 * HP, "hugepage"))	-- hugepage_madvise() enters it
  lu.assertEquals(m:khugepaged(), 1)		-- one PMD had a page, the other none
  lu.assertTrue(huge(p, BASE))
  lu.assertEquals(p:read(BASE + 3 * PAGE, 5), "page3")
  local k = m:thp().khugepaged
  lu.assertEquals({ k.pages_collapsed, k.full_scans }, { 1, 1 })
  lu.assertEquals(m:vmstat().thp_collapse_alloc, 1)
  -- "never" stops khugepaged
  m:thp{ enabled = "never" }
  lu.assertEquals(m:khugepaged(), 0)
  lu.assertEquals(m:thp().khugepaged.full_scans, 1)
end

-- khugepaged_scan_mm_slot(): pages_to_scan of progress a pass, a huge
-- page's pages (and one for the mm) for each huge page looked at; a
-- collapse ends the mm's turn, the pass goes on if it has progress left;
-- the next pass starts where it stopped.
function TestKhugepaged:test_khugepaged_progress()
  local m <close> = machine()
  local p = small_pages(m, 4)
  assert(p:madvise(BASE, 4 * HP, "hugepage"))
  m:thp{ khugepaged = { pages_to_scan = 512 } }
  lu.assertEquals(m:khugepaged(), 1)		-- 1 + 512 >= 512
  lu.assertTrue(huge(p, BASE) and not huge(p, BASE + HP))
  m:thp{ khugepaged = { pages_to_scan = 1024 } }
  lu.assertEquals(m:khugepaged(), 2)		-- 513, then 1026 >= 1024
  lu.assertTrue(huge(p, BASE + 2 * HP) and not huge(p, BASE + 3 * HP))
  lu.assertEquals(m:thp().khugepaged.full_scans, 0)
  m:thp{ khugepaged = { pages_to_scan = 4096 } }
  lu.assertEquals(m:khugepaged(), 1)
  lu.assertEquals(p:mm().rss_anon, 4 * 512)
  local k = m:thp().khugepaged
  lu.assertEquals({ k.pages_collapsed, k.full_scans }, { 4, 2 })	-- the rest, then once more round
end

-- khugepaged's limits: max_ptes_none, max_ptes_shared, young pages.
function TestKhugepaged:test_khugepaged_limits()
  local m <close> = machine()
  local p = small_pages(m, 1, { 0, 1 })
  assert(p:madvise(BASE, HP, "hugepage"))
  m:thp{ khugepaged = { max_ptes_none = 509 } }
  lu.assertEquals(m:khugepaged(), 0)
  lu.assertEquals(m:vmstat().thp_scan_exceed_none_pte, 1)
  m:thp{ khugepaged = { max_ptes_none = 510 } }
  -- pages a child shares count as shared: more than max_ptes_shared stops it
  local c = p:fork()
  m:thp{ khugepaged = { max_ptes_shared = 1 } }
  lu.assertEquals(m:khugepaged(), 0)
  lu.assertEquals(m:vmstat().thp_scan_exceed_share_pte, 2)	-- the parent's, the child's
  c:exit()
  -- no young page: SCAN_LACK_REFERENCED_PAGE (MADV_COLD clears the accessed bits)
  assert(p:madvise(BASE, HP, "cold"))
  lu.assertEquals(m:khugepaged(), 0)
  assert(p:read(BASE, 1))
  lu.assertEquals(m:khugepaged(), 1)
  -- MADV_COLLAPSE knows none of these limits
  local q = small_pages(m, 1, { 9 })
  assert(q:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(q, BASE))
end

-- max_ptes_swap: khugepaged reads in up to that many swap entries (and
-- only with half the huge page's pages young).  A page that must be read
-- ends the try (SCAN_PAGE_LOCK) and waits in the swap cache: each pass
-- maps the one read before and reads the next, until none is left.  The
-- same on arm64, whose swap entries keep their offset where a present
-- entry keeps its pfn (memlab once took them for pages there).
function TestKhugepaged:test_khugepaged_swap()
  for _, arch in ipairs{ "x86_64", "arm64" } do
    local m <close> = machine{ swap = "64M", arch = arch, va_bits = 48 }
    m:sysctl{ page_cluster = 0 }	-- no swap readahead: a page per pass
    local p = small_pages(m, 1)
    assert(p:madvise(BASE, HP, "hugepage"))
    assert(p:madvise(BASE, 4 * PAGE, "pageout"))
    m:thp{ khugepaged = { max_ptes_swap = 3 } }
    lu.assertEquals(m:khugepaged(), 0)
    lu.assertEquals(m:vmstat().thp_scan_exceed_swap_pte, 1)
    m:thp{ khugepaged = { max_ptes_swap = 4 } }
    local maj0 = m:vmstat().pgmajfault
    for pass = 1, 4 do
      lu.assertEquals({ arch, pass, m:khugepaged() }, { arch, pass, 0 })
      lu.assertEquals(m:vmstat().pgmajfault - maj0, pass)
    end
    lu.assertEquals(m:khugepaged(), 1)
    lu.assertTrue(huge(p, BASE))
    lu.assertEquals(m:proc(p.pid .. "/status"):match("VmSwap:%s+(%d+)"), "0")
    lu.assertEquals(m:vmstat().thp_collapse_alloc, 5)	-- each try allocated first
  end
end

-- With swap readahead (vm.page-cluster 3) the first page read brings the
-- others of its 8-slot cluster into the swap cache: the next pass finds
-- all four there (readahead hits) and collapses.
function TestKhugepaged:test_khugepaged_swap_readahead()
  local m <close> = machine{ swap = "64M" }
  local p = small_pages(m, 1)
  assert(p:madvise(BASE, HP, "hugepage"))
  assert(p:madvise(BASE, 4 * PAGE, "pageout"))
  m:thp{ khugepaged = { max_ptes_swap = 4 } }
  local v0 = m:vmstat()
  lu.assertEquals(m:khugepaged(), 0)			-- a page had to be read
  local v1 = m:vmstat()
  lu.assertEquals({ v1.pgmajfault - v0.pgmajfault, v1.pswpin - v0.pswpin, v1.swap_ra - v0.swap_ra },
                  { 1, 4, 3 })
  lu.assertEquals(m:khugepaged(), 1)
  lu.assertEquals(m:vmstat().swap_ra_hit - v1.swap_ra_hit, 3)
  lu.assertTrue(huge(p, BASE))
  lu.assertTrue(m:check())
end

-- An mm that exits leaves khugepaged's list; one the scan is at stays on it
-- without its mm until the scan comes back (collect_mm_slot).
function TestKhugepaged:test_exit_leaves_the_list()
  local m <close> = machine()
  local p = small_pages(m, 2)
  local q = small_pages(m, 1)
  assert(p:madvise(BASE, 2 * HP, "hugepage"))
  assert(q:madvise(BASE, HP, "hugepage"))
  m:thp{ khugepaged = { pages_to_scan = 8 } }
  lu.assertEquals(m:khugepaged(), 1)		-- the scan stops inside p
  p:exit()					-- m:check() after it: the slot has no mm
  lu.assertEquals(m:khugepaged(), 1)		-- p's slot goes, then q
  lu.assertTrue(huge(q, BASE))
  lu.assertEquals(m:thp().khugepaged.full_scans, 0)
  q:exit()
  lu.assertEquals(m:khugepaged(), 0)
end

-- The underused-THP shrinker (deferred_split_scan -> thp_underused): with
-- max_ptes_none below 511, a huge page with more zero-filled pages than
-- that is split under memory pressure (drop_caches 2 here), its zero pages
-- mapped to the zero page and freed; an mlocked one is left alone.
function TestKhugepaged:test_underused_huge_pages_are_split()
  local m <close> = machine()
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 3 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:write(BASE + 5 * PAGE, "data"))			-- one page of data
  assert(p:write(BASE + HP, string.rep("x", HP // 2)))	-- half of it data
  assert(p:write(BASE + 2 * HP, "lock"))
  assert(p:mlock(BASE + 2 * HP, HP))
  lu.assertTrue(huge(p, BASE) and huge(p, BASE + HP))
  m:drop_caches(2)					-- max_ptes_none 511: none
  lu.assertEquals(m:vmstat().thp_underused_split_page, 0)
  lu.assertTrue(huge(p, BASE))
  m:thp{ khugepaged = { max_ptes_none = 300 } }
  m:drop_caches(2)			-- the queue forgot them: each THP is looked at once
  lu.assertEquals(m:vmstat().thp_underused_split_page, 0)
  local q = m:spawn{ name = "q", aslr = false }
  assert(q:mmap(BASE, 3 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(q:write(BASE + 5 * PAGE, "data"))
  assert(q:write(BASE + HP, string.rep("x", HP // 2)))
  assert(q:write(BASE + 2 * HP, "lock"))
  assert(q:mlock(BASE + 2 * HP, HP))
  m:drop_caches(2)
  local v = m:vmstat()
  lu.assertEquals({ v.thp_underused_split_page, v.thp_split_page }, { 1, 1 })
  lu.assertFalse(huge(q, BASE))
  lu.assertTrue(huge(q, BASE + HP) and huge(q, BASE + 2 * HP))	-- 256 zero pages <= 300; locked
  lu.assertEquals(q:read(BASE + 5 * PAGE, 4), "data")
  lu.assertTrue(q:translate(BASE).special)				-- the zero page
  lu.assertEquals(q:mm().rss_anon, 1 + 512 + 512)
end

-- __thp_vma_allowable_orders(): outside a fault, a VMA without an anon_vma
-- (nothing was ever written there) has nothing to collapse -- khugepaged
-- does not enter its mm, passes it over as one unit of progress, and
-- MADV_COLLAPSE of it is EINVAL before any huge page is allocated.
function TestKhugepaged:test_a_vma_never_written_is_not_collapsible()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:madvise(BASE, HP, "hugepage"))		-- no anon_vma: not entered
  m:thp{ enabled = "never" }
  assert(p:touch(BASE, HP, "w"))
  m:thp{ enabled = "madvise" }
  lu.assertEquals(m:khugepaged(), 0)
  lu.assertFalse(huge(p, BASE))
  assert(p:madvise(BASE, HP, "hugepage"))		-- now it has one
  lu.assertEquals(m:khugepaged(), 1)
  -- read faults map the zero page and make no anon_vma
  local q = m:spawn{ name = "q", aslr = false }
  assert(q:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(q:madvise(BASE, HP, "nohugepage"))
  assert(q:touch(BASE, 16 * PAGE, "r"))
  assert(q:madvise(BASE, HP, "hugepage"))
  local allocs = m:vmstat().thp_collapse_alloc
  H.assert_errno("EINVAL", 22, q:madvise(BASE, HP, "collapse"))
  lu.assertEquals(m:vmstat().thp_collapse_alloc, allocs)
  -- a never-written VMA before a collapsible one costs one unit of progress
  p:exit()
  local r = small_pages(m, 1, { 1 })
  assert(r:mmap(BASE - 65 * HP, 64 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(r:madvise(BASE, HP, "hugepage"))
  assert(r:madvise(BASE - 65 * HP, 64 * HP, "hugepage"))
  m:thp{ khugepaged = { pages_to_scan = 600 } }
  lu.assertEquals(m:khugepaged(), 1)		-- 1 (the mm) + 1 (the VMA) + 512 < 600
  lu.assertTrue(huge(r, BASE))
end

-- A swap read error while MADV_COLLAPSE reads a page in: the collapse gives
-- up for now (EAGAIN), the kernel's report is printed, not raised.
function TestKhugepaged:test_swap_read_error_during_collapse()
  local m <close> = machine{ swap = "64M" }
  local p = small_pages(m, 1, { 1, 2 })
  assert(p:madvise(BASE + PAGE, PAGE, "pageout"))
  assert(m:inject("swap_read_error", { probability = 100, times = 1, verbose = 0 }))
  H.assert_errno("EAGAIN", 11, p:madvise(BASE, HP, "collapse"))	-- the read failed
  H.assert_errno("EAGAIN", 11, p:madvise(BASE, HP, "collapse"))	-- read, into the swap cache
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(p, BASE))
  lu.assertEquals(p:read(BASE + PAGE, 5), "page1")
end

-- khugepaged with nothing to do sleeps: a pass drains no LRU batch.
function TestKhugepaged:test_no_work_no_drain()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, HP, "rw-", "private|anonymous|fixed_noreplace"))
  m:thp{ enabled = "never" }
  assert(p:touch(BASE, 4 * PAGE, "w"))			-- waiting in the lru_add batch
  local inactive = m:vmstat().nr_inactive_anon
  lu.assertEquals(m:khugepaged(), 0)
  lu.assertEquals(m:vmstat().nr_inactive_anon, inactive)
end

-- set_recommended_min_free_kbytes(): khugepaged, running while THP is on,
-- raises min_free_kbytes (11 pageblocks for each of the two zones, up to 5%
-- of low memory); "never" gives back int_sqrt(16 * lowmem kB); a configured
-- value is left alone.
function TestKhugepaged:test_min_free_kbytes()
  local m <close> = machine()
  lu.assertEquals(m:info().min_free_kbytes, 12748)
  m:thp{ enabled = "never" }
  lu.assertEquals(m:info().min_free_kbytes, 2031)
  m:thp{ enabled = "always" }
  lu.assertEquals(m:info().min_free_kbytes, 12748)
  local big <close> = memlab.new{ ram = "24G", seed = 1 }
  lu.assertEquals(big:info().min_free_kbytes, 67584)	-- 11 * 512 pages * 3 zones, as the host
  local c <close> = machine{ min_free_kbytes = 2048 }
  lu.assertEquals(c:info().min_free_kbytes, 2048)
  c:thp{ enabled = "never" }
  c:thp{ enabled = "always" }
  lu.assertEquals(c:info().min_free_kbytes, 2048)
end

-- arm64 with 16K pages: a huge page is 32 MiB, 2048 PTEs.
function TestKhugepaged:test_arm64_16k()
  local m <close> = machine{ arch = "arm64", page_size = 16384 }
  local AHP, ABASE = 32 * 1024 * 1024, 0x7e0000000000
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(ABASE, AHP, "rw-", "private|anonymous|fixed_noreplace"))
  m:thp{ enabled = "never" }
  assert(p:write(ABASE + 16384 * 100, "arm"))
  m:thp{ enabled = "madvise" }
  assert(p:madvise(ABASE, AHP, "collapse"))
  local t = p:translate(ABASE)
  lu.assertTrue(t.huge)
  lu.assertEquals(t.size, AHP)
  lu.assertEquals(p:read(ABASE + 16384 * 100, 3), "arm")
  lu.assertEquals(p:mm().rss_anon, 2048)
end

-- A collapse in a locked VMA mlocks the huge page (folio_add_lru_vma).
function TestKhugepaged:test_collapse_in_a_locked_vma()
  local m <close> = machine()
  local p = small_pages(m, 1, { 5 })
  assert(p:mlock(BASE, HP))
  local locked = m:vmstat().nr_mlock
  assert(p:madvise(BASE, HP, "collapse"))
  lu.assertTrue(huge(p, BASE))
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().nr_mlock, 512)
  lu.assertTrue(locked >= 512)
end

-- m:khugepaged() runs as khugepaged: the reclaim its allocation does is
-- counted as khugepaged's (reclaimer_offset), not as direct reclaim.
function TestKhugepaged:test_khugepaged_reclaim_is_its_own()
  local m <close> = machine{ ram = "64M" }
  local p = small_pages(m, 1, { 1 })
  assert(p:madvise(BASE, HP, "hugepage"))
  -- the page cache takes all but 2 MiB of the free memory
  local free = m:vmstat().nr_free_pages * PAGE
  local size = free - 2 * 1024 * 1024
  local f = m:file{ path = "/big", size = size }
  local r = m:spawn{ name = "reader", aslr = false }
  local fa = assert(r:mmap(0, size, "r--", "private", f, 0))
  assert(r:touch(fa, size, "r"))
  local before = m:vmstat()
  lu.assertEquals(m:khugepaged(), 1)
  local vs = m:vmstat()
  lu.assertEquals(vs.pgscan_direct, before.pgscan_direct)
  lu.assertTrue(vs.pgscan_khugepaged > before.pgscan_khugepaged)
  lu.assertTrue(vs.pgsteal_khugepaged > before.pgsteal_khugepaged)
  lu.assertTrue(huge(p, BASE))
end

os.exit(lu.LuaUnit.run())
