-- Buddy allocator fragmentation: plenty of free memory, yet no free 2 MiB block
--
-- Linux hands out physical memory in blocks of 2^order pages (the buddy
-- allocator, mm/page_alloc.c).  A free block can only merge with its
-- "buddy" (the block at pfn XOR 2^order) when both are free, so a few
-- pages still in use scattered over memory are enough to leave no large
-- block free.  This lab fills a machine with small blocks, frees a random
-- half, and shows an order-9 (2 MiB) allocation failing while MemFree
-- reports tens of megabytes free; then it frees the rest and watches the
-- buddies merge back.  Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end

-- A seeded linear congruential generator (glibc's constants, modulo 2^31),
-- so that the "random" workload and this lab's output are the same bytes on
-- every run.  The low bits of such a generator are poor, so use the high ones.
local lcg = 20240601
local function rand(n) -- an integer in 0 .. n-1
  lcg = (lcg * 1103515245 + 12345) % 2147483648
  return (lcg >> 16) % n
end

local function memfree_kb(m)
  return tonumber(m:proc("meminfo"):match("MemFree:%s+(%d+) kB"))
end

local MIGRATE_TYPES = { "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate" }

------------------------------------------------------------------------------
section("1. A fresh machine")

local m = memlab.new{ arch = "x86_64", ram = "128M", seed = 42 }
-- THP off: with it on, khugepaged would keep 11 pageblocks a zone free
-- (min_free_kbytes 6340 kB on this 128 MiB machine, not 1436), and this lab's
-- workload is sized for the smaller reserve.
m:thp{ enabled = "never" }
local info = m:info()
say("x86_64, 128 MiB of RAM: %d frames of %d bytes, orders 0..%d,",
    info.nr_frames, info.page_size, info.max_order)
say("pageblocks of order %d (%d KiB)", info.pageblock_order,
    (info.page_size << info.pageblock_order) // 1024)

-- The zone this lab watches: Normal if the machine has one, else DMA32
-- (128 MiB on x86-64 ends below 4 GiB, so everything but the first 16 MiB
-- is DMA32).
local zone
for _, z in ipairs(m:zones()) do
  if z.populated and (z.name == "Normal" or (z.name == "DMA32" and not zone)) then
    zone = z.name
  end
end
assert(zone, "the machine has neither a Normal nor a DMA32 zone")

print()
print("/proc/buddyinfo at boot (free blocks of order 0, 1, 2, ... per zone):")
local buddyinfo_boot = m:proc("buddyinfo")
io.write(buddyinfo_boot)
print("Nearly all free memory sits in order-10 (4 MiB) blocks: boot frees")
print("memory in the largest aligned blocks it can.")

local function zone_row(name)
  for _, z in ipairs(m:zones()) do
    if z.name == name then return z end
  end
end

local function frag_indices()
  local t = {}
  for order = 0, info.max_order do
    t[order] = m:fragmentation_index(zone, order)
  end
  return t
end

local frag_boot = frag_indices()
local free_boot = m:vmstat().nr_free_pages
local pageblocks_boot = zone_row(zone).pageblocks

------------------------------------------------------------------------------
section("2. Fill memory with small blocks of mixed kinds")

-- Three kinds of kernel allocations, one per migrate type: the allocator
-- keeps each kind in its own pageblocks where it can ("grouping by
-- mobility"), and steals a pageblock from another kind when it must.
local kinds = {
  { gfp = "GFP_KERNEL", name = "Unmovable" },
  { gfp = "GFP_HIGHUSER_MOVABLE", name = "Movable" },
  { gfp = "GFP_KERNEL|__GFP_RECLAIMABLE", name = "Reclaimable" },
}
-- Orders 0..3 (4 KiB to 32 KiB), weighted 8:4:2:1 toward order 0.
local ORDERS = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3 }

local blocks = {}
local allocated_pages = 0
while true do
  local order = ORDERS[rand(#ORDERS) + 1]
  local kind = kinds[rand(#kinds) + 1]
  local pfn, err = m:alloc_pages(order, kind.gfp)
  if not pfn and order > 0 then
    order = 0
    pfn, err = m:alloc_pages(0, kind.gfp)
  end
  if not pfn then
    assert(err == "ENOMEM", "a full machine answers ENOMEM, got " .. tostring(err))
    break
  end
  blocks[#blocks + 1] = { pfn = pfn, order = order }
  allocated_pages = allocated_pages + (1 << order)
end

say("allocated %d blocks (%d pages, %d KiB) until an order-0 allocation",
    #blocks, allocated_pages, allocated_pages * info.page_size // 1024)
say("failed with ENOMEM. MemFree is now %d kB: the zones' reserves.", memfree_kb(m))
print()
print("zone      free    min    low  (pages)")
for _, z in ipairs(m:zones()) do
  if z.populated then
    local reserve = 0 -- lowmem_reserve: what a zone keeps from higher zones' requests
    for _, pages in ipairs(z.protection) do reserve = math.max(reserve, pages) end
    say("%-6s %7d %6d %6d", z.name, z.free, z.min, z.low)
    assert(z.free <= z.min + reserve,
           z.name .. ": a GFP_KERNEL allocation fails only at the min watermark")
  end
end
print("An ordinary allocation may not take a zone below its min watermark")
print("(nor DMA below min plus the lowmem_reserve it keeps against DMA32")
print("requests): that memory is for GFP_ATOMIC and for reclaim itself.")

print()
say("pageblocks of zone %s by migrate type, at boot and now:", zone)
local pageblocks_full = zone_row(zone).pageblocks
for _, mt in ipairs(MIGRATE_TYPES) do
  say("  %-12s %4d -> %4d", mt, pageblocks_boot[mt] or 0, pageblocks_full[mt] or 0)
end
assert((pageblocks_full.Unmovable or 0) > 0 and (pageblocks_full.Reclaimable or 0) > 0,
       "Unmovable and Reclaimable allocations claim pageblocks of their own")
print("At boot every pageblock is Movable; Unmovable and Reclaimable")
print("allocations claimed whole pageblocks for their type when they fell back.")

------------------------------------------------------------------------------
section("3. Free a random half")

local kept, freed_pages = {}, 0
for _, b in ipairs(blocks) do
  if rand(2) == 0 then
    m:free_pages(b.pfn, b.order)
    freed_pages = freed_pages + (1 << b.order)
  else
    kept[#kept + 1] = b
  end
end
say("freed %d blocks (%d pages); %d blocks stay allocated", #blocks - #kept,
    freed_pages, #kept)
print("Linux keeps freed pages of order 0..3 on per-CPU lists, outside buddyinfo,")
print("so m:drain_pages() gives them back to the buddy lists first (drain_all_pages).")
assert(m:drain_pages())

print()
print("/proc/buddyinfo now:")
io.write(m:proc("buddyinfo"))
print("Free memory is back, but in small blocks: almost every 2 MiB region")
print("still holds a block in use, so its buddies cannot merge.")

------------------------------------------------------------------------------
section("4. Plenty of memory free, no 2 MiB block")

local memfree = memfree_kb(m)
local huge_kb = (info.page_size << 9) // 1024
say("MemFree: %d kB = %d times an order-9 block (%d kB)", memfree,
    memfree // huge_kb, huge_kb)
assert(memfree >= 10 * huge_kb,
       "MemFree should be many times 2 MiB after freeing half, is " .. memfree .. " kB")

local pfn, err, errno = m:alloc_pages(9, "GFP_KERNEL|__GFP_NORETRY")
say('m:alloc_pages(9, "GFP_KERNEL|__GFP_NORETRY") --> %s, %s, %s',
    tostring(pfn), tostring(err), tostring(errno))
assert(pfn == nil and err == "ENOMEM" and errno == 12,
       "an order-9 allocation must fail with ENOMEM in fragmented memory")
print("memlab has no compaction yet, and __GFP_NORETRY forbids retrying:")
print("the allocation fails although the memory is there.")

print()
say("fragmentation index of zone %s (mm/vmstat.c; -1 means an allocation of", zone)
print("that order would succeed, near 0 that it fails for lack of memory,")
print("near 1 that it fails because free memory is fragmented):")
local frag_now = frag_indices()
say("  %5s %8s %8s", "order", "boot", "now")
for order = 0, info.max_order do
  say("  %5d %8.3f %8.3f", order, frag_boot[order], frag_now[order])
end
assert(frag_boot[9] == -1, "at boot an order-9 allocation would succeed")
assert(frag_now[9] > 0.5, "the order-9 failure is due to fragmentation (index > 0.5)")
say("The order-9 index %.3f is above extfrag_threshold (0.500): here Linux", frag_now[9])
print("would compact memory (move pages) rather than reclaim it.")

local unusable = m:unusable_index(zone, 9)
say("unusable free space index for order 9: %.3f (the share of free memory", unusable)
print("that cannot serve an order-9 request)")
assert(unusable > 0.99, "no free memory of zone " .. zone .. " can serve order 9")

------------------------------------------------------------------------------
section("5. Free everything: the buddies merge back")

for _, b in ipairs(kept) do
  m:free_pages(b.pfn, b.order)
end
assert(m:drain_pages()) -- the per-CPU lists back to the buddy lists, as above
local buddyinfo_end = m:proc("buddyinfo")
io.write(buddyinfo_end)
assert(m:vmstat().nr_free_pages == free_boot, "every page is free again")
assert(buddyinfo_end == buddyinfo_boot, "buddyinfo is back to its boot state")
print("Identical to boot: every freed block merged with its buddy, up to order 10.")

pfn, err = m:alloc_pages(9, "GFP_KERNEL|__GFP_NORETRY")
assert(pfn, "an order-9 allocation succeeds again, got " .. tostring(err))
say('m:alloc_pages(9, "GFP_KERNEL|__GFP_NORETRY") --> pfn %d (0x%x), 2 MiB aligned',
    pfn, pfn)
assert(pfn % 512 == 0, "an order-9 block starts at a multiple of 512 frames")
m:free_pages(pfn, 9)

assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true: the free lists and counters are consistent.")
