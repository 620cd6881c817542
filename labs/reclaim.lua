-- Page reclaim: kswapd, direct reclaim and the two LRU lists
--
-- Linux keeps a little memory free at all times.  Each zone has three
-- watermarks (min < low < high, from vm.min_free_kbytes): an allocation
-- that leaves a zone below "low" wakes kswapd, which reclaims until the
-- zone is above "high"; an allocation that finds nothing above "min"
-- reclaims itself (direct reclaim, an "allocation stall").  Reclaim takes
-- pages from the tail of the inactive LRU lists: a clean page-cache page
-- used once is freed, one used twice was activated and survives.  This
-- lab streams a file larger than memory past a program whose code is
-- in use, and shows the free pages follow the watermarks, the hot code
-- stay in memory, dirty pages go to the disk first, MADV_FREE'd memory
-- vanish, and anonymous memory go to swap and come back; then what its TLB
-- flushes cost a CPU running the same process.  Every claim is checked
-- with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, MiB = 4096, 1024 * 1024

local m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
local function meminfo(key)
  return tonumber(m:proc("meminfo"):match(key .. ":%s+(%d+) kB"))
end
local function zone(name)
  for _, z in ipairs(m:zones()) do if z.name == name then return z end end
end

------------------------------------------------------------------------------
section("1. A program and its code")

local lib = m:file{ path = "/usr/lib/libhot.so", size = 2 * MiB }
local data = m:file{ path = "/data/big.log", size = 256 * MiB }
local p = m:spawn{ name = "server", aslr = false }
local code = assert(p:mmap(nil, 2 * MiB, "rx", "private", lib, 0))
p:touch(code, 2 * MiB, "x")
local code_pfn = p:translate(code).pfn
say("server maps %s (2 MiB, r-xp) and runs all of it: %d pages in its RSS.",
    lib.path, p:mm().rss_file)
say("They are on the %s list (new pages start inactive).", m:page(code_pfn).lru_list)
assert(m:page(code_pfn).lru_list == "inactive_file")
local dma32 = zone("DMA32")
say("Zone DMA32: %d pages free; watermarks min %d, low %d, high %d.", dma32.free, dma32.min,
    dma32.low, dma32.high)

------------------------------------------------------------------------------
section("2. Streaming 256 MiB through 64 MiB")

local buf = assert(p:mmap(nil, 64 * 1024, "rw", "private|anonymous"))
local samples, lo, hi = {}, math.huge, 0
for off = 0, 256 * MiB - 65536, 65536 do
  assert(p:pread(data, buf, 65536, off) == 65536)
  if off % (4 * MiB) == 0 then p:touch(code, 2 * MiB, "x") end   -- the server keeps working
  if off % MiB == 0 then
    local free = zone("DMA32").free
    samples[#samples + 1] = free
    if off >= 64 * MiB then lo, hi = math.min(lo, free), math.max(hi, free) end
  end
end
local v = m:vmstat()
say("read(2) of %s, 64 KiB at a time.  Page cache now: %d MiB (Cached).", data.path,
    meminfo("Cached") // 1024)
say("kswapd woke %d times (pageoutrun), scanned %d pages and freed %d;",
    v.pageoutrun, v.pgscan_kswapd, v.pgsteal_kswapd)
say("direct reclaim: %d stalls, %d pages scanned, %d freed.",
    v.allocstall_movable + v.allocstall_normal + v.allocstall_dma32, v.pgscan_direct,
    v.pgsteal_direct)
assert(v.pgsteal_kswapd > 0 and meminfo("Cached") < 64 * 1024)
print()
print("Free pages in DMA32 after each 8 MiB read, once the cache had filled memory")
print("(the columns marked | are min, low and high):")
local width, left, right = 60, dma32.min // 2, dma32.high * 2
local function col(x) return math.floor((x - left) / (right - left) * width + 0.5) end
for i = 49, #samples, 8 do
  local row = {}
  for c = 0, width do row[c + 1] = " " end
  for _, mark in ipairs{ dma32.min, dma32.low, dma32.high } do row[col(mark) + 1] = "|" end
  row[math.max(0, math.min(width, col(samples[i]))) + 1] = "*"
  say("%4d MiB %6d %s", i - 1, samples[i], table.concat(row))
end
say("From 64 MiB on, free stayed between %d and %d pages.  Each read allocates", lo, hi)
print("towards low and wakes kswapd, which runs when the read returns and reclaims")
print("until a zone is above high -- by whole batches, so it overshoots.  The per-CPU")
print("lists refill a batch of pages after one page's watermark check, so free can")
print("dip a little below min; a read that finds nothing above min reclaims itself.")
assert(lo >= dma32.min // 2 and hi <= dma32.high * 2)

------------------------------------------------------------------------------
section("3. Used twice, kept")

local pg = m:page(code_pfn)
say("The code page at %#x is still pfn %#x, now on the %s list.", code, p:translate(code).pfn,
    pg.lru_list)
say("server's RSS still holds %d of the library's pages; pgactivate = %d.", p:mm().rss_file,
    v.pgactivate)
print("Reclaim found its entries young (accessed bit set): an executable file page is")
print("activated at the first such look, and the active list is only aged when the")
print("inactive one runs short.  The log's pages were each read once: reclaimed.")
assert(p:translate(code).pfn == code_pfn and pg.lru_list == "active_file")
assert(p:mm().rss_file == 512)

------------------------------------------------------------------------------
section("4. Dirty pages")

local out = m:file{ path = "/data/out.bin", writable = true }
p:write(buf, string.rep("w", 65536))
local before = m:vmstat()
for off = 0, 96 * MiB - 65536, 65536 do
  assert(p:pwrite(out, buf, 65536, off) == 65536)
end
v = m:vmstat()
local bg = v.nr_dirty_background_threshold
say("write(2) of 96 MiB: %d pages written back (nr_written).  Once dirty pages pass", 
    v.nr_written - before.nr_written)
say("nr_dirty_background_threshold (%d pages: vm.dirty_background_ratio, 10%% of", bg)
print("dirtyable memory) the flusher writes them back; dirty memory stays near that")
say("line.  Dirty now: %d kB.  Reclaim met %d dirty pages (nr_vmscan_immediate_reclaim):",
    meminfo("Dirty"), v.nr_vmscan_immediate_reclaim)
print("it marks them PG_reclaim and leaves them to the flusher, which moves them to")
say("the inactive tail once written (pgrotated %d).  The disk has %q.", v.pgrotated,
    out:ondisk(0, 4))
assert(v.nr_dirty <= bg + 16)
assert(v.nr_written > before.nr_written and out:ondisk(0, 4) == "wwww")

------------------------------------------------------------------------------
section("5. Memory the program said it could lose")

local lazy = assert(p:mmap(nil, 256 * PAGE, "rw", "private|anonymous"))
p:touch(lazy, 256 * PAGE, "w")
assert(p:madvise(lazy, 256 * PAGE, "free"))
p:write(lazy, "keep")
local drop = assert(p:mmap(nil, 256 * PAGE, "rw", "droppable|anonymous"))
p:touch(drop, 256 * PAGE, "w")
local freed = m:vmstat().pglazyfreed
for off = 0, 192 * MiB - 65536, 65536 do p:pread(data, buf, 65536, off) end
v = m:vmstat()
say("256 pages given MADV_FREE (one written again after) and 256 MAP_DROPPABLE pages,")
say("then 192 MiB more read: reclaim dropped %d of them (pglazyfreed).  MADV_FREE made", v.pglazyfreed - freed)
say("its pages old: they went at the first look; the droppable pages were young, spared")
say("once, and went at the second.  The rewritten page kept %q;", p:read(lazy, 4))
say("a dropped one reads zero again: %q.", p:read(lazy + PAGE, 1))
assert(v.pglazyfreed - freed == 511 and p:read(lazy, 4) == "keep")
assert(p:read(lazy + PAGE, 1) == "\0" and p:read(drop, 1) == "\0")

------------------------------------------------------------------------------
section("6. Anonymous memory and swap")

print("Anonymous pages have no file to be read back from: without swap they")
print("cannot be reclaimed at all.  A machine of 32 MiB with a 64 MiB swap file:")
local sm = memlab.new{ arch = "x86_64", ram = "32M", swap = "64M", seed = 1 }
io.write(sm:proc("swaps"))
local hog = sm:spawn{ name = "hog" }
local n = 12288                                   -- 48 MiB
local big = assert(hog:mmap(nil, n * PAGE, "rw", "private|anonymous"))
for i = 0, n - 1 do assert(hog:write(big + i * PAGE, string.format("%08d", i))) end
local sv = sm:vmstat()
local vmswap = tonumber(sm:proc(hog.pid .. "/status"):match("VmSwap:%s+(%d+)"))
say("hog wrote 48 MiB: %d pages went to swap (pswpout), VmSwap %d kB, no OOM kill.",
    sv.pswpout, vmswap)
-- Not necessarily the first page: a page reclaim meets young (just
-- written) is kept once and rotated (folio_check_references), and which
-- pages a pass meets young depends on how far kswapd's passes go -- with
-- watermark boosting they aim at the boosted high marks, and the first
-- pass met the oldest pages young and kept them.
local first, w = 0, hog:translate(big)
while not w.swap and first < n - 1 do
  first = first + 1
  w = hog:translate(big + first * PAGE)
end
say("Its page %d's PTE is now a swap entry %#x: slot %d (exclusive: %s).",
    first, w.levels[#w.levels].entry, w.swap and w.swap.offset or -1,
    tostring(w.swap and w.swap.exclusive))
assert(sv.oom_kill == 0 and sv.pswpout > 4000 and w.swap)
local maj, in0, ra0 = hog:mm().maj_flt, sm:vmstat().pswpin, sm:vmstat().swap_ra
for i = 0, n - 1, 64 do assert(hog:read(big + i * PAGE, 8) == string.format("%08d", i)) end
local faults, read, ahead = hog:mm().maj_flt - maj, sm:vmstat().pswpin - in0, sm:vmstat().swap_ra - ra0
say("Reading every 64th page back: %d major faults read %d pages (pswpin): %d read ahead",
    faults, read, ahead)
say("with them (swap_ra: the slots around a fault's, a window that halves while these scattered\nfaults use none of them); SwapCached %d kB --",
    tonumber(sm:proc("meminfo"):match("SwapCached:%s+(%d+)")))
assert(read == faults + ahead)
print("a page read back keeps its slot while swap is less than half full, so")
print("reclaiming it again, unchanged, needs no write.")
assert(sm:vmstat().pswpin > 0)
sm:check()

------------------------------------------------------------------------------
section("7. The TLB shootdowns reclaim costs")

print("A page reclaim unmaps may still be in another CPU's TLB.  When the")
print("process runs on another CPU too, Linux does not send it an IPI per page:")
print("the flushes wait (TTU_BATCH_FLUSH) and one IPI serves a batch -- before")
print("each 31 pages freed, and before a page that was mapped dirty is written.")
print("MADV_PAGEOUT on a 2-CPU machine, a thread of the process on CPU 1:")
say("%-30s %8s %14s", "pages paged out", "unmapped", "IPIs to CPU 1")
local function pageout_ipis(kind, pages)
  local tm <close> = memlab.new{ arch = "x86_64", cpus = 2, swap = "64M", seed = 1 }
  local tp = tm:spawn{ name = "app", aslr = false }
  local tt = tp:thread()
  assert(tt:write(assert(tt:mmap(nil, PAGE, "rw", "private|anonymous")), "t"))
  local at = 0x7f0000000000
  if kind == "anon" then
    assert(tp:mmap(at, pages * PAGE, "rw", "private|anonymous|fixed"))
    for i = 0, pages - 1 do assert(tp:write(at + i * PAGE, "x")) end
  else
    local f = tm:file{ path = "/data/cache", size = pages * PAGE, writable = true }
    assert(tp:mmap(at, pages * PAGE, "r", "shared|fixed", f, 0))
    for i = 0, pages - 1 do assert(tp:read(at + i * PAGE, 1)) end
  end
  local before = tm:tlb_stats()[2].nr_tlb_remote_flush_received
  local rss = tp:mm().rss_file + tp:mm().rss_anon
  assert(tp:madvise(at, pages * PAGE, "pageout"))
  local freed = rss - tp:mm().rss_file - tp:mm().rss_anon
  tm:check()
  return freed, tm:tlb_stats()[2].nr_tlb_remote_flush_received - before
end
local rows = { { "file", 31 }, { "file", 100 }, { "file", 500 }, { "anon", 100 } }
local ipis = {}
for i, r in ipairs(rows) do
  local freed, n_ipi = pageout_ipis(r[1], r[2])
  ipis[i] = n_ipi
  say("%-30s %8d %14d", string.format("%d %s pages", r[2], r[1] == "file" and "clean file" or
      "dirty anonymous"), freed, n_ipi)
end
print("Clean pages cost an IPI per 31 (MADV_PAGEOUT reclaims a 2 MiB range at")
print("a time); dirty anonymous pages one each, as each is written to swap only")
print("once no TLB can write it any more.  tests/diff/diff_tlbbatch.c checks such")
print("counts against the host's (the TLB line of its /proc/interrupts).")
assert(ipis[1] == 1 and ipis[2] == 4 and ipis[3] == 17 and ipis[4] == 100)

------------------------------------------------------------------------------
section("Summary")
print("Reclaim frees what can be had again: file pages from the disk, pages the")
print("program gave up, and with swap anonymous pages too.  A machine full of")
print("anonymous memory and no swap goes to the OOM killer (lab oom_killer).")
m:check()
