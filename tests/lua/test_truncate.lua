-- ftruncate(2) of a simulated file: f:truncate(length), as ext4 does it
-- on Linux 6.18 (core/truncate.c).  tests/diff/diff_ra.c --truncate
-- compares the page cache it leaves with the host's.
local lu = require("luaunit")
local memlab = require("memlab")

local KB, MB, PG = 1024, 1024 * 1024, 4096

local function layout(f)
  local t = {}
  for _, fo in ipairs(f:folios()) do
    t[#t + 1] = fo.index .. "+" .. fo.pages .. (fo.dirty and "d" or "") ..
                (fo.uptodate and "" or "!") .. (fo.mapped and "m" or "")
  end
  return table.concat(t, " ")
end

-- A machine with a file of pages pages, its bytes "a" on the disk.
local function setup(pages, large)
  local m = memlab.new{ ram = 64 * MB }
  local f = m:file{ name = "f", writable = true, large_folios = large,
                    contents = string.rep("a", pages * PG) }
  return m, f, m:spawn{ name = "p" }
end

TestTruncate = {}

function TestTruncate:test_errors()
  local m, f = setup(4)
  lu.assertEquals({ f:truncate(-1) }, { nil, "EINVAL", 22 })
  lu.assertEquals({ f:truncate((1 << 44) - 4096 + 1) }, { nil, "EFBIG", 27 })
  lu.assertTrue(f:truncate((1 << 44) - 4096))	-- ext4's largest file, a hole
  lu.assertEquals(f.size, (1 << 44) - 4096)
  local ro = m:file{ name = "ro", size = PG }
  lu.assertEquals({ ro:truncate(0) }, { nil, "EINVAL", 22 })	-- not opened for writing
  lu.assertEquals(ro.size, PG)
  lu.assertEquals({ m:file{ name = "big", size = 1 << 44 } }, { nil, "EFBIG", 27 })
  lu.assertErrorMsgContains("truncate", function() f:truncate("x") end)
  lu.assertTrue(m:check())
end

function TestTruncate:test_shrink_drops_pages_and_zaps_mappings()
  local m, f, p = setup(16)
  local a = p:mmap(0, 16 * PG, "r", "shared", f, 0)
  p:touch(a, 16 * PG, "r")
  lu.assertEquals(p:mm().rss_file, 16)
  local cached = m:vmstat().nr_file_pages
  lu.assertTrue(f:truncate(5 * PG + 100))
  lu.assertEquals(f.size, 5 * PG + 100)
  lu.assertEquals(m:vmstat().nr_file_pages, cached - 10)	-- pages 6..15
  lu.assertEquals(p:mm().rss_file, 6)		-- the page holding the end stays mapped
  lu.assertEquals(p:read(a + 5 * PG + 99, 2), "a\0")	-- its tail zeroed
  lu.assertEquals({ p:read(a + 6 * PG, 1) }, { nil, "SIGBUS", "BUS_ADRERR" })
  lu.assertEquals(f:read(0, 16 * PG):len(), 5 * PG + 100)
  lu.assertTrue(m:check())
end

function TestTruncate:test_private_copies_past_the_end_go()
  local m, f, p = setup(8)
  local a = p:mmap(0, 8 * PG, "rw", "private", f, 0)
  p:write(a + 6 * PG, "copy")			-- a COW copy of page 6
  lu.assertEquals(p:mm().rss_anon, 1)
  lu.assertTrue(f:truncate(4 * PG))
  lu.assertEquals(p:mm().rss_anon, 0)		-- even_cows: it goes with the file's page
  lu.assertEquals({ p:read(a + 6 * PG, 1) }, { nil, "SIGBUS", "BUS_ADRERR" })
  lu.assertTrue(m:check())
end

function TestTruncate:test_end_page_read_not_up_to_date()
  local m, f, p = setup(8)
  local a = p:mmap(0, 8 * PG, "r", "shared", f, 0)
  lu.assertTrue(f:truncate(3 * PG + 10))	-- nothing cached: ext4 makes the page at the end
  lu.assertEquals(layout(f), "3+1d!")		-- dirtied for the journal (data=journal)
  lu.assertEquals(p:mincore(a, 4 * PG), "0000")	-- not up to date: not resident
  local maj = p:mm().maj_flt
  lu.assertEquals(p:read(a + 3 * PG, 11), string.rep("a", 10) .. "\0")
  lu.assertEquals(p:mm().maj_flt, maj)		-- found in the cache: a minor fault
  lu.assertEquals(layout(f), "3+1dm")
  lu.assertTrue(m:check())
end

function TestTruncate:test_grow_reads_zeroes()
  local m, f, p = setup(2)
  local a = p:mmap(0, 2 * PG, "rw", "shared", f, 0)
  lu.assertTrue(f:truncate(PG + 8))
  p:write(a + PG + 8, "past")			-- into the end page, past the end
  m:sync()
  lu.assertTrue(f:truncate(3 * PG))		-- up again: a hole, and zeroes
  lu.assertEquals(f:read(PG, 16), string.rep("a", 8) .. string.rep("\0", 8))
  lu.assertEquals(f:ondisk(PG, 16), string.rep("a", 8) .. string.rep("\0", 8))
  lu.assertEquals(f:read(2 * PG, 4), "\0\0\0\0")
  lu.assertTrue(m:check())
end

function TestTruncate:test_journal_end_page_dirty_loses_mark()
  local m, f = setup(64)
  f:read(0, PG)					-- 0..3 read ahead, page 1 marked
  lu.assertEquals(layout(f), "0+1 1+1 2+1 3+1")
  lu.assertTrue(f:folios()[2].readahead)
  lu.assertTrue(f:truncate(PG + 5))		-- page 1: dirtied for the journal
  lu.assertEquals(layout(f), "0+1 1+1d")
  lu.assertFalse(f:folios()[2].readahead)	-- folio_mark_dirty() ends the mark
  lu.assertTrue(m:check())
end

function TestTruncate:test_large_folio_splits_at_the_end()
  local m, f, p = setup(64, true)
  f:write(0, string.rep("b", 64 * PG))		-- one folio of 64 pages
  m:sync()
  local a = p:mmap(0, 64 * PG, "r", "shared", f, 0)
  p:touch(a, 64 * PG, "r")
  lu.assertEquals(layout(f), "0+64m")
  lu.assertTrue(f:truncate(20 * PG + 100))
  -- folio_split(): halves kept whole, down to the page at the end (dirtied
  -- by ext4's zeroing); the split unmapped them all
  lu.assertEquals(layout(f), "0+16 16+4 20+1d")
  lu.assertEquals(p:mm().rss_file, 0)
  lu.assertEquals(m:vmstat().nr_file_pages, 21)
  lu.assertTrue(m:check())
end

function TestTruncate:test_dirty_large_folio_stays_whole()
  local m, f, p = setup(64, true)
  f:write(0, string.rep("b", 64 * PG))		-- dirty, every block
  local a = p:mmap(0, 64 * PG, "r", "shared", f, 0)
  p:touch(a, 64 * PG, "r")
  lu.assertTrue(f:truncate(20 * PG + 100))
  lu.assertEquals(layout(f), "0+64d")		-- unsplit, unmapped, cached past the end
  lu.assertEquals(p:mm().rss_file, 0)
  lu.assertEquals(p:read(a + 20 * PG + 99, 2), "b\0")	-- faults back by PTEs
  lu.assertEquals({ p:read(a + 21 * PG, 1) }, { nil, "SIGBUS", "BUS_ADRERR" })
  local rss = p:mm().rss_file			-- fault-around's, up to the end only
  lu.assertTrue(rss >= 1 and rss <= 5, rss)
  lu.assertTrue(m:check())
end

function TestTruncate:test_blocks_dirty_past_the_end_only()
  local m, f = setup(16, true)
  f:write(0, string.rep("b", 16 * PG))
  m:sync()					-- clean
  f:write(12 * PG, "c")				-- dirties page 12's block only
  lu.assertEquals(layout(f), "0+16d")
  lu.assertTrue(f:truncate(4 * PG))		-- the dirty block is discarded: clean, it splits
  lu.assertEquals(layout(f), "0+4")
  lu.assertEquals(m:vmstat().nr_dirty, 0)
  lu.assertTrue(m:check())
end

function TestTruncate:test_pmd_mapped_folio()
  local m = memlab.new{ ram = 64 * MB }
  local f = m:file{ name = "f", size = 4 * MB, writable = true, large_folios = true }
  local p = m:spawn{ name = "p" }
  local a = p:mmap(0, 4 * MB, "r", "shared", f, 0)
  p:madvise(a, 4 * MB, "hugepage")
  p:touch(a, 1, "r")
  lu.assertTrue(p:translate(a).huge)
  lu.assertTrue(f:truncate(MB))			-- the PMD goes, the folio splits
  lu.assertStrContains(m:proc("meminfo"), "FilePmdMapped:         0 kB")
  lu.assertEquals(layout(f), "0+256")
  lu.assertEquals(m:vmstat().thp_split_page, 1)
  lu.assertEquals(p:read(a + MB - 1, 1), "\0")
  lu.assertEquals({ p:read(a + MB, 1) }, { nil, "SIGBUS", "BUS_ADRERR" })
  lu.assertTrue(m:check())
end

function TestTruncate:test_same_size_dirties_end_page()
  local m, f = setup(4)
  lu.assertTrue(f:truncate(2 * PG + 1))
  m:sync()
  lu.assertTrue(f:truncate(2 * PG + 1))		-- ext4_truncate(): the end block again
  lu.assertEquals(layout(f), "2+1d!")		-- made, not read yet
  lu.assertTrue(f:truncate(0))
  lu.assertEquals(layout(f), "")
  lu.assertEquals(m:vmstat().nr_file_pages, 0)
  lu.assertTrue(m:check())
end

function TestTruncate:test_failed_write_past_the_end()
  for _, large in ipairs{ false, true } do
    local m, f, p = setup(1, large)
    -- write(2) from memory not mapped: fault_in_iov_iter_readable() finds
    -- nothing to read, and the write takes no page and grows nothing
    lu.assertEquals({ p:pwrite(f, 0x10000, 100, 2 * PG) }, { nil, "EFAULT", 14 })
    lu.assertEquals(f.size, PG)
    lu.assertEquals(layout(f), "")
    -- from a page followed by a hole: the page is written, the write stops
    local a = assert(p:mmap(0, 2 * PG, "rw-", "private|anonymous"))
    p:munmap(a + PG, PG)
    p:write(a, string.rep("x", PG))
    lu.assertEquals(p:pwrite(f, a, 2 * PG, 2 * PG), PG)
    lu.assertEquals(f.size, 3 * PG)
    lu.assertEquals(layout(f), large and "2+2d" or "2+1d")	-- a folio of the write's order
    lu.assertTrue(m:check())
  end
end

function TestTruncate:test_ordered_writeback_zeroes_past_the_end()
  local m, f, p = setup(2, true)
  lu.assertTrue(f:truncate(PG + 8))
  local a = p:mmap(0, 2 * PG, "rw", "shared", f, 0)
  p:write(a + PG + 8, "past")			-- into the end page, past the end
  lu.assertEquals(p:read(a + PG + 8, 4), "past")
  m:sync()					-- ext4_bio_write_folio() zeroes it in the cache
  lu.assertEquals(p:read(a + PG + 8, 4), "\0\0\0\0")
  lu.assertTrue(m:check())
end

function TestTruncate:test_isize_extended_with_16k_pages()
  local m = memlab.new{ arch = "arm64", page_size = 16384, ram = 64 * MB }
  local f = m:file{ name = "f", writable = true, contents = string.rep("a", 16384) }
  local p = m:spawn{ name = "p" }
  lu.assertTrue(f:truncate(100))		-- the page holds 4 blocks; the end in the first
  local a = p:mmap(0, 16384, "rw", "shared", f, 0)
  p:write(a + 5000, "X")			-- in the page, past the end, dirtying it
  lu.assertTrue(f:truncate(16384))		-- pagecache_isize_extended(): zeroed
  lu.assertEquals(f:read(5000, 1), "\0")
  lu.assertEquals(p:read(a + 5000, 1), "\0")
  lu.assertTrue(m:check())
end

-- Past 4 GiB: truncating an 8 GiB file to 6 GiB unmaps only what lies past
-- the new end (memlab once cut the hole's start to 32 bits: 2 GiB, and a
-- page at 3 GiB lost its mapping).
function TestTruncate:test_large_file_hole_start()
  local m <close> = memlab.new{}
  local GiB = 1 << 30
  local f = m:file{ path = "/data/big", size = 8 * GiB, writable = true }
  local p = m:spawn{ aslr = false }
  local a = assert(p:mmap(nil, 4096, "r--", "shared", f, 3 * GiB))
  local b = assert(p:mmap(nil, 4096, "r--", "shared", f, 7 * GiB))
  assert(p:read(a, 1))
  assert(p:read(b, 1))
  assert(f:truncate(6 * GiB))
  lu.assertNotNil(p:translate(a).pfn)	-- below the new end: still mapped
  lu.assertNil(p:translate(b).pfn)	-- past it: zapped
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
