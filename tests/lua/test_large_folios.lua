-- Large folios in the page cache (memlab_file_large_folios): ext4 without
-- data=journal, Linux 6.18's page_cache_ra_order, write_begin's order and
-- fault-around of a whole folio.  tests/diff/diff_ra.c --large compares
-- them with the host's ext4.
local lu = require("luaunit")
local memlab = require("memlab")

local KB, MB = 1024, 1024 * 1024

local function layout(f)
  local t = {}
  for _, fo in ipairs(f:folios()) do
    t[#t + 1] = fo.index .. "+" .. fo.pages .. (fo.readahead and "R" or "")
  end
  return table.concat(t, " ")
end

local function setup(size, opts)
  local m = memlab.new{ ram = 64 * MB }
  local f = m:file{ name = "f", size = size, writable = true, large_folios = opts ~= false }
  return m, f
end

-- An 8 MiB file with large folios, mapped whole (2 MiB-aligned) MADV_HUGEPAGE.
local function huge_mapping(prot)
  local m, f = setup(8 * MB)
  local p = m:spawn{ name = "r" }
  local a = p:mmap(0, 8 * MB, prot, "shared", f, 0)
  p:madvise(a, 8 * MB, "hugepage")	-- a fault's sync readahead: two 2M folios
  return m, f, p, a
end

-- A 4 MiB file whose first 384K were read in order (folios up to 96+32,
-- none marked), mapped whole and shared by a new task.
local function cached_mapping(prot)
  local m, f = setup(4 * MB)
  for i = 0, 5 do f:read(i * 64 * KB, 64 * KB) end
  local p = m:spawn{ name = "p" }
  return m, f, p, p:mmap(0, 4 * MB, prot, "shared", f, 0)
end

TestLargeFolios = {}

function TestLargeFolios:test_readahead_ramps_order()
  local m, f = setup(4 * MB)
  f:read(0, 64 * KB)
  lu.assertStrContains(layout(f), "16+1R")
  f:read(64 * KB, 64 * KB)		-- reaches the mark: the next window in order-2 folios
  lu.assertStrContains(layout(f), "32+4R 36+4")
  lu.assertEquals(f:ra().order, 2)
  for i = 2, 5 do f:read(i * 64 * KB, 64 * KB) end
  lu.assertStrContains(layout(f), "64+16 80+16 96+32")
  lu.assertEquals(f:ra().order, 5)	-- capped by the 32-page window
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_small_without_option()
  local m, f = setup(MB, false)
  f:read(0, 512 * KB)
  for _, fo in ipairs(f:folios()) do lu.assertEquals(fo.pages, 1) end
  lu.assertEquals(f:ra().order, 0)
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_write_makes_folio_of_its_length()
  local m, f = setup(0)
  f:write(0, string.rep("x", 64 * KB))
  lu.assertEquals(layout(f), "0+16")
  f:write(64 * KB + 100, string.rep("y", 10000))	-- index 16, 10000 bytes: an 8K folio
  lu.assertEquals(layout(f), "0+16 16+2 18+1")
  local fo = f:folios()[1]
  lu.assertTrue(fo.dirty)
  lu.assertEquals(m:vmstat().nr_dirty, 19)
  m:sync()
  lu.assertEquals(m:vmstat().nr_dirty, 0)
  lu.assertEquals(f:ondisk(64 * KB + 100, 5), "yyyyy")
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_fault_around_maps_whole_folio()
  local m, f = setup(4 * MB)
  for i = 0, 5 do f:read(i * 64 * KB, 64 * KB) end	-- 96+32 is cached, not marked
  local p = m:spawn{ name = "r" }
  local a = p:mmap(0, 4 * MB, "r", "shared", f, 0)
  p:touch(a + 100 * 4096, 1, "r")
  -- the 64K window [96, 112) lies in folio 96+32, mapped whole
  lu.assertStrContains(m:proc(p.pid .. "/smaps_rollup"), "Rss:                 128 kB")
  lu.assertTrue(m:check())
  p:munmap(a, 4 * MB)
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_reclaim_and_drop_whole_folios()
  local m, f = setup(4 * MB)
  for i = 0, 5 do f:read(i * 64 * KB, 64 * KB) end
  local before = m:vmstat().nr_file_pages
  lu.assertTrue(before > 100)
  f:fadvise(100 * 4096, 4096, "dontneed")	-- inside folio 96+32: passed by
  lu.assertEquals(m:vmstat().nr_file_pages, before)
  f:fadvise(96 * 4096, 32 * 4096, "dontneed")	-- the whole folio goes
  lu.assertEquals(m:vmstat().nr_file_pages, before - 32)
  lu.assertTrue(m:check())
  m:drop_caches(1)
  lu.assertEquals(#f:folios(), 0)
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_pmd_maps_a_pmd_sized_folio()
  local m, f, p, a = huge_mapping("rw")
  lu.assertEquals(a % (2 * MB), 0)
  p:touch(a + 2 * MB + 100 * 4096, 1, "r")
  lu.assertStrContains(layout(f), "512+512 1024+512R")
  lu.assertTrue(p:translate(a + 2 * MB).huge)
  lu.assertStrContains(m:proc(p.pid .. "/smaps_rollup"), "FilePmdMapped:      2048 kB")
  lu.assertStrContains(m:proc("meminfo"), "FileHugePages:      4096 kB")
  lu.assertEquals(m:vmstat().thp_file_mapped, 1)
  lu.assertTrue(m:check())
  -- a write: the read-only PMD goes (write-notify by PTEs), the fault maps it again, writable
  p:touch(a + 2 * MB + 5, 1, "w")
  lu.assertEquals(m:vmstat().thp_split_pmd, 1)
  lu.assertTrue(p:translate(a + 2 * MB).huge)
  lu.assertTrue(p:pte(a + 2 * MB).write)
  lu.assertTrue(f:folios()[1].dirty)
  lu.assertTrue(m:check())
  -- writeback makes the PMD clean and read-only again
  m:sync()
  lu.assertFalse(p:pte(a + 2 * MB).write)
  -- a fork's child faults it in anew; an mprotect of part of it drops the PMD
  local c = p:fork()
  lu.assertStrContains(m:proc(c.pid .. "/smaps_rollup"), "FilePmdMapped:         0 kB")
  p:mprotect(a + 2 * MB, 4096, "r")
  lu.assertFalse(p:translate(a + 2 * MB + 8192).huge)
  lu.assertStrContains(m:proc("meminfo"), "FilePmdMapped:         0 kB")
  lu.assertTrue(m:check())
  p:munmap(a, 8 * MB)
  c:exit()
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_pmd_needs_aligned_offset_and_no_nohugepage()
  local m, f = setup(8 * MB)
  local p = m:spawn{ name = "r" }
  -- thp_get_unmapped_area() places a file mapping at an address congruent
  -- to its offset; MAP_FIXED one page off, no PMD can map the folio there
  local a = p:mmap(0, 6 * MB, "r", "shared", f, 4096)
  lu.assertEquals((a - 4096) % (2 * MB), 0)
  p:munmap(a, 6 * MB)
  a = p:mmap(a - 4096, 6 * MB, "r", "shared|fixed", f, 4096)
  p:madvise(a, 6 * MB, "hugepage")
  p:touch(a + 2 * MB, 1, "r")
  lu.assertEquals(m:vmstat().thp_file_mapped, 0)
  lu.assertFalse(p:translate(a + 2 * MB).huge)
  p:munmap(a, 6 * MB)
  local b = p:mmap(0, 8 * MB, "r", "shared", f, 0)
  p:madvise(b, 8 * MB, "nohugepage")	-- vma_thp_disabled()
  p:touch(b + 2 * MB, 1, "r")
  lu.assertEquals(m:vmstat().thp_file_mapped, 0)
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_reclaim_drops_pmd_mapped_folio()
  local m, _, p, a = huge_mapping("r")
  p:touch(a, 1, "r")
  lu.assertTrue(p:translate(a).huge)
  p:madvise(a, 2 * MB, "pageout")	-- the whole folio, mapped by this mm alone
  lu.assertStrContains(m:proc("meminfo"), "FilePmdMapped:         0 kB")
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_cold_on_part_splits_the_folio()
  local m, f, p, a = cached_mapping("r")			-- 96+32 is cached
  p:touch(a + 100 * 4096, 1, "r")			-- maps 96..127 whole
  lu.assertTrue(p:madvise(a + 100 * 4096, 4 * 4096, "cold"))
  lu.assertStrContains(layout(f), "80+16 96+1 97+1")	-- split_folio() into pages
  -- unmap_folio(): a split leaves a file folio's pages unmapped (the host's too)
  lu.assertStrContains(m:proc(p.pid .. "/smaps_rollup"), "Rss:                   0 kB")
  lu.assertTrue(m:check())
  local c = p:fork()
  p:touch(a + 64 * 4096, 1, "r")
  c:touch(a + 64 * 4096, 1, "r")
  lu.assertTrue(p:madvise(a + 64 * 4096, 4 * 4096, "cold"))	-- another mm maps it: left whole
  lu.assertStrContains(layout(f), "64+16 80+16")
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_writeback_cleans_every_pte_of_a_folio()
  local m, f, p, a = cached_mapping("rw")		-- 96+32 is cached
  p:write(a + 100 * 4096, "AAAA")			-- a tail page of 96+32
  lu.assertEquals(m:vmstat().nr_dirty, 32)
  m:sync()
  lu.assertEquals(m:vmstat().nr_dirty, 0)
  lu.assertFalse(p:pte(a + 100 * 4096).write)		-- the rmap reaches the tail's PTE
  p:write(a + 100 * 4096, "BBBB")			-- faults, dirties the folio again
  lu.assertEquals(m:vmstat().nr_dirty, 32)
  m:sync()
  lu.assertEquals(f:ondisk(100 * 4096, 4), "BBBB")
  lu.assertEquals(#m:rmap(p:translate(a + 101 * 4096).pfn), 1)
  lu.assertTrue(m:check())
end

function TestLargeFolios:test_fault_maps_the_folio_holding_the_last_page()
  local m, f = setup(0)
  f:write(0, string.rep("z", 32 * 4096))		-- one 32-page folio, the whole file
  lu.assertEquals(layout(f), "0+32")
  local p = m:spawn{ name = "r" }
  local a = p:mmap(0, 32 * 4096, "r", "shared", f, 0)
  p:touch(a + 20 * 4096, 1, "r")
  -- fault-around passes it by (not within the file short of its last page);
  -- finish_fault() maps it whole
  lu.assertStrContains(m:proc(p.pid .. "/smaps_rollup"), "Rss:                 128 kB")
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
