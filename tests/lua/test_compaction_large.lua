-- test_compaction_large.lua: compaction moves large folios (Linux 6.10+):
-- an mTHP or a page-cache folio smaller than the order sought moves whole
-- to a free block of its order; one partly unmapped, or one that finds no
-- block of its order, is split and its pages move one by one.  The host
-- (Linux 6.18, x86-64, /proc/sys/vm/compact_memory over 64K folios with
-- 64K holes) moved folios both ways: 5,083 of them whole, and split
-- 42,414 for want of a target; its mlocked 64K folios moved whole came
-- out neither mlocked nor unevictable.
--
-- Run from the source root:  build/memlab run tests/lua/test_compaction_large.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local K, MB = 1024, 1024 * 1024
local PAGE = 4096
local BASE = 0x7e0000000000
local N = 4096			-- pages of the region: 256 folios of 64K

local function machine(opts)
  local o = { ram = "64M", seed = 1 }
  for k, v in pairs(opts or {}) do o[k] = v end
  local m = memlab.new(o)
  m:thp{ enabled = "never", hugepages = { ["64kB"] = "always" } }
  return m
end

local function text(i) return "page " .. i end

-- 64K folios over N pages at BASE, each page written with its number;
-- lock: mlocked; then every other folio unmapped, leaving 64K holes.
local function folios(m, lock)
  local p = m:spawn{ name = "f", aslr = false, root = true }
  assert(p:mmap(BASE, N * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, N - 1 do assert(p:write(BASE + i * PAGE, text(i))) end
  if lock then assert(p:mlock(BASE, N * PAGE)) end
  for i = 0, N - 1, 32 do assert(p:munmap(BASE + i * PAGE, 16 * PAGE)) end
  return p
end

-- The first frame each kept folio's first page maps, by page number.
local function heads(p)
  local t = {}
  for i = 16, N - 1, 32 do t[i] = p:translate(BASE + i * PAGE).pfn end
  return t
end

-- The kept folios that moved whole: a 64K folio at a new frame.
local function moved_whole(m, p, before)
  local t = {}
  for i = 16, N - 1, 32 do
    local pfn = p:translate(BASE + i * PAGE).pfn
    if pfn ~= before[i] and m:page(pfn).folio == pfn and m:page(pfn).order == 4 then
      t[#t + 1] = i
    end
  end
  return t
end

local function all_read_back(p, skip)
  for i = 16, N - 1, 32 do
    for j = 0, 15 do
      if j ~= skip and p:read(BASE + (i + j) * PAGE, #text(i + j)) ~= text(i + j) then
        return false
      end
    end
  end
  return true
end

local function stats(m) return m:thp().hugepages["64kB"].stats end

TestCompactionLarge = {}

-- compact_memory moves 64K folios whole into the 64K holes above them:
-- each page's PTE maps its counterpart in the new folio, exclusive as
-- before, the folio keeps its size and references, pgmigrate_success
-- counts its pages.  The folios that found no block of their order were
-- split, and their pages are small now.
function TestCompactionLarge:test_folios_move_whole()
  local m <close> = machine()
  local p = folios(m)
  local before, v0, s0 = heads(p), m:vmstat(), stats(m)
  lu.assertEquals(s0.nr_anon, 128)
  lu.assertTrue(m:compact())
  local whole, v1, s1 = moved_whole(m, p, before), m:vmstat(), stats(m)
  lu.assertTrue(#whole >= 32)
  lu.assertTrue(s1.split > 0)				-- the scanners met: no targets left
  lu.assertEquals(s1.nr_anon, 128 - s1.split)
  -- unmapped PTE by PTE, each folio was partially mapped on the way, and
  -- 6.18.y queued its new folio so: split_deferred twice for each moved
  -- whole, once for each split (its unmap), as on the host
  lu.assertEquals(s1.nr_anon_partially_mapped, #whole)
  lu.assertEquals(s1.split_deferred - s0.split_deferred, 2 * #whole + s1.split)
  lu.assertEquals(v1.nr_isolated_anon, 0)
  lu.assertTrue(v1.pgmigrate_success - v0.pgmigrate_success >= 16 * #whole)
  lu.assertTrue(all_read_back(p))
  local i = whole[1]
  local head = p:translate(BASE + i * PAGE).pfn
  lu.assertEquals(head % 16, 0)
  for j = 0, 15 do
    local w = p:translate(BASE + (i + j) * PAGE)
    lu.assertEquals(w.pfn, head + j)
    lu.assertEquals(w.flags, "P RW US A D NX")
    lu.assertTrue(m:page(head + j).anon_exclusive)
    lu.assertEquals(m:page(head + j).mapcount, 1)
  end
  lu.assertEquals(m:page(head).refcount, 16)
  local f = m:kpageflags(head, 2)
  lu.assertTrue(f[1].compound_head and f[1].thp and f[2].compound_tail)
  for k = 0, 15 do lu.assertTrue(m:page(before[i] + k).free) end	-- the old frames
  for _, i2 in ipairs(whole) do lu.assertEquals(m:page(p:translate(BASE + i2 * PAGE).pfn).order, 4) end
  lu.assertTrue(m:check())
end

-- A folio partly unmapped sits on the deferred split queue: migration
-- splits it first (migrate_pages_batch), counted as one failed folio and
-- one large_folio_split, and moves its pages; the unmapped page the split
-- frees counts as migrated when the split pages' round reaches it.  None
-- of them moves whole.
function TestCompactionLarge:test_partly_mapped_folio_splits_first()
  local m <close> = machine()
  local p = folios(m)
  for i = 16, N - 1, 32 do assert(p:munmap(BASE + (i + 15) * PAGE, PAGE)) end
  lu.assertEquals(stats(m).nr_anon_partially_mapped, 128)
  local before, before_pages, v0 = heads(p), {}, m:vmstat()
  for i = 16, N - 1, 32 do
    for j = 0, 14 do before_pages[i + j] = p:translate(BASE + (i + j) * PAGE).pfn end
  end
  m:trace{ events = { "mm_migrate_pages" }, size = 4096 }
  lu.assertTrue(m:compact())
  local s = stats(m)
  lu.assertTrue(s.split > 0)
  lu.assertEquals(s.nr_anon, 128 - s.split)
  lu.assertEquals(s.nr_anon_partially_mapped, s.nr_anon)
  lu.assertEquals(#moved_whole(m, p, before), 0)
  local split = 0
  for _, e in ipairs(m:trace_events()) do split = split + e.large_folio_split end
  lu.assertEquals(split, s.split)
  local small = 0
  for i = 16, N - 1, 32 do
    local pfn = p:translate(BASE + i * PAGE).pfn
    if m:page(pfn).order == 0 then small = small + 1 end
  end
  lu.assertEquals(small, s.split)
  -- the unmapped page each split freed counts as migrated only if the
  -- round of split pages reached it before it ran out of targets
  local moved = 0
  for i = 16, N - 1, 32 do
    for j = 0, 14 do
      if p:translate(BASE + (i + j) * PAGE).pfn ~= before_pages[i + j] then moved = moved + 1 end
    end
  end
  local success = m:vmstat().pgmigrate_success - v0.pgmigrate_success
  lu.assertTrue(success > moved and success < moved + s.split)
  lu.assertTrue(all_read_back(p, 15))
  lu.assertEquals(m:vmstat().nr_isolated_anon, 0)
  lu.assertTrue(m:check())
end

-- Direct compaction for order 4 never takes a 64K folio (order >= the
-- order sought: skip_isolation_on_order); for order 5 it does, and with
-- only order-0 holes as targets the folios are split.  (Filling memory
-- woke kcompactd, which split some folios already, for the same want.)
function TestCompactionLarge:test_order_sought_bounds_the_folios_taken()
  local function attempt(order)
    local m <close> = machine()
    local p = m:spawn{ name = "f", aslr = false }
    local L, S = BASE, BASE + 0x10000000
    assert(p:mmap(L, 2048 * PAGE, "rw", "private|anonymous|fixed"))
    assert(p:mmap(S, 2048 * PAGE, "rw", "private|anonymous|fixed"))
    assert(p:madvise(S, 2048 * PAGE, "nohugepage"))
    for i = 0, 2047, 16 do			-- a folio, then 16 small pages, in turn
      for j = 0, 15 do assert(p:write(L + (i + j) * PAGE, text(i + j))) end
      for j = 0, 15 do assert(p:write(S + (i + j) * PAGE, text(i + j))) end
    end
    for i = 0, 2047, 2 do assert(p:munmap(S + i * PAGE, PAGE)) end
    m:drain_pages()
    while m:alloc_pages(4, "atomic|nowarn") do end	-- no free block of order >= 4
    local before = {}
    for i = 0, 2047, 16 do
      local pfn = p:translate(L + i * PAGE).pfn
      if m:page(pfn).order == 4 then before[i] = pfn end
    end
    local v0, s0 = m:vmstat(), stats(m).split
    lu.assertNil(m:alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_NORETRY|__GFP_NOWARN"))
    lu.assertTrue(m:vmstat().compact_stall > v0.compact_stall)
    local was, kept = 0, 0
    for i, pfn in pairs(before) do
      was = was + 1
      if p:translate(L + i * PAGE).pfn == pfn and m:page(pfn).order == 4 then kept = kept + 1 end
    end
    for i = 0, 2047 do lu.assertEquals(p:read(L + i * PAGE, #text(i)), text(i)) end
    lu.assertTrue(m:check())
    return stats(m).split - s0, kept, was
  end
  local split, kept, was = attempt(4)
  lu.assertTrue(was >= 100)
  lu.assertEquals(split, 0)
  lu.assertEquals(kept, was)
  split, kept, was = attempt(5)
  lu.assertTrue(split > 0)
  lu.assertEquals(kept, was - split)
end

-- A page-cache folio moves whole too: its cache slots, its mapping's
-- PTEs and its dirty page follow; one that finds no block of its order
-- is split, which unmaps it (a file folio's split does).
function TestCompactionLarge:test_file_folio_moves_whole()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  m:thp{ enabled = "never" }
  local bytes = {}
  for i = 0, 1023 do
    local b = "block " .. i
    bytes[#bytes + 1] = b .. string.rep(" ", PAGE - #b)
  end
  local f = m:file{ name = "f", size = 4 * MB, writable = true, large_folios = true,
                    contents = table.concat(bytes) }
  for i = 0, 63 do f:read(i * 64 * K, 64 * K) end	-- readahead: folios up to 128K
  local q = m:spawn{ name = "q", aslr = false }
  local a = assert(q:mmap(nil, 4 * MB, "rw", "shared", f, 0))
  q:touch(a, 4 * MB, "r")
  local before = {}
  for _, fo in ipairs(f:folios()) do before[fo.index] = fo end
  assert(q:write(a + 740 * PAGE, "dirty"))		-- in the folio at 736
  lu.assertEquals(before[736].pages, 32)
  local p = m:spawn{ name = "h", aslr = false }	-- 64K holes above the file
  assert(p:mmap(BASE, N * PAGE, "rw", "private|anonymous|fixed"))
  p:touch(BASE, N * PAGE, "w")
  for i = 0, N - 1, 32 do assert(p:munmap(BASE + i * PAGE, 16 * PAGE)) end
  local v0 = m:vmstat()
  lu.assertTrue(m:compact())
  local after = {}
  for _, fo in ipairs(f:folios()) do after[fo.index] = fo end
  local fo = after[736]
  lu.assertNotEquals(fo.pfn, before[736].pfn)
  lu.assertEquals(fo.pages, 32)
  lu.assertTrue(fo.dirty)
  for k = 0, 31 do lu.assertEquals(q:translate(a + (736 + k) * PAGE).pfn, fo.pfn + k) end
  lu.assertEquals(q:read(a + 740 * PAGE, 5), "dirty")
  lu.assertEquals(f:read(741 * PAGE, 9), "block 741")
  lu.assertEquals(m:vmstat().nr_dirty, v0.nr_dirty)
  lu.assertEquals(m:vmstat().nr_file_pages, v0.nr_file_pages)
  lu.assertEquals(m:vmstat().nr_isolated_file, 0)
  local split = after[992].pages == 1	-- the last folio found no target: split and unmapped
  lu.assertTrue(split)
  lu.assertFalse(q:translate(a + 992 * PAGE).present)
  lu.assertEquals(q:read(a + 992 * PAGE, 9), "block 992")
  lu.assertTrue(m:check())
end

-- On arm64 the moved folio's PTEs form a contiguous block again: the
-- first remapped entry unfolds the old block, the sixteenth folds the new
-- one (set_ptes of one entry, contpte_try_fold).
function TestCompactionLarge:test_arm64_block_folds_again()
  local m <close> = machine{ arch = "arm64", page_size = "4K", va_bits = 48 }
  local p = folios(m)
  local before = heads(p)
  lu.assertTrue(p:translate(BASE + 16 * PAGE).cont)
  lu.assertTrue(m:compact())
  local whole = moved_whole(m, p, before)
  lu.assertTrue(#whole > 0)
  for _, i in ipairs(whole) do
    for j = 0, 15 do lu.assertTrue(p:translate(BASE + (i + j) * PAGE).cont) end
  end
  lu.assertTrue(all_read_back(p))
  lu.assertTrue(m:check())
end

-- An mlocked 64K folio moves whole, and comes out neither mlocked nor
-- unevictable, as on the host (tests/diff/diff_compact.c asks it of
-- both): each locked PTE's removal munlocks the isolated folio
-- (unevictable_pgs_stranded), and 6.18 mlocks a large folio again only
-- in mlock's or reclaim's walk, not when it is remapped; on the LRU it is
-- evictable (unevictable_pgs_rescued).  One split for want of a target
-- leaves small pages, mlocked.
function TestCompactionLarge:test_mlocked_folio_moves_unlocked()
  local m <close> = machine()
  local p = folios(m, true)
  local before, v0 = heads(p), m:vmstat()
  lu.assertTrue(m:page(before[16]).mlocked)
  lu.assertTrue(m:compact())
  local whole, v1 = moved_whole(m, p, before), m:vmstat()
  lu.assertTrue(#whole > 0)
  for _, i in ipairs(whole) do
    local pg = m:page(p:translate(BASE + i * PAGE).pfn)
    lu.assertFalse(pg.mlocked)
    lu.assertFalse(pg.unevictable)
  end
  local split = 0				-- small pages are mlocked again as they are remapped
  for i = 16, N - 1, 32 do
    local pg = m:page(p:translate(BASE + i * PAGE).pfn)
    if pg.order == 0 then
      split = split + 1
      lu.assertTrue(pg.mlocked)
    end
  end
  lu.assertTrue(split > 0)
  lu.assertEquals(v1.unevictable_pgs_stranded - v0.unevictable_pgs_stranded, 16 * #whole)
  lu.assertEquals(v1.unevictable_pgs_rescued - v0.unevictable_pgs_rescued, 16 * #whole)
  lu.assertEquals(v0.nr_mlock - v1.nr_mlock, 16 * #whole)
  lu.assertTrue(all_read_back(p))
  lu.assertTrue(m:check())
end

-- A pageblock of 16K folios and only order-0 holes as targets: the batch
-- that finishes the pageblock isolates 120 folios, each split into four
-- pages that wait for their round -- all of them: Linux's list of split
-- folios has no bound, and memlab's room for them is a pageblock's.
-- (With too little room, a split refused ended the run contended.)
function TestCompactionLarge:test_a_pageblock_of_splits_fits()
  local m <close> = memlab.new{ ram = "64M", seed = 1 }
  m:thp{ enabled = "never", hugepages = { ["16kB"] = "always" } }
  local p = m:spawn{ name = "f", aslr = false }
  assert(p:mmap(BASE, N * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, N - 1 do assert(p:write(BASE + i * PAGE, text(i))) end
  local q = m:spawn{ name = "h", aslr = false }
  local H, HOLES = 9000, BASE + 0x10000000
  assert(q:mmap(HOLES, H * PAGE, "rw", "private|anonymous|fixed"))
  assert(q:madvise(HOLES, H * PAGE, "nohugepage"))
  q:touch(HOLES, H * PAGE, "w")
  for i = 0, H - 1, 2 do assert(q:munmap(HOLES + i * PAGE, PAGE)) end
  m:drain_pages()
  m:trace{ events = { "mm_migrate_pages", "mm_compaction_end" }, size = 1 << 16 }
  lu.assertTrue(m:compact())
  local most, status = 0, {}
  for _, e in ipairs(m:trace_events()) do
    if e.event == "mm_migrate_pages" and e.large_folio_split > most then most = e.large_folio_split end
    if e.event == "mm_compaction_end" then status[#status + 1] = e.status end
  end
  lu.assertEquals(most, 120)
  lu.assertEquals(status, { 5, 5 })			-- COMPACT_COMPLETE, both zones
  for i = 0, N - 1 do lu.assertEquals(p:read(BASE + i * PAGE, #text(i)), text(i)) end
  lu.assertTrue(m:check())
end

-- The round of the split folios' pages runs out of targets (the zone at
-- its min watermark: __isolate_free_page refuses): Linux ignores that
-- round's -ENOMEM (migrate_pages() drops its result), so compaction puts
-- the pages back and goes on splitting the next partly mapped folios.
function TestCompactionLarge:test_split_round_out_of_targets_goes_on()
  local m <close> = machine()
  local n = 2048
  local p = m:spawn{ name = "f", aslr = false }
  assert(p:mmap(BASE, n * PAGE, "rw", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, text(i))) end
  m:drain_pages()
  local function dma32()
    for _, z in ipairs(m:zones()) do if z.name == "DMA32" then return z end end
  end
  while dma32().free > dma32().min do
    for _ = 1, 50 do m:alloc_pages(0, "atomic|nowarn") end
  end
  for i = 0, n - 1, 16 do assert(p:munmap(BASE + (i + 15) * PAGE, PAGE)) end
  local s0 = stats(m)		-- kcompactd, woken by the allocations, split some already
  lu.assertTrue(s0.nr_anon_partially_mapped > 64)
  lu.assertTrue(m:compact())
  lu.assertTrue(stats(m).split - s0.split >= 64)	-- 2 when the first -ENOMEM ended the run
  for i = 0, n - 1 do
    if i % 16 ~= 15 then lu.assertEquals(p:read(BASE + i * PAGE, #text(i)), text(i)) end
  end
  lu.assertTrue(m:check())
end

-- A dirty page-cache folio that finds no block of its order cannot be
-- split either (ext4's dirty buffers stay: split_failed), so
-- migrate_pages() returns -ENOMEM and the zone's compaction ends there,
-- contended, the scanners apart.  Written back (m:sync()), the folio
-- splits and compaction goes on.  The host does both: with a file of
-- dirty 64K folios among its regions, tests/diff/diff_compact.c saw
-- compact_memory move 0 to 6 of 36,000 folios; written back, half of them.
function TestCompactionLarge:test_dirty_file_folio_without_target_ends_the_run()
  local function setup(sync)
    local m = memlab.new{ ram = "64M", seed = 1 }
    m:thp{ enabled = "never" }
    local f = m:file{ name = "f", size = 0, writable = true, large_folios = true }
    local p = m:spawn{ name = "f", aslr = false }
    assert(p:mmap(BASE, 8192 * PAGE, "rw", "private|anonymous|fixed"))
    for i = 0, 8191, 16 do				-- a 64K folio of the file, then 16 small pages
      if i % 64 == 0 then assert(f:write(i // 64 * 16 * PAGE, string.rep("d", 16 * PAGE))) end
      for j = 0, 15 do assert(p:write(BASE + (i + j) * PAGE, text(i + j))) end
    end
    for i = 0, 8191, 2 do assert(p:munmap(BASE + i * PAGE, PAGE)) end	-- order-0 holes
    if sync then m:sync() end
    m:drain_pages()
    while m:alloc_pages(4, "atomic|nowarn") do end	-- no block of order >= 4 left
    local s0 = m:thp().hugepages["64kB"].stats
    m:trace{ events = { "mm_compaction_end" }, size = 64 }
    lu.assertTrue(m:compact())
    local status = {}
    for _, e in ipairs(m:trace_events()) do status[#status + 1] = e.status end
    local s1 = m:thp().hugepages["64kB"].stats
    lu.assertTrue(m:check())
    m:close()
    return status, s1.split_failed - s0.split_failed, s1.split - s0.split
  end
  local status, failed, split = setup(false)
  lu.assertEquals(status, { 5, 7 })		-- DMA complete; DMA32 COMPACT_CONTENDED
  lu.assertEquals(failed, 1)
  lu.assertEquals(split, 0)
  status, failed, split = setup(true)
  lu.assertEquals(status, { 5, 5 })
  lu.assertEquals(failed, 0)
  lu.assertTrue(split > 0)
end

os.exit(lu.LuaUnit.run())
