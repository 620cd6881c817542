-- TLB reach: the miss rate against the working-set size
--
-- A TLB holds a few thousand translations; what it covers -- its reach --
-- is entries times page size.  A Skylake core's L1 dTLB has 64 entries for
-- 4 KiB pages (256 KiB of reach) and its STLB 1536 (6 MiB).  Random 8-byte
-- reads over a working set that fits in the reach hit after the first
-- touches; beyond it, misses climb toward one per access, and every miss
-- of the STLB costs a page walk of up to four memory references (fewer
-- when the page-walk caches hold the upper levels).  This lab measures
-- the curve on memlab's default x86-64 TLBs with p:access{} and checks its
-- shape, then again with transparent huge pages: 2 MiB per entry
-- multiplies the reach by 512 (the L1 dTLB's 32 huge entries cover 64 MiB).

local memlab = require("memlab")

local report = require("memlab.report")
local say, section = report.say, report.section
local KiB, MiB = 1024, 1024 * 1024
local ACCESSES = 200000

local m = memlab.new{ arch = "x86_64", ram = "1G", seed = 1 }
local p = m:spawn{ name = "reach", aslr = false }

-- The CPU's counters now: L1d and L2 lookups and hits, walks, memory refs.
local function counters()
  local s = m:tlb_stats()[1]
  return { l1 = s.levels.L1d.lookups, l1h = s.levels.L1d.hits, l2 = s.levels.L2.lookups,
           l2h = s.levels.L2.hits, walks = s.walks, refs = s.walk_mem_refs }
end

local function size(n)
  return n >= MiB and string.format("%d MiB", n // MiB) or string.format("%d KiB", n // KiB)
end

-- Random reads over ws bytes, already faulted in (with huge pages: madvised
-- first); the rates they saw.
local function measure(ws, huge)
  local base = assert(p:mmap(0x7e0000000000, ws, "rw-", "private|anonymous"))
  if huge then assert(p:madvise(base, ws, "hugepage")) end
  assert(p:madvise(base, ws, "populate_write"))
  p:access{ pattern = "random", base = base, len = ws, count = ACCESSES // 4, seed = 2 }	-- warm
  local a = counters()
  local r = p:access{ pattern = "random", base = base, len = ws, count = ACCESSES, seed = 3 }
  local b = counters()
  assert(r.accesses == ACCESSES and r.min_flt == 0)
  assert(p:munmap(base, ws))
  return { ws = ws, l1miss = 1 - (b.l1h - a.l1h) / (b.l1 - a.l1),
           l2miss = (b.l2 - a.l2) > 0 and 1 - (b.l2h - a.l2h) / (b.l2 - a.l2) or 0,
           walks = (b.walks - a.walks) / ACCESSES,
           refs = (b.walks > a.walks) and (b.refs - a.refs) / (b.walks - a.walks) or 0 }
end


------------------------------------------------------------------------------
section("1. The TLBs")

for _, t in ipairs(m:tlb_stats()[1].tlbs) do
  if not t.name:match("^L1i") then
    say("  %-6s %5d entries, %2d ways, %-5s for %s", t.name, t.entries, t.ways, t.policy,
        table.concat(t.sizes, "/"))
  end
end

------------------------------------------------------------------------------
section("2. Random 8-byte reads, 4 KiB pages")

-- The table for working sets from first to 256 MiB, doubling; a lookup by size.
local function curve(first, huge)
  print("  working set   L1d miss   STLB miss   walks/access   memory refs/walk")
  local rows, by = {}, {}
  local ws = first
  while ws <= 256 * MiB do
    local r = measure(ws, huge)
    rows[#rows + 1], by[ws] = r, r
    say("  %11s   %7.1f%%   %8.1f%%   %12.3f   %16.2f", size(ws), 100 * r.l1miss,
        100 * r.l2miss, r.walks, r.refs)
    ws = ws * 2
  end
  return rows, function(n) return by[n] end
end

local rows, at = curve(64 * KiB, false)
assert(at(128 * KiB).l1miss < 0.01, "128 KiB fits in the L1 dTLB's 256 KiB reach")
assert(at(1 * MiB).l1miss > 0.5 and at(1 * MiB).walks < 0.01, "1 MiB: L1 misses, STLB hits")
assert(at(4 * MiB).walks < 0.05, "4 MiB fits in the STLB's 6 MiB reach")
assert(at(64 * MiB).walks > 0.8, "64 MiB: nearly every access walks")
assert(at(64 * MiB).refs < 1.01, "the PDE cache (32 entries) covers 64 MiB: a walk reads the PTE only")
assert(at(256 * MiB).refs > 1.5, "beyond 64 MiB walks read the PMD entries too")
for i = 2, #rows do assert(rows[i].l1miss >= rows[i - 1].l1miss - 0.01, "misses only grow") end
print()
print("Within 256 KiB the L1 dTLB holds every page; up to 6 MiB the STLB does and")
print("each L1 miss costs an STLB lookup, no walk; beyond that the walks climb")
print("toward one per access.  A walk reads up to 4 entries, fewer when the")
print("page-walk caches hold the upper levels: the 32-entry PDE cache covers")
print("64 MiB, so up to there a walk reads only the PTE; beyond, the PMD entries")
print("must be read too.")

------------------------------------------------------------------------------
section("3. The same with 2 MiB huge pages (MADV_HUGEPAGE)")

local _, hat = curve(2 * MiB, true)
assert(hat(64 * MiB).l1miss < 0.01, "64 MiB fits in the 32 huge L1 entries")
assert(hat(256 * MiB).walks < 0.01, "256 MiB: 128 huge pages, all in the STLB")
assert(at(64 * MiB).walks > 0.8 and hat(64 * MiB).walks < 0.01)
print()
print("At 64 MiB, 4 KiB pages walk on nine accesses in ten; 2 MiB pages not once:")
print("32 huge entries of the L1 dTLB cover the whole working set, and the STLB's")
print("1536 entries, shared by both sizes, would cover 3 GiB.")

------------------------------------------------------------------------------
section("4. The curves")

local small, huge = {}, {}
for _, r in ipairs(rows) do
  small[#small + 1] = { r.ws, r.walks }
  if hat(r.ws) then huge[#huge + 1] = { r.ws, hat(r.ws).walks } end
end
report.plot{ series = { { name = "4 KiB pages", points = small }, { name = "2 MiB pages", points = huge } },
             logx = true, xsize = true, ymin = 0, ymax = 1, width = 60, height = 12,
             ylabel = "page walks per access", xlabel = "working set (doubling)" }

p:exit()
assert(m:check(), "the machine's invariants hold, the TLBs included")
print()
print("m:check() --> true")
