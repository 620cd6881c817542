-- Measuring a working set with clear_refs, and what the TLB hides from it
--
-- A classic way to estimate how much memory a process really uses
-- (Brendan Gregg's wss tool, the clear_refs man page): write 1 to
-- /proc/PID/clear_refs, which makes every page-table entry "old" and
-- clears each page's referenced flag, let the process run, then add up
-- "Referenced" in /proc/PID/smaps: the pages it touched since.  But
-- clear_refs does not flush the TLBs, and a CPU that still caches a
-- translation uses it without setting the accessed bit in the page table
-- again.  So pages used only through cached translations are missed:
-- a working set that fits in the TLB can look empty.  memlab models the
-- accessed bit in the TLB entries as the hardware does, so the lab shows
-- the effect and when it goes away.  Every claim is checked with
-- assert(); tests/diff/diff_thp.c compares clear_refs with the host.

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, MiB = 4096, 1024 * 1024
local BASE = 0x7e0000000000

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local p = m:spawn{ name = "app", aslr = false }
assert(p:mmap(BASE, 64 * MiB, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:touch(BASE, 64 * MiB, "w"))       -- 16384 pages, all resident

local function referenced_kb()
  local text = m:proc(p.pid .. "/smaps")
  return tonumber(text:match(string.format("%x%%-.-Referenced:%%s+(%%d+)", BASE)))
end

-- Read one byte of each of the first `pages` pages, `rounds` times over.
local function work(pages, rounds)
  return p:access{ pattern = "stride", base = BASE, len = pages * PAGE, stride = PAGE,
                   count = pages * rounds, size = 1 }
end

-- clear_refs, the workload, then what smaps says.
local function measure(pages)
  assert(p:clear_refs(1))
  work(pages, 4)
  return referenced_kb() // 4
end

------------------------------------------------------------------------------
section("1. After the first touch, every page is referenced")

say("64 MiB written once: Referenced %d kB of %d kB.", referenced_kb(), 64 * 1024)
assert(referenced_kb() == 64 * 1024)

------------------------------------------------------------------------------
section("2. A hot set that fits in the TLB looks empty")

-- Warm the TLB with the hot set first, as a running program would have.
work(32, 2)
local seen = measure(32)
say("32 hot pages, read 4 times each after clear_refs: %d pages referenced.", seen)
say("Their translations were in the L1 dTLB (64 entries): no walk, no accessed bit.")
assert(seen == 0)

------------------------------------------------------------------------------
section("3. A hot set larger than the TLB is seen")

work(4096, 1)
seen = measure(4096)
say("4096 hot pages (16 MiB; the STLB holds 1536): %d pages referenced.", seen)
say("Cycling through more pages than the TLBs hold evicts each translation")
say("before it is used again (LRU), so every read walked and set the bit.")
assert(seen == 4096)

------------------------------------------------------------------------------
section("4. Flushing the TLB after clear_refs makes the count exact")

work(32, 2)
assert(p:clear_refs(1))
m:tlb_flush_all()                          -- what a context switch without PCID does
work(32, 4)
seen = referenced_kb() // 4
say("32 hot pages again, the TLBs flushed after clear_refs: %d referenced.", seen)
assert(seen == 32)
say("")
say("Tools that estimate working sets this way rely on the process being")
say("switched out (a TLB flush) between the clear and the reading; with PCIDs")
say("a CPU can keep a process's translations across switches, and the count")
say("comes out low for small, hot working sets.")
assert(m:check())
