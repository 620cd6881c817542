-- test_contpte.lua: arm64's contiguous PTEs as Linux 6.18 manages them for
-- user memory (arch/arm64/mm/contpte.c, CONFIG_ARM64_CONTPTE): which
-- mappings get PTE_CONT, which operations keep, unfold or fold a block,
-- and the TLB caching a block as one entry.  Every machine runs with
-- debug_vm: m:check() after every call checks each block (all its
-- entries valid and PTE_CONT, one folio's aligned frames, equal
-- permissions) and each TLB entry against the tables.
--
-- Run from the source root:  build/memlab run tests/lua/test_contpte.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local K, MiB = 1024, 1024 * 1024
local PAGE = 4096
local BASE = 0x7e0000000000

local function machine(opts)
  local o = { arch = "arm64", page_size = "4K", va_bits = 48, ram = "256M", seed = 1,
              debug_vm = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  local m = memlab.new(o)
  m:thp{ enabled = "never" }
  return m
end

local function setup(m, len, at)
  local p = m:spawn{ name = "cont", aslr = false }
  assert(p:mmap(at or BASE, len or MiB, "rw-", "private|anonymous|fixed_noreplace"))
  return p
end

-- The PTE_CONT bits of n pages from addr, as a string of 0 and 1 (- unmapped).
local function cont(p, addr, n, page)
  local s = {}
  for i = 0, n - 1 do
    local w = p:translate(addr + i * (page or PAGE))
    s[#s + 1] = not w.present and "-" or w.cont and "1" or "0"
  end
  return table.concat(s)
end

-- A process whose first 64 kB at BASE are one 64kB folio, a block on arm64
-- (the 64kB size "always" on m).
local function block(m)
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:touch(BASE, 1, "w"))
  return p
end

-- The same block made lazily free (clean, old), then page 5 written again.
local function lazyfree_block(m)
  local p = block(m)
  assert(p:madvise(BASE, 16 * PAGE, "free"))
  assert(p:touch(BASE + 5 * PAGE, 1, "w"))
  return p
end

local ALL, NONE = string.rep("1", 16), string.rep("0", 16)

local function l1d(m, cpu)
  for _, t in ipairs(m:tlb_stats()[(cpu or 0) + 1].tlbs) do
    if t.name == "L1d" then return t end
  end
end

TestContPTE = {}

-- A 64K folio's fault maps a block: 16 PTEs with PTE_CONT, shown in the
-- flags; a 32K folio, half a block, and small pages do not.
function TestContPTE:test_fault_maps_a_block()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:touch(BASE + 5 * PAGE, 1, "w"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertStrContains(p:translate(BASE).flags, "DBM CONT PXN")
  lu.assertTrue(p:pte(BASE + 15 * PAGE).cont)
  m:thp{ hugepages = { ["64kB"] = "never", ["32kB"] = "always" } }
  assert(p:touch(BASE + 16 * PAGE, 1, "w"))
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), "00000000--------")
  m:thp{ hugepages = { ["32kB"] = "never" } }
  assert(p:touch(BASE + 32 * PAGE, 16 * PAGE, "w"))
  lu.assertEquals(cont(p, BASE + 32 * PAGE, 16), NONE)
end

-- x86-64 has no contiguous bit; a read fault's zero page is never a block.
function TestContPTE:test_none_on_x86_or_for_the_zero_page()
  local m <close> = machine{ arch = "x86_64", va_bits = 48 }
  local p = block(m)
  lu.assertEquals(cont(p, BASE, 16), NONE)
  local a <close> = machine()
  local q = setup(a)
  assert(q:touch(BASE, 16 * PAGE, "r"))
  lu.assertEquals(cont(q, BASE, 16), NONE)
  lu.assertTrue(q:translate(BASE).special)
end

-- The TLB caches a block as one 64K entry: reading its 16 pages misses
-- once; small pages miss 16 times.  The default arm64 TLBs hold the size.
function TestContPTE:test_one_tlb_entry_per_block()
  local m <close> = machine()
  lu.assertEquals(m:tlb_stats()[1].tlbs[2].sizes, { "4K", "64K", "2M", "1G" })
  local p = block(m)
  assert(p:touch(BASE + 16 * PAGE, 16 * PAGE, "w"))	-- another block
  m:tlb_flush_all()
  local before = l1d(m).misses
  assert(p:touch(BASE, 32 * PAGE, "r"))
  lu.assertEquals(l1d(m).misses - before, 2)
  lu.assertEquals(l1d(m).held, { ["4K"] = 0, ["64K"] = 2, ["2M"] = 0, ["1G"] = 0 })
  lu.assertEquals(l1d(m).reach, 128 * K)
  m:thp{ hugepages = { ["64kB"] = "never" } }
  assert(p:touch(BASE + 32 * PAGE, 16 * PAGE, "w"))
  m:tlb_flush_all()
  before = l1d(m).misses
  assert(p:touch(BASE + 32 * PAGE, 16 * PAGE, "r"))
  lu.assertEquals(l1d(m).misses - before, 16)
end

-- A TLB without the 64K size caches the block's pages one by one.
function TestContPTE:test_tlb_without_the_size()
  local m <close> = machine{ tlb = { { name = "L1d", kind = "data", entries = 48, ways = 48,
                                       sizes = { "4K", "2M" } } } }
  local p = block(m)
  m:tlb_flush_all()
  local before = l1d(m).misses
  assert(p:touch(BASE, 16 * PAGE, "r"))
  lu.assertEquals(l1d(m).misses - before, 16)
end

-- A level-2 block entry refills a level 1 without the size with a 4K
-- entry carrying the block's dirty bit: legal (the block's bits are
-- shared), and m:check reads the block's bits for it.
function TestContPTE:test_small_entry_from_a_block_entry()
  local m <close> = machine{ tlb = {
    { name = "L1d", level = 1, kind = "data", entries = 48, ways = 48, sizes = { "4K", "2M" } },
    { name = "L2", level = 2, kind = "unified", entries = 1280, ways = 5, sizes = { "4K", "64K", "2M" } } } }
  local p = block(m)
  assert(p:madvise(BASE, 16 * PAGE, "free"))		-- the block is clean
  m:tlb_flush_all()
  assert(p:touch(BASE + 5 * PAGE, 1, "w"))		-- the L2 holds it dirty
  assert(p:touch(BASE + 64 * PAGE, 60 * PAGE, "w"))	-- page 5 leaves the L1d
  assert(p:touch(BASE + 9 * PAGE, 1, "r"))		-- an L2 hit refills the L1d
  lu.assertEquals(l1d(m).held["4K"] >= 1, true)
  lu.assertFalse(p:translate(BASE + 9 * PAGE).dirty)
end

-- With 16K pages a block is 128 PTEs (2M): a 2M folio's; 64K pages: 32 (2M).
function TestContPTE:test_other_granules()
  for _, g in ipairs{ { "16K", 16 * K, 128, 47 }, { "64K", 64 * K, 32, 48 } } do
    local m <close> = machine{ page_size = g[1], va_bits = g[4], ram = "1G" }
    m:thp{ hugepages = { ["2048kB"] = "always" } }
    local p = setup(m, 8 * MiB, 0x7e0000000000)
    assert(p:touch(BASE, 1, "w"))
    lu.assertEquals(cont(p, BASE, g[3], g[2]), string.rep("1", g[3]))
    m:tlb_flush_all()
    local before = l1d(m).misses
    assert(p:touch(BASE, 2 * MiB, "r"))
    lu.assertEquals(l1d(m).misses - before, 1)
    lu.assertStrContains(p:pagetable(BASE, BASE + g[2]), " CONT ")
    local c = p:fork()
    lu.assertEquals(cont(c, BASE, g[3], g[2]), string.rep("1", g[3]))
    assert(c:munmap(BASE + 3 * g[2], g[2]))
    lu.assertEquals(cont(c, BASE, 4, g[2]), "000-")
    lu.assertEquals(cont(p, BASE, g[3], g[2]), string.rep("1", g[3]))
  end
end

-- Unmapping part of a block unfolds it: the rest stay, without PTE_CONT;
-- unmapping a whole block needs no unfold.
function TestContPTE:test_partial_unmap_unfolds()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:touch(BASE, 32 * PAGE, "w"))
  assert(p:madvise(BASE + 3 * PAGE, PAGE, "dontneed"))
  lu.assertEquals(cont(p, BASE, 16), "000-000000000000")
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), ALL)
  assert(p:munmap(BASE + 16 * PAGE, 16 * PAGE))
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), string.rep("-", 16))
end

-- mprotect of a whole block keeps it (a batch, set_ptes); of part of it
-- unfolds it, and making that part writable again does not fold it back
-- (6.18 commits the part as a batch: contpte_set_ptes folds only whole
-- blocks, and contpte_try_fold is set_pte_at's).
function TestContPTE:test_mprotect()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:touch(BASE, 32 * PAGE, "w"))
  assert(p:mprotect(BASE, 16 * PAGE, "r--"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertFalse(p:translate(BASE + 7 * PAGE).write)
  assert(p:mprotect(BASE, 16 * PAGE, "rw-"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertTrue(p:translate(BASE + 7 * PAGE).write)		-- exclusive: writable at once
  assert(p:mprotect(BASE + 24 * PAGE, 8 * PAGE, "r--"))
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), NONE)
  assert(p:mprotect(BASE + 24 * PAGE, 8 * PAGE, "rw-"))
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), NONE)
  -- one entry written alone as the block's last: contpte_try_fold
  assert(p:mprotect(BASE + 15 * PAGE, PAGE, "r--"))
  lu.assertEquals(cont(p, BASE, 16), NONE)
  assert(p:mprotect(BASE + 15 * PAGE, PAGE, "rw-"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  assert(p:mprotect(BASE + 0 * PAGE, PAGE, "r--"))
  assert(p:mprotect(BASE + 0 * PAGE, PAGE, "rw-"))		-- not the last: stays unfolded
  lu.assertEquals(cont(p, BASE, 16), NONE)
end

-- A write to a page of a block after its write bit went (fork) unfolds it
-- in that process: the copy, or the reuse, is one page's.
function TestContPTE:test_fork_keeps_blocks_and_cow_unfolds()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  assert(p:touch(BASE, 16 * PAGE, "w"))
  local c = p:fork()
  lu.assertEquals(cont(p, BASE, 16), ALL)			-- wrprotect_ptes of a whole block
  lu.assertEquals(cont(c, BASE, 16), ALL)			-- set_ptes of the batch
  lu.assertFalse(p:translate(BASE).write)
  lu.assertFalse(c:translate(BASE).accessed)			-- the child's entries are old
  assert(c:touch(BASE + 4 * PAGE, 1, "w"))
  lu.assertEquals(cont(c, BASE, 16), NONE)
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertNotEquals(c:translate(BASE + 4 * PAGE).pfn, p:translate(BASE + 4 * PAGE).pfn)
end

-- mlock of half a block splits the VMA and leaves the PTEs, so the block
-- spans two VMAs; fork copies VMA by VMA, and write-protecting half a
-- block unfolds it (contpte_wrprotect_ptes: contpte_try_unfold_partial).
function TestContPTE:test_fork_of_a_block_across_two_vmas()
  local m <close> = machine()
  local p = block(m)
  assert(p:mlock(BASE, 8 * PAGE))
  local split = 0
  for _, v in ipairs(p:vmas()) do
    if v.start == BASE or v.start == BASE + 8 * PAGE then split = split + 1 end
  end
  lu.assertEquals(split, 2)
  lu.assertEquals(cont(p, BASE, 16), ALL)
  local c = p:fork()
  lu.assertEquals(cont(p, BASE, 16), NONE)
  lu.assertEquals(cont(c, BASE, 16), NONE)
  lu.assertFalse(p:translate(BASE + 12 * PAGE).write)
end

-- Fork copies a private folio's PTEs in batches of one dirty bit
-- (copy_present_ptes: FPB_RESPECT_DIRTY), each PTE read as ptep_get()
-- reads it: on arm64 a block's bits are one, so the block stays one batch
-- and the child's block is dirty whole; on x86-64 the batch breaks where
-- the bit changes, and the child's PTEs keep each page's.
function TestContPTE:test_fork_batches_by_dirty_bit()
  for _, arch in ipairs{ "arm64", "x86_64" } do
    local m <close> = machine{ arch = arch }
    local p = lazyfree_block(m)
    local c = p:fork()
    local d = {}
    for i = 0, 15 do d[#d + 1] = c:translate(BASE + i * PAGE).dirty and "1" or "0" end
    lu.assertEquals(table.concat(d), arch == "arm64" and ALL or "0000010000000000", arch)
    lu.assertEquals(cont(c, BASE, 16), arch == "arm64" and ALL or NONE)
  end
end

-- mremap keeps a block only where the new address is aligned for it.
function TestContPTE:test_mremap()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m, 64 * K)
  assert(p:touch(BASE, 16 * PAGE, "w"))
  local to = BASE + 4 * MiB
  assert(p:mremap(BASE, 64 * K, 64 * K, "maymove|fixed", to))
  lu.assertEquals(cont(p, to, 16), ALL)
  assert(p:mremap(to, 64 * K, 64 * K, "maymove|fixed", to + 2 * MiB + PAGE))
  lu.assertEquals(cont(p, to + 2 * MiB + PAGE, 16), NONE)
  lu.assertEquals(p:read(to + 2 * MiB + PAGE, 1), "\0")
end

-- A PMD split maps the huge page with blocks (set_ptes of 512 entries);
-- the folio's split unfolds them all (its pages are small now).
function TestContPTE:test_pmd_split_then_folio_split()
  local m <close> = machine()
  m:thp{ enabled = "always" }
  local p = setup(m, 4 * MiB)
  assert(p:touch(BASE, 1, "w"))
  lu.assertTrue(p:translate(BASE).huge)
  assert(p:madvise(BASE + 100 * PAGE, PAGE, "dontneed"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertEquals(cont(p, BASE + 96 * PAGE, 16), "0000-00000000000")
  lu.assertEquals(cont(p, BASE + 496 * PAGE, 16), ALL)
  m:drop_caches(2)						-- the deferred split
  lu.assertEquals(cont(p, BASE, 16), NONE)
  lu.assertEquals(cont(p, BASE + 496 * PAGE, 16), NONE)
end

-- The accessed bit of a block is the folio's: clear_refs clears all of
-- it at once, and so does reclaim's look (the block's first PTE seen).
-- smaps reads each PTE through ptep_get(), which gathers the block's
-- bits: one page used makes all 16 Referenced (4 kB on x86-64).
local function referenced_kb(p)
  local text = p.machine:proc(p.pid .. "/smaps")
  local from = assert(text:find(string.format("%x-", BASE), 1, true))
  return tonumber(text:match("\nReferenced:%s+(%d+) kB", from))
end

function TestContPTE:test_young_bits_cleared_whole()
  for _, arch in ipairs{ "arm64", "x86_64" } do
    local m <close> = machine{ arch = arch }
    m:thp{ hugepages = { ["64kB"] = "always" } }
    local p = setup(m)
    assert(p:touch(BASE, 16 * PAGE, "w"))
    assert(p:clear_refs(1))
    for i = 0, 15 do lu.assertFalse(p:translate(BASE + i * PAGE).accessed) end
    lu.assertEquals(cont(p, BASE, 16), arch == "arm64" and ALL or NONE)
    lu.assertEquals(referenced_kb(p), 0)
    m:tlb_flush_all()
    assert(p:touch(BASE + 3 * PAGE, 1, "r"))
    lu.assertTrue(p:translate(BASE + 3 * PAGE).accessed)
    lu.assertFalse(p:translate(BASE + 4 * PAGE).accessed)
    lu.assertEquals(referenced_kb(p), arch == "arm64" and 64 or 4)
  end
end

-- MADV_FREE leaves a block clean; a write marks the one entry it walks
-- dirty, and the TLB's block entry too (m:check gathers the block's bits);
-- reclaim sees the block dirty and keeps the folio.
function TestContPTE:test_lazyfree_block_written_again()
  local m <close> = machine()
  local p = block(m)
  assert(p:madvise(BASE, 16 * PAGE, "free"))
  lu.assertEquals(cont(p, BASE, 16), ALL)
  lu.assertFalse(p:translate(BASE + 5 * PAGE).dirty)
  assert(p:touch(BASE + 5 * PAGE, 1, "w"))
  assert(p:touch(BASE + 9 * PAGE, 1, "w"))			-- through the TLB's block entry
  lu.assertTrue(p:translate(BASE + 5 * PAGE).dirty)
  lu.assertFalse(p:translate(BASE + 9 * PAGE).dirty)
  assert(p:madvise(BASE, 16 * PAGE, "pageout"))
  lu.assertEquals(cont(p, BASE, 16), ALL)			-- kept, and whole
  lu.assertEquals(p:read(BASE + 9 * PAGE, 1), "\0")
end

-- A folio split leaves no PTE_CONT behind, on PROT_NONE entries either
-- (contpte_set_ptes gives it to them; the split maps each page anew).
function TestContPTE:test_split_of_a_prot_none_block()
  local m <close> = machine()
  m:thp{ hugepages = { ["64kB"] = "always" } }
  local p = setup(m)
  for i = 16, 31 do assert(p:write(BASE + i * PAGE, "x")) end	-- not zero: kept at the split
  assert(p:mprotect(BASE + 16 * PAGE, 16 * PAGE, "---"))
  lu.assertEquals(cont(p, BASE + 16 * PAGE, 16), "----------------")	-- not present
  lu.assertTrue(p:translate(BASE + 16 * PAGE).cont)
  assert(p:madvise(BASE + 16 * PAGE, 8 * PAGE, "cold"))	-- part of it: split
  lu.assertEquals(m:page(p:pte(BASE + 16 * PAGE).pfn).order, 0)
  for i = 16, 31 do lu.assertFalse(p:translate(BASE + i * PAGE).cont, i) end
end

-- MADV_POPULATE_WRITE reads a block's dirty bit whole (follow_page_pte's
-- ptep_get): one dirty entry, and the folio needs no PG_dirty.
function TestContPTE:test_populate_write_reads_the_block()
  local m <close> = machine()
  local p = lazyfree_block(m)
  assert(p:madvise(BASE + 9 * PAGE, PAGE, "populate_write"))
  lu.assertFalse(m:page(p:translate(BASE).pfn).dirty)
end

-- A block broken on purpose (one entry's PTE_CONT flipped) is caught.
function TestContPTE:test_check_catches_a_broken_block()
  local m <close> = memlab.new{ arch = "arm64", ram = "64M", seed = 1 }
  local p = block(m)
  lu.assertTrue(m:check())
  assert(m:corrupt{ what = "pte", task = p, addr = BASE + 9 * PAGE, bit = 52 })
  H.assert_raises({ "contiguous PTE block at va 0x7e0000000000" }, m.check, m)
end

os.exit(lu.LuaUnit.run())
