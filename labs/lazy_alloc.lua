-- Lazy allocation: sbrk gives address space, page faults give memory
--
-- sbrk() only moves the break: the heap's VMA grows, no frame is taken.
-- The first access to each page faults; Linux then maps the shared zero
-- page for a read (do_anonymous_page), allocates a zeroed frame for a
-- write, and copies the zero page away on a write after a read (do_wp_page).
-- Shrinking the heap frees its frames; above the break there is nothing.
-- This lab counts all of it: faults (the task's min_flt, vmstat pgfault),
-- RSS (/proc/PID/status), free frames, page-table memory (VmPTE).  Every
-- claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, MiB = 4096, 1024 * 1024
local NPAGES = MiB // PAGE

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local p = m:spawn{ name = "lazy", aslr = false }

local function status_kb(field)
  return tonumber(m:proc(p.pid .. "/status"):match(field .. ":%s+(%d+) kB"))
end
-- Free frames with the per-CPU lists drained, so that the count is exact.
local function free_pages()
  m:drain_pages()
  return m:vmstat().nr_free_pages
end
local function snapshot()
  local mm = p:mm()
  return { flt = mm.min_flt, rss = status_kb("RssAnon"), pte = status_kb("VmPTE"),
           free = free_pages(), pgfault = m:vmstat().pgfault }
end
local function report(label, a, b)
  say("  %-34s faults %+5d   RssAnon %5d kB   VmPTE %3d kB   free frames %+6d",
      label, b.flt - a.flt, b.rss, b.pte, b.free - a.free)
end

------------------------------------------------------------------------------
section("1. sbrk(1 MiB): a bigger VMA, nothing else")

local s0 = snapshot()
local heap = assert(p:sbrk(MiB))
local s1 = snapshot()
report("sbrk(1 MiB)", s0, s1)
assert(s1.flt == s0.flt and s1.rss == 0 and s1.free == s0.free)
say("The break moved from 0x%x to 0x%x; no fault, no frame, RSS 0.", heap, heap + MiB)

------------------------------------------------------------------------------
section("2. Reading every page: the zero page, 256 times")

for i = 0, NPAGES - 1 do assert(p:read(heap + i * PAGE, 1) == "\0") end
local s2 = snapshot()
report("read one byte of each page", s1, s2)
assert(s2.flt - s1.flt == NPAGES and s2.pgfault - s1.pgfault == NPAGES)
assert(s2.rss == 0, "zero-page mappings are not RSS")
local zero = p:translate(heap).pfn
for i = 0, NPAGES - 1 do
  local t = p:translate(heap + i * PAGE)
  assert(t.pfn == zero and t.special and not t.write)
end
say("Each read faulted once (%d minor faults) and every page now maps the same", NPAGES)
say("frame, pfn 0x%x, read-only and 'special': the shared zero page.  RssAnon stays", zero)
print("0; the only memory taken is the page table that holds the 256 entries:")
say("VmPTE %d kB, %d frames fewer free.", s2.pte, s1.free - s2.free)
assert(s1.free - s2.free == (s2.pte - s1.pte) // 4, "only page tables were allocated")

------------------------------------------------------------------------------
section("3. Writing every page: a frame each")

for i = 0, NPAGES - 1 do assert(p:write(heap + i * PAGE, "x")) end
local s3 = snapshot()
report("write one byte of each page", s2, s3)
assert(s3.flt - s2.flt == NPAGES, "one write-protect fault per page")
assert(s3.rss == 1024 and s2.free - s3.free == NPAGES)
local seen = {}
for i = 0, NPAGES - 1 do
  local t = p:translate(heap + i * PAGE)
  assert(t.write and t.dirty and not t.special and not seen[t.pfn])
  seen[t.pfn] = true
end
print("Each write hit a read-only zero-page entry: do_wp_page() gave the page a")
print("zeroed frame of its own (no copy needed from the zero page), writable and")
say("dirty.  %d faults, %d frames, RssAnon 1024 kB.", NPAGES, NPAGES)

local more = assert(p:sbrk(16 * PAGE))
local s4a = snapshot()
for i = 0, 15 do assert(p:write(more + i * PAGE, "y")) end
local s4 = snapshot()
report("write 16 fresh pages (no read first)", s4a, s4)
assert(s4.flt - s4a.flt == 16 and s4.rss == 1024 + 64)
print("A write to a page never touched takes ONE fault: do_anonymous_page()")
print("allocates the frame directly.")

------------------------------------------------------------------------------
section("4. sbrk(-(1 MiB + 64 KiB)): the frames go back")

local hwm = status_kb("VmHWM")
assert(p:sbrk(-(MiB + 16 * PAGE)) == more + 16 * PAGE)
local s5 = snapshot()
report("shrink the heap to nothing", s4, s5)
assert(s5.rss == 0 and s5.free - s4.free < NPAGES + 16)
say("RssAnon is 0 again, but only %d frames are free again: the last %d pages", s5.free - s4.free,
    NPAGES + 16 - (s5.free - s4.free) + (s4.pte - s5.pte) // 4)
print("written still wait in the CPU's per-CPU lru_add batch (up to 30 pages, each")
print("holding a reference), and shrinking the heap (munmap) does not drain it.  When it drains --")
print("reclaim, MADV_COLD, mlock, MAP_POPULATE, or m:lru_add_drain_all() here -- they go too:")
m:lru_add_drain_all()
local s6 = snapshot()
assert(s6.free - s4.free >= NPAGES + 16)
say("now %d frames are free again (the heap's %d and the page tables freed", s6.free - s4.free,
    NPAGES + 16)
print("with them); VmHWM remembers the peak: " .. hwm .. " kB.")
assert(status_kb("VmHWM") == hwm and hwm >= 1024 + 64)

------------------------------------------------------------------------------
section("5. Above the break")

local brk = p:sbrk(0)
local ok, sig, code = p:read(brk, 1)
say("p:read(break, 1)      --> %s, %s, %s", tostring(ok), sig, code)
assert(ok == nil and sig == "SIGSEGV" and code == "SEGV_MAPERR")
ok, sig, code = p:write(heap + 100, "z")
say("p:write(old heap, 'z') --> %s, %s, %s", tostring(ok), sig, code)
assert(ok == nil and sig == "SIGSEGV" and code == "SEGV_MAPERR")
print("No VMA covers those addresses any more: the fault handler finds none and")
print("sends SIGSEGV with SEGV_MAPERR, and no fault is counted (it never reached")
print("handle_mm_fault).")
assert(p:mm().min_flt == s5.flt)

p:exit()
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
