-- Memory compaction: moving pages to make a free 2 MiB block
--
-- A process touches 44 MiB page by page, then unmaps every other page.
-- Half of that memory is free again, but in single 4 KiB holes between
-- pages still in use: /proc/buddyinfo shows thousands of order-0 blocks
-- and a fragmentation index near 1000 for order 9 (2 MiB) in zone DMA32.
-- Writing 1 to /proc/sys/vm/compact_memory (m:compact()) runs Linux's two
-- scanners over each zone (mm/compaction.c): the migrate scanner moves the
-- process's pages from the bottom of the zone into free frames the free
-- scanner found at the top.  The process does not notice: its page-table
-- entries now name other frames, with the same bits and the same bytes.
-- Then 64K folios (mTHP): each moves whole to a free 64K block, or is
-- split when none is left for it.  Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end

local PAGE, BASE, N = 4096, 0x7e0000000000, 11264

local m = memlab.new{ arch = "x86_64", ram = "64M", seed = 7 }
-- THP off: with it on, khugepaged would keep 11 pageblocks a zone free
-- (min_free_kbytes 3148 kB on this 64 MiB machine, not 1015), and this lab's
-- workload is sized for the smaller reserve.
m:thp{ enabled = "never" }

-- The DMA32 row of /proc/buddyinfo as numbers, order 0 first.
local function buddy_row()
  m:drain_pages()   -- freed pages may wait on the per-CPU lists
  local row, line = {}, m:proc("buddyinfo"):match("zone%s+DMA32([^\n]*)")
  for n in line:gmatch("%d+") do row[#row + 1] = tonumber(n) end
  return row
end

local function show_buddyinfo(title)
  print(title)
  io.write(m:proc("buddyinfo"))
end

local function blocks_of_order(row, order)
  local n = 0
  for o = order, #row - 1 do n = n + row[o + 1] end
  return n
end

------------------------------------------------------------------------------
section("1. Fragment memory with a process")

local p = m:spawn{ name = "holes", aslr = false }
assert(p:mmap(BASE, N * PAGE, "rw", "private|anonymous|fixed"))
for i = 0, N - 1 do assert(p:write(BASE + i * PAGE, "page " .. i)) end
for i = 0, N - 1, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end
m:lru_add_drain_all()	-- the last pages written waited in the CPU's lru_add batch
say("%d pages written, every other one unmapped: %d KiB free in 4 KiB holes",
    N, N // 2 * PAGE // 1024)

local before = buddy_row()
show_buddyinfo("/proc/buddyinfo, fragmented:")
local frag_before = m:fragmentation_index("DMA32", 9)
say("order-0 blocks in DMA32: %d; fragmentation index for order 9: %.3f",
    before[1], frag_before)
assert(before[1] >= N // 2, "every unmapped page is an order-0 hole")
assert(frag_before > 0.5, "an order-9 failure would be from fragmentation, not lack of memory")

local frame_of = {}
for i = 1, N - 1, 2 do frame_of[i] = p:translate(BASE + i * PAGE).pfn end

------------------------------------------------------------------------------
section("2. echo 1 > /proc/sys/vm/compact_memory")

local v0 = m:vmstat()
m:trace{ events = { "mm_compaction_begin", "mm_compaction_end", "mm_migrate_pages" } }
assert(m:compact())
local v1 = m:vmstat()
local after = buddy_row()
show_buddyinfo("/proc/buddyinfo, compacted:")
for _, name in ipairs{ "compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
                       "pgmigrate_success", "pgmigrate_fail", "compact_stall" } do
  say("  %-24s %+d", name, v1[name] - v0[name])
end
assert(v1.pgmigrate_success > v0.pgmigrate_success, "pages moved")
assert(v1.compact_stall == v0.compact_stall, "compact_memory is not direct compaction")
assert(after[1] < before[1] // 2, "most order-0 holes merged")
assert(blocks_of_order(after, 9) > blocks_of_order(before, 9), "new free 2 MiB blocks")
local frag_after = m:fragmentation_index("DMA32", 9)
say("fragmentation index for order 9: %.3f (-1.000: an order-9 allocation succeeds)",
    frag_after)
assert(frag_after == -1)

print()
print("The trace, per zone (mm_compaction_begin/end as ftrace prints them):")
for line in m:trace_dump("text"):gmatch("[^\n]+") do
  if line:find("mm_compaction_") then print("  " .. line:match("(mm_compaction_.*)")) end
end
assert(m:trace_dump("text"):find("status=complete"), "the scanners met")
m:trace(false)

------------------------------------------------------------------------------
section("3. The process did not notice")

local moved = 0
for i = 1, N - 1, 2 do
  local s = "page " .. i
  assert(p:read(BASE + i * PAGE, #s) == s, "page " .. i .. " kept its bytes")
  local w = p:translate(BASE + i * PAGE)
  assert(w.flags == "P RW US A D NX", "the entry kept its bits")
  if w.pfn ~= frame_of[i] then moved = moved + 1 end
end
say("%d of its %d pages now live in other frames, same bytes, same PTE bits;",
    moved, N // 2)
say("pgmigrate_success says %d.", v1.pgmigrate_success - v0.pgmigrate_success)
assert(moved == v1.pgmigrate_success - v0.pgmigrate_success)
assert(m:check())

------------------------------------------------------------------------------
section("4. Large folios move whole, or are split")

-- A second machine whose process memory is 64K folios (mTHP), every
-- other one unmapped: the holes are 64K blocks.  Linux 6.10+ migrates a
-- folio smaller than the order sought (any below a pageblock for
-- compact_memory) whole, to a free block of its order; when the free
-- scanner has none left for it, the folio is split and its pages move
-- one by one.
local m2 = memlab.new{ arch = "x86_64", ram = "64M", seed = 7 }
m2:thp{ enabled = "never", hugepages = { ["64kB"] = "always" } }
local q = m2:spawn{ name = "folios", aslr = false }
local NF = 4096
assert(q:mmap(BASE, NF * PAGE, "rw", "private|anonymous|fixed"))
for i = 0, NF - 1 do assert(q:write(BASE + i * PAGE, "page " .. i)) end
for i = 0, NF - 1, 32 do assert(q:munmap(BASE + i * PAGE, 16 * PAGE)) end
local head_of = {}
for i = 16, NF - 1, 32 do head_of[i] = q:translate(BASE + i * PAGE).pfn end
local s0, w0 = m2:thp().hugepages["64kB"].stats, m2:vmstat()
say("%d folios of 64K, %d of them unmapped again; hugepages-64kB nr_anon %d",
    NF // 16, NF // 32, s0.nr_anon)
assert(m2:compact())
local s1, w1 = m2:thp().hugepages["64kB"].stats, m2:vmstat()
local stayed, whole, split = 0, 0, 0
for i = 16, NF - 1, 32 do
  local pfn = q:translate(BASE + i * PAGE).pfn
  local pg = m2:page(pfn)
  if pg.order == 0 then
    split = split + 1
  elseif pfn == head_of[i] then
    stayed = stayed + 1
  else
    assert(pg.folio == pfn and pg.order == 4 and pfn % 16 == 0, "moved whole: an aligned 64K folio")
    whole = whole + 1
  end
  for j = 0, 15 do
    local str = "page " .. (i + j)
    assert(q:read(BASE + (i + j) * PAGE, #str) == str, "every page kept its bytes")
  end
end
say("after compact_memory: %d folios moved whole, %d split, %d stayed", whole, split, stayed)
say("  hugepages-64kB split %+d, nr_anon %d; pgmigrate_success %+d",
    s1.split - s0.split, s1.nr_anon, w1.pgmigrate_success - w0.pgmigrate_success)
assert(whole > 0 and split > 0)
assert(s1.split - s0.split == split and s1.nr_anon == s0.nr_anon - split)
assert(m2:check())
print("The host (Linux 6.18, tests/diff/diff_compact.c) does both too, and")
print("splits far more: its free scanner also meets the small free pieces of")
print("everything else the machine holds, which count towards the pages it")
print("must find, and a folio then finds no block of its order.")

print()
print("Compaction can only move what Linux can migrate: folios on the LRU lists")
print("(process memory, the page cache) below a pageblock's size.  Kernel")
print("allocations, page tables and PMD-sized THPs stay where they are, and a")
print("pageblock holding one never becomes free.")
