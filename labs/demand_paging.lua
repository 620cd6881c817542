-- Demand paging: RSS, faults and page-table memory grow with what is touched
--
-- mmap() of 1 GiB costs no memory; each first touch of a page faults and
-- takes a frame, and the page tables that map the touched pages are
-- allocated as they are needed: a PTE table per 2 MiB of address space
-- touched, a PMD table per 1 GiB, a PUD table per 512 GiB.  This lab
-- touches the region densely and sparsely and prints RSS, faults and
-- VmPTE after each step, then a plot.  Every claim is checked with assert().

local memlab = require("memlab")

local report = require("memlab.report")
local say, section = report.say, report.section
local PAGE, MiB, GiB = 4096, 1024 * 1024, 1024 * 1024 * 1024

local m = memlab.new{ arch = "x86_64", ram = "2G", seed = 1 }
local p = m:spawn{ name = "pager", aslr = false }
local function kb(field)
  return tonumber(m:proc(p.pid .. "/status"):match(field .. ":%s+(%d+) kB"))
end

------------------------------------------------------------------------------
section("1. mmap(1 GiB): nothing yet")

local base = assert(p:mmap(0x7e0000000000, GiB, "rw-", "private|anonymous"))
local pte0, rss0 = kb("VmPTE"), kb("VmRSS")
say("1 GiB mapped at 0x%x: VmSize %d kB, VmRSS %d kB, VmPTE %d kB.", base, kb("VmSize"), rss0,
    pte0)
assert(rss0 == 0 and pte0 == 0)

------------------------------------------------------------------------------
section("2. Touching it densely, 16 MiB at a time")

print("  touched   faults   VmRSS kB   VmPTE kB   page tables per MiB touched")
local rows = {}
local touched = 0
for step = 1, 8 do
  local f0 = p:mm().min_flt
  assert(p:touch(base + touched, 16 * MiB, "w"))
  touched = touched + 16 * MiB
  local row = { mib = touched // MiB, faults = p:mm().min_flt - f0, rss = kb("VmRSS"),
                pte = kb("VmPTE") }
  rows[#rows + 1] = row
  say("  %4d MiB   %6d   %8d   %8d   %.2f", row.mib, row.faults, row.rss, row.pte,
      row.pte / 4 / row.mib)
  assert(row.faults == 16 * MiB // PAGE and row.rss == row.mib * 1024)
end
local dense = rows[#rows]
print("One fault per 4 KiB page; VmPTE grows by one 4 KiB PTE table per 2 MiB")
say("(plus the PUD and PMD tables above them): %d kB of tables for %d MiB of data,", dense.pte,
    dense.mib)
print("about 0.2% overhead.")
assert(dense.pte == (128 // 2 + 2) * 4, "64 PTE tables, one PMD and one PUD table")

------------------------------------------------------------------------------
section("3. Touching it sparsely: one page per 2 MiB")

assert(p:munmap(base, GiB))
assert(kb("VmPTE") <= 4, "the tables under the unmapped GiB are gone")
base = assert(p:mmap(0x7e0000000000, GiB, "rw-", "private|anonymous"))
local f0 = p:mm().min_flt
for off = 0, GiB - 1, 2 * MiB do assert(p:write(base + off, "x")) end
local sparse = { faults = p:mm().min_flt - f0, rss = kb("VmRSS"), pte = kb("VmPTE") }
say("512 writes, one per 2 MiB: %d faults, VmRSS %d kB, VmPTE %d kB.", sparse.faults,
    sparse.rss, sparse.pte)
assert(sparse.faults == 512 and sparse.rss == 2048 and sparse.pte == (512 + 2) * 4)
print("Each page needs a PTE table of its own: the tables (2 MiB) now cost as much")
print("as the data -- why sparse access patterns are expensive, and what huge pages")
print("(one PMD entry for 2 MiB, no PTE table at all) are for.")

------------------------------------------------------------------------------
section("4. The dense curve")

local bars = { width = 50, unit = " kB RSS" }
for _, r in ipairs(rows) do
  bars[#bars + 1] = { r.mib .. " MiB", r.rss, string.format("PTE %3d kB", r.pte) }
end
report.bars(bars)
print("RSS follows the pages touched, not the size of the mapping.")

p:exit()
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
