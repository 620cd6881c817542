-- Small pages made huge: khugepaged and MADV_COLLAPSE
--
-- Memory faulted in before a region was given huge pages -- a heap grown
-- page by page, a mapping made while transparent_hugepage was "never",
-- pages of a huge page split by mprotect -- stays in 4 KiB pages: a later
-- MADV_HUGEPAGE only changes what the next faults get.  Linux's khugepaged
-- thread finds such ranges and collapses each 2 MiB of them into a new
-- huge page (mm/khugepaged.c collapse_huge_page): it copies the small
-- pages in, frees them, and maps the huge page with one PMD entry.  It
-- works a few ranges at a time (pages_to_scan, 4096 pages a pass), on
-- the processes it has been told about, and only where its limits allow;
-- MADV_COLLAPSE (Linux 6.1) does the same at once for a range the
-- process names.  This lab watches both, and what the TLB sees before
-- and after.  Every claim is checked with assert(); tests/diff/diff_thp.c
-- shows MADV_COLLAPSE doing the same on a real kernel.

local memlab = require("memlab")

local report = require("memlab.report")
local say, section = report.say, report.section
local KiB, MiB, HP = 1024, 1024 * 1024, 2 * 1024 * 1024
local BASE, LEN = 0x7e0000000000, 32 * MiB

local m = memlab.new{ arch = "x86_64", ram = "512M", seed = 1 }
local p = m:spawn{ name = "heap", aslr = false }

local function kb(field)
  local v = m:proc(p.pid .. "/smaps"):match(string.format("\n%x%%-.-\n%s:%%s+(%%d+) kB", BASE, field))
  return tonumber(v)
end
local function vm(name) return m:vmstat()[name] end

-- Random 8-byte reads over the region: STLB misses per access.
local function walks()
  p:access{ pattern = "random", base = BASE, len = LEN, count = 20000, seed = 2 }	-- warm
  local a = m:tlb_stats()[1]
  local r = p:access{ pattern = "random", base = BASE, len = LEN, count = 100000, seed = 3 }
  local b = m:tlb_stats()[1]
  assert(r.min_flt == 0)
  return (b.walks - a.walks) / 100000
end

------------------------------------------------------------------------------
section("1. 32 MiB written while THP was \"never\"")

m:thp{ enabled = "never" }
assert(p:mmap(BASE, LEN, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:touch(BASE, LEN, "w"))
m:thp{ enabled = "madvise" }
local w0 = walks()
say("  Rss %d kB, AnonHugePages %d kB; page walks per random read: %.2f",
    kb("Rss"), kb("AnonHugePages"), w0)
assert(kb("AnonHugePages") == 0 and w0 > 0.8)

------------------------------------------------------------------------------
section("2. MADV_HUGEPAGE, then khugepaged passes")

assert(p:madvise(BASE, LEN, "hugepage"))
say("  after MADV_HUGEPAGE: AnonHugePages %d kB (the pages are where they were)",
    kb("AnonHugePages"))
assert(kb("AnonHugePages") == 0)
local k = m:thp().khugepaged
say("  khugepaged: pages_to_scan %d, max_ptes_none %d", k.pages_to_scan, k.max_ptes_none)
local passes = 0
repeat
  local n = m:khugepaged()
  passes = passes + 1
  say("  pass %d: %d collapsed, AnonHugePages %5d kB, full_scans %d", passes, n,
      kb("AnonHugePages"), m:thp().khugepaged.full_scans)
until n == 0
assert(kb("AnonHugePages") == LEN // KiB, "every 2 MiB is huge now")
assert(passes == 3, "8 ranges a pass, and a pass that finds nothing left")
assert(vm("thp_collapse_alloc") == LEN // HP and m:thp().khugepaged.pages_collapsed == LEN // HP)
assert(kb("Rss") == LEN // KiB, "the same memory, in other frames")
local w1 = walks()
say("  page walks per random read: %.2f (were %.2f)", w1, w0)
assert(w1 < 0.01, "16 huge pages fit the L1 dTLB's 32 huge entries")
print()
print("Each pass looks at 4096 pages' worth of ranges: 8 of them.  The new huge")
print("pages take the small pages' contents, the small pages are freed: the")
print("process uses as much memory as before, and its 16 translations fit the")
print("TLB's huge entries where 8192 small ones did not.")

------------------------------------------------------------------------------
section("3. MADV_COLLAPSE of a sparse range, and khugepaged's max_ptes_none")

local SPARSE = BASE + LEN + HP
assert(p:mmap(SPARSE, 2 * HP, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:madvise(SPARSE, 2 * HP, "nohugepage"))	-- small pages for now
assert(p:write(SPARSE + 4096, "one page"))
assert(p:write(SPARSE + HP + 4096, "one page"))
assert(p:madvise(SPARSE, 2 * HP, "hugepage"))
m:thp{ khugepaged = { max_ptes_none = 64 } }
local rounds = m:thp().khugepaged.full_scans
repeat assert(m:khugepaged() == 0) until m:thp().khugepaged.full_scans > rounds
say("  max_ptes_none 64: a whole round of khugepaged leaves ranges of 511 empty " ..
    "entries alone (thp_scan_exceed_none_pte %d)", vm("thp_scan_exceed_none_pte"))
assert(vm("thp_scan_exceed_none_pte") == 2)
local rss0 = p:mm().rss_anon
assert(p:madvise(SPARSE, HP, "collapse"))
say("  MADV_COLLAPSE of the first: RSS %d -> %d pages, \"one page\" still reads %q",
    rss0, p:mm().rss_anon, p:read(SPARSE + 4096, 8))
assert(p:mm().rss_anon == rss0 + 511 and p:read(SPARSE + 4096, 8) == "one page")
print()
print("MADV_COLLAPSE knows no limits: one page of data now costs 2 MiB of memory.")
print("khugepaged's default max_ptes_none, 511, would do the same to any range")
print("with one page in it; 0 keeps it from adding memory at all.")
