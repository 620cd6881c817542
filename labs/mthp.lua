-- Multi-size THP: fewer faults, or more memory
--
-- Linux 6.8 gave anonymous memory large folios between a page and a PMD:
-- /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled for each
-- size from 16 kB to 2 MiB (on x86-64 with 4 KiB pages).  A write fault
-- then takes the largest enabled size whose aligned range lies in the VMA
-- with no page mapped there yet (alloc_anon_folio in mm/memory.c), and
-- maps all of it at once, one PTE per page.  One fault instead of sixteen
-- for a 64 kB folio -- and sixteen pages of memory for a program that
-- writes one of them.  This lab measures both sides of that trade, for
-- every size, then follows a folio through munmap and the deferred split,
-- and shows what arm64's contiguous PTEs add: TLB reach.
-- tests/diff/diff_mthp.c compares these rules with the host kernel's.
-- Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, K, MiB = 4096, 1024, 1024 * 1024
local BASE = 0x7e0000000000
local REGION = 4 * MiB

local function machine()
  return memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
end

-- Every size "never" but one (or none), as the sysfs files would be set.
local function only(m, size)
  local set = {}
  for name in pairs(m:thp().hugepages) do set[name] = name == size and "always" or "never" end
  m:thp{ hugepages = set }
end

local function sizes(m)
  local list = {}
  for name in pairs(m:thp().hugepages) do list[#list + 1] = name end
  table.sort(list, function(a, b) return tonumber(a:match("%d+")) < tonumber(b:match("%d+")) end)
  return list
end

local function bar(n, max, width)
  return ("#"):rep(max > 0 and math.max(n > 0 and 1 or 0, math.floor(n * width / max + 0.5)) or 0)
end

local function rss_kb(m, p)
  return tonumber(m:proc(p.pid .. "/status"):match("VmRSS:%s+(%d+) kB"))
end

------------------------------------------------------------------------------
section("1. The sizes")

local m0 = machine()
local hp = m0:thp().hugepages
local SIZES = sizes(m0)
say("transparent_hugepage/enabled: %s", m0:thp().enabled)
for _, name in ipairs(SIZES) do
  say("  hugepages-%-8s enabled = %s", name, hp[name].enabled)
end
assert(hp["2048kB"].enabled == "inherit" and hp["64kB"].enabled == "never")
say("No 8kB: the deferred split queue links a folio through its third page.")
m0:close()

------------------------------------------------------------------------------
-- Run fn(p) in a fresh process with only `size` enabled ("none": small
-- pages only); what it cost: write faults, resident memory, folios made.
local function measure(size, fn)
  local m = machine()
  if size ~= "none" then only(m, size) else only(m, nil) end
  local p = m:spawn{ name = "w", aslr = false }
  assert(p:mmap(BASE, REGION, "rw-", "private|anonymous|fixed"))
  local f0 = m:vmstat().pgfault
  fn(p)
  local r = {
    faults = m:vmstat().pgfault - f0,
    rss = rss_kb(m, p),
    alloc = size ~= "none" and m:thp().hugepages[size].stats.anon_fault_alloc or 0,
  }
  assert(m:check())
  m:close()
  return r
end

local function table_of(fn)
  local rows, maxf, maxr = {}, 0, 0
  for _, size in ipairs({ "none", table.unpack(SIZES) }) do
    local r = measure(size, fn)
    rows[#rows + 1] = { size = size, r = r }
    maxf, maxr = math.max(maxf, r.faults), math.max(maxr, r.rss)
  end
  print()
  say("  %-8s %7s %-22s %8s %-22s", "size", "faults", "", "RSS kB", "")
  for _, row in ipairs(rows) do
    say("  %-8s %7d %-22s %8d %-22s", row.size == "none" and "4kB" or row.size, row.r.faults,
        bar(row.r.faults, maxf, 20), row.r.rss, bar(row.r.rss, maxr, 20))
  end
  return rows
end

------------------------------------------------------------------------------
section("2. Writing every page of 4 MiB: the faults go")

say("One byte written to each of the 1024 pages, with one size enabled at a time.")
local dense = table_of(function(p)
  for i = 0, REGION // PAGE - 1 do assert(p:write(BASE + i * PAGE, "x")) end
end)
for _, row in ipairs(dense) do
  local pages = row.size == "none" and 1 or tonumber(row.size:match("%d+")) * K // PAGE
  -- the 2048kB row is the PMD fault (do_huge_pmd_anonymous_page), not mTHP
  assert(row.r.faults == REGION // PAGE // pages, row.size)
  assert(row.r.rss >= REGION // K)
end
say("Faults fall with the folio's size: 1024 small ones, 64 of 64 kB, 2 of 2 MiB")
say("(the 2048kB row is the PMD-sized THP, mapped by a PMD, not PTEs).")

------------------------------------------------------------------------------
section("3. Writing one page in 64: the memory comes")

say("One byte every 256 kB: 16 pages written of 1024.")
local sparse = table_of(function(p)
  for i = 0, REGION // PAGE - 1, 64 do assert(p:write(BASE + i * PAGE, "x")) end
end)
for _, row in ipairs(sparse) do
  local kb = row.size == "none" and 4 or tonumber(row.size:match("%d+"))
  assert(row.r.faults == 16 // math.max(1, kb // 256), row.size)
  assert(row.r.rss == 16 * math.min(kb, 256), row.size)
end
say("Each fault maps a whole folio: 64 kB folios make RSS 16 times what was")
say("written; 256 kB and up, all of the region (512 kB and up in fewer faults,")
say("a folio holding two of the writes) -- the memory bloat that kept")
say("THP to \"madvise\" on many distributions, and mTHP sizes \"never\" by default.")

------------------------------------------------------------------------------
section("4. Which size a fault gets")

local m = machine()
m:thp{ hugepages = { ["16kB"] = "always", ["64kB"] = "always", ["256kB"] = "always" } }
local p = m:spawn{ name = "f", aslr = false }
assert(p:mmap(BASE, MiB, "rw-", "private|anonymous|fixed"))
local function folio_pages(addr)
  local page = m:page(p:translate(addr).pfn)
  return 2 ^ (m:page(page.folio).order or 0)
end
assert(p:write(BASE, "a"))
say("16, 64 and 256 kB enabled; a write at the region's start: a %d-page folio.", folio_pages(BASE))
assert(folio_pages(BASE) == 64)
assert(p:read(BASE + 256 * K + 20 * PAGE, 1))
assert(p:write(BASE + 256 * K, "b"))
say("A read maps the zero page at +%d kB; a write at +256 kB then finds that", 256 + 80)
say("256 kB range taken and gets a %d-page folio.", folio_pages(BASE + 256 * K))
assert(folio_pages(BASE + 256 * K) == 16)
assert(p:mmap(BASE + 2 * MiB, 12 * PAGE, "rw-", "private|anonymous|fixed"))
assert(p:write(BASE + 2 * MiB + 11 * PAGE, "c"))
say("In a VMA of 12 pages no 64 kB fits: a %d-page folio.", folio_pages(BASE + 2 * MiB + 11 * PAGE))
assert(folio_pages(BASE + 2 * MiB + 11 * PAGE) == 4)
local st = m:thp().hugepages
say("stats/anon_fault_alloc: 256kB %d, 64kB %d, 16kB %d",
    st["256kB"].stats.anon_fault_alloc, st["64kB"].stats.anon_fault_alloc, st["16kB"].stats.anon_fault_alloc)

------------------------------------------------------------------------------
section("5. Part of a folio unmapped, and the deferred split")

local before = m:thp().hugepages["256kB"].stats
assert(p:munmap(BASE + 8 * PAGE, 8 * PAGE))
local after = m:thp().hugepages["256kB"].stats
say("munmap of 8 pages in the 256 kB folio: split_deferred %d -> %d,", before.split_deferred,
    after.split_deferred)
say("nr_anon_partially_mapped %d: the folio waits on the deferred split queue,",
    after.nr_anon_partially_mapped)
say("its 8 unmapped pages still allocated.")
assert(after.split_deferred == 1 and after.nr_anon_partially_mapped == 1)
m:drain_pages()
local free0 = m:vmstat().nr_free_pages
m:drop_caches(2)		-- the shrinker (reclaim would run it under pressure)
m:drain_pages()
after = m:thp().hugepages["256kB"].stats
say("The shrinker splits it (split %d): %d pages come back -- the 8 unmapped", after.split,
    m:vmstat().nr_free_pages - free0)
say("and the 55 never written, whose mappings become the zero page's.")
assert(after.split == 1 and after.nr_anon == 0)
assert(m:vmstat().nr_free_pages - free0 == 8 + 55)
assert(p:read(BASE, 1) == "a")
assert(m:check())
m:close()

------------------------------------------------------------------------------
section("6. arm64: contiguous PTEs, and the TLB's reach")

say("On arm64 a folio that fills an aligned block of 16 PTEs (64 kB) gets")
say("PTE_CONT on them, and the TLB holds the block as one entry")
say("(arch/arm64/mm/contpte.c).  x86-64 has no such bit: there a 64 kB folio")
say("saves faults, not TLB misses.  4 MiB written, then read page by page,")
say("twice; the second pass's misses (L1d: 48 entries, L2: 1280; x86 STLB: 1536):")
print()
say("  %-8s %-22s %-22s", "size", "arm64 L1d / L2 misses", "x86-64 L1d / STLB misses")

local function tlb_misses(arch, size)
  local a = memlab.new{ arch = arch, ram = "256M", seed = 1 }
  only(a, size ~= "none" and size or nil)
  local q = a:spawn{ name = "r", aslr = false }
  assert(q:mmap(BASE, REGION, "rw-", "private|anonymous|fixed"))
  assert(q:access{ pattern = "stride", base = BASE, len = REGION, stride = PAGE,
                   count = REGION // PAGE, write_ratio = 1 })
  assert(q:access{ pattern = "stride", base = BASE, len = REGION, stride = PAGE,
                   count = REGION // PAGE })
  local function misses()
    local l1, l2 = 0, 0
    for _, t in ipairs(a:tlb_stats()[1].tlbs) do
      if t.level == 1 and t.kind ~= "instruction" then l1 = l1 + t.misses end
      if t.level == 2 then l2 = l2 + t.misses end
    end
    return l1, l2
  end
  local l1, l2 = misses()
  assert(q:access{ pattern = "stride", base = BASE, len = REGION, stride = PAGE,
                   count = REGION // PAGE })
  local l1b, l2b = misses()
  local cont = q:translate(BASE).cont
  assert(a:check())
  a:close()
  return l1b - l1, l2b - l2, cont
end

local reach = {}
for _, size in ipairs({ "none", table.unpack(SIZES) }) do
  local a1, a2, cont = tlb_misses("arm64", size)
  local x1, x2 = tlb_misses("x86_64", size)
  reach[size] = { a1, a2, x1, x2, cont }
  say("  %-8s %6d / %-13d %6d / %-13d%s", size == "none" and "4kB" or size, a1, a2, x1, x2,
      cont and "  PTE_CONT" or "")
end
assert(reach["32kB"][1] == REGION // PAGE and not reach["32kB"][5])	-- half a block: no fold
assert(reach["64kB"][1] == REGION // (64 * K) and reach["64kB"][5])
assert(reach["64kB"][3] == REGION // PAGE)				-- x86: a miss per page
assert(reach["2048kB"][1] <= 2 and reach["2048kB"][3] <= 2)		-- PMD leaves on both
say("From 64 kB on, arm64 misses once per 64 kB block: 64 blocks, more than")
say("the L1d's 48 entries, all in the L2.  16 and 32 kB folios, smaller than a")
say("block, miss per page, as x86 does at every size below the PMD's, whose")
say("two huge entries stay cached.")
