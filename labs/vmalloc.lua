-- vmalloc: virtually contiguous kernel memory, guard pages and lazy freeing
--
-- vmalloc(size) gives the kernel memory that is contiguous in virtual
-- addresses only: order-0 pages from anywhere in RAM, mapped one by one in
-- the kernel's own page table inside the vmalloc range.  Linux 6.18's
-- mm/vmalloc.c places each area at the lowest free address with one
-- unmapped guard page after it, and vfree() frees the pages at once but
-- keeps the address space reserved ("unpurged vm_area") until the lazily
-- freed pages exceed lazy_max_pages(); then one purge, with one kernel TLB
-- flush, returns them all.  This lab shows each step in /proc/vmallocinfo
-- and /proc/meminfo.  Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local P = 4096

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local function meminfo(key) return tonumber(m:proc("meminfo"):match(key .. ":%s+(%d+)")) end
local function show() io.write(m:proc("vmallocinfo")) end
local stats = m:vmalloc_stats()

------------------------------------------------------------------------------
section("1. The vmalloc range")

say("VMALLOC_START 0x%x, VMALLOC_END 0x%x: VmallocTotal %d kB (32 TiB - 1 byte).",
    stats.vmalloc_start, stats.vmalloc_end, meminfo("VmallocTotal"))
assert(stats.vmalloc_start == 0xffffc90000000000)

------------------------------------------------------------------------------
section("2. Lowest address first, a guard page after each area")

local a = m:vmalloc("16K", { caller = "lab_first+0x10/0x80" })
local b = m:vmalloc(P, { caller = "lab_second+0x20/0x80" })
show()
assert(a == stats.vmalloc_start and b == a + 5 * P, "areas are packed, one guard page apart")
say("VmallocUsed: %d kB (the pages, not the guards).", meminfo("VmallocUsed"))
assert(meminfo("VmallocUsed") == 20)

local pfn0, pfn1 = m:vmalloc_to_pfn(a), m:vmalloc_to_pfn(a + P)
say("The 16K area's first pages are frames %d and %d (any frames would do: only the", pfn0, pfn1)
say("addresses must be contiguous; vmalloc takes them one at a time).")
local r, err = m:kread(a + 4 * P, 1)
say("Reading the guard page at 0x%x: %s, %s.", a + 4 * P, tostring(r), err)
assert(r == nil and err == "EFAULT")

------------------------------------------------------------------------------
section("3. vfree frees the pages now, the addresses later")

local free_before = meminfo("MemFree")
m:vfree(a)
show()
say("VmallocUsed %d kB; the 20 kB of address space wait as an unpurged vm_area.",
    meminfo("VmallocUsed"))
assert(meminfo("VmallocUsed") == 4 and m:vmalloc_stats().lazy_pages == 5)
local c = m:vmalloc(P)
say("The next vmalloc does not reuse them: it lands at 0x%x, after the second area.", c)
assert(c == b + 2 * P)
assert(meminfo("MemFree") <= free_before + 16)

------------------------------------------------------------------------------
section("4. Past lazy_max_pages() one purge frees every lazy area")

say("lazy_max_pages() = fls(CPUs) * 32 MiB = %d pages.", stats.lazy_max_pages)
local flushes = m:vmalloc_stats().tlb_flush_all
local n = 0
repeat
  m:vfree(m:vmalloc("4M"))
  n = n + 1
until m:vmalloc_stats().purges > 0
say("After %d vfree()s of 4 MiB areas the lazy pages passed it: purged, with %d full TLB flush.",
    n, m:vmalloc_stats().tlb_flush_all - flushes)
show()
assert(m:vmalloc_stats().lazy_pages == 0 and m:vmalloc_stats().tlb_flush_all == flushes + 1)
local d = m:vmalloc(P)
say("Now the lowest hole is free again: the next vmalloc lands at 0x%x.", d)
assert(d == stats.vmalloc_start)
assert(m:check())
