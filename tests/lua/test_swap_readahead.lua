-- test_swap_readahead.lua: swap readahead (docs/lua-api.md, "Swap"): a
-- swap-in fault reads, with the page it needs, the ones
-- swapin_readahead() chooses -- the aligned cluster of slots on a
-- rotating disk (the default), the PTEs around the address on an SSD
-- (memlab.new{ swap_ssd = true }) -- into the swap cache, PG_readahead
-- (swap_ra); a fault that finds one there is minor (swap_ra_hit) and
-- widens the next window; vm.page-cluster (m:sysctl{ page_cluster = })
-- bounds it.  tests/diff/diff_swapra.c checks both against the host.
--
-- Run from the source root:  build/memlab run tests/lua/test_swap_readahead.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local BASE = 0x7f0000000000

-- A machine with n anonymous pages at BASE, each holding its number, all
-- swapped out: page i in slot i + 1.
local function swapped(n, opts)
  opts = opts or {}
  local m = memlab.new{ ram = "64M", swap = "64M", swap_ssd = opts.ssd }
  if opts.page_cluster then m:sysctl{ page_cluster = opts.page_cluster } end
  local p = m:spawn{ aslr = false }
  assert(p:mmap(BASE, n * PAGE, "rw-", "private|anonymous|fixed"))
  for i = 0, n - 1 do assert(p:write(BASE + i * PAGE, string.format("%04d", i))) end
  assert(p:madvise(BASE, n * PAGE, "pageout"))
  for i = 0, n - 1 do lu.assertEquals(p:translate(BASE + i * PAGE).swap.offset, i + 1) end
  return m, p
end

-- What reading page i did: { major, pswpin, swap_ra, swap_ra_hit }, and the mincore string.
local function read(m, p, i, n)
  local v0, maj0 = m:vmstat(), p:mm().maj_flt
  lu.assertEquals(p:read(BASE + i * PAGE, 4), string.format("%04d", i))
  local v1 = m:vmstat()
  return { p:mm().maj_flt - maj0, v1.pswpin - v0.pswpin, v1.swap_ra - v0.swap_ra,
           v1.swap_ra_hit - v0.swap_ra_hit }, p:mincore(BASE, n * PAGE)
end

TestCluster = {}

-- The boot state (4 hits) gives the first fault a window of 8: slots 1..7
-- (slot 0 is the header); pages read ahead are found there (minor hits),
-- and the next miss reads the next aligned 8.
function TestCluster:test_sequential()
  local m <close>, p = swapped(32)
  local r, res = read(m, p, 0, 32)
  lu.assertEquals(r, { 1, 7, 6, 0 })
  lu.assertEquals(res, string.rep("1", 7) .. string.rep("0", 25))
  for i = 1, 6 do lu.assertEquals((read(m, p, i, 32)), { 0, 0, 0, 1 }) end
  r, res = read(m, p, 7, 32)			-- slot 8: hits 6, a window of 8 again
  lu.assertEquals(r, { 1, 8, 7, 0 })
  lu.assertEquals(res, string.rep("1", 15) .. string.rep("0", 17))
  lu.assertTrue(m:check())
end

-- Faults far apart, finding nothing read ahead, halve the window each
-- time (it shrinks no faster): 8, 4, 2, then 1; a fault next to the last
-- one (its slot + 1) reads 2.
function TestCluster:test_random_shrinks()
  local m <close>, p = swapped(64)
  local pswpin = {}
  for k, i in ipairs{ 40, 10, 60, 25, 50 } do pswpin[k] = read(m, p, i, 64)[2] end
  lu.assertEquals(pswpin, { 8, 4, 2, 1, 1 })
  lu.assertEquals(read(m, p, 51, 64)[2], 2)	-- adjacent: 2 (slots 52, 53)
  lu.assertTrue(m:check())
end

-- vm.page-cluster 0: no readahead, a page per fault.
function TestCluster:test_page_cluster_zero()
  local m <close>, p = swapped(16, { page_cluster = 0 })
  for i = 0, 7 do lu.assertEquals((read(m, p, i, 16)), { 1, 1, 0, 0 }) end
  lu.assertTrue(m:check())
end

-- Pages read ahead and never used stay in the swap cache, clean, and the
-- next reclaim frees them without a write.
function TestCluster:test_unused_pages_reclaimed()
  local m <close>, p = swapped(8)
  read(m, p, 0, 8)
  lu.assertEquals(m:vmstat().nr_swapcached, 7)
  local out = m:vmstat().pswpout
  m:cgroup("/"):write("memory.reclaim", "1M")	-- EAGAIN: less than 1M to be had
  lu.assertEquals(m:vmstat().pswpout, out)
  lu.assertEquals(m:vmstat().nr_swapcached, 0)
  lu.assertTrue(m:check())
end

TestVma = {}

-- On an SSD the window is the VMA's: the first fault (4 hits to start)
-- reads 8 pages centred on it, clipped to the VMA: pages 0..4 for page 0.
-- Going on forward, each window starts at the fault.
function TestVma:test_sequential()
  local m <close>, p = swapped(32, { ssd = true })
  local r, res = read(m, p, 0, 32)
  lu.assertEquals(r, { 1, 5, 4, 0 })
  lu.assertEquals(res, string.rep("1", 5) .. string.rep("0", 27))
  for i = 1, 4 do lu.assertEquals((read(m, p, i, 32)), { 0, 0, 0, 1 }) end
  r, res = read(m, p, 5, 32)			-- after page 4: forward, from 5
  lu.assertEquals(r, { 1, 8, 7, 0 })
  lu.assertEquals(res, string.rep("1", 13) .. string.rep("0", 19))
  lu.assertTrue(m:check())
end

-- A fault away from the last one, with no hit since, halves the window
-- and centres it; backwards (the page before the last), it ends at the
-- fault; it never leaves the PMD.
function TestVma:test_backward_and_pmd()
  local m <close>, p = swapped(32, { ssd = true })
  read(m, p, 20, 32)				-- 8 centred: pages 17..24
  local r, res = read(m, p, 16, 32)		-- 4 centred: 15..18 (17, 18 in the cache)
  lu.assertEquals(r, { 1, 2, 1, 0 })
  lu.assertEquals(res, string.rep("0", 15) .. string.rep("1", 10) .. string.rep("0", 7))
  r, res = read(m, p, 14, 32)			-- 14 is not 16's page before: centred, 2
  lu.assertEquals(r, { 1, 1, 0, 0 })
  r, res = read(m, p, 13, 32)			-- the page before 14: backwards, ending at 13
  lu.assertEquals(r, { 1, 2, 1, 0 })
  lu.assertEquals(res, string.rep("0", 12) .. string.rep("1", 13) .. string.rep("0", 7))
  lu.assertTrue(m:check())
  local m2 <close> = memlab.new{ ram = "64M", swap = "64M", swap_ssd = true }
  local q = m2:spawn{ aslr = false }
  local at = BASE + 2 * 1024 * 1024 - 4 * PAGE	-- 4 pages below a PMD boundary
  assert(q:mmap(at, 16 * PAGE, "rw-", "private|anonymous|fixed"))
  for i = 0, 15 do assert(q:write(at + i * PAGE, "x")) end
  assert(q:madvise(at, 16 * PAGE, "pageout"))
  local v = m2:vmstat().pswpin
  assert(q:read(at + 2 * PAGE, 1))		-- 8 from page -1: the VMA's start, the PMD's end
  lu.assertEquals(m2:vmstat().pswpin - v, 4)
  lu.assertEquals(q:mincore(at, 16 * PAGE), "1111" .. string.rep("0", 12))
  lu.assertTrue(m2:check())
end

TestWillneed = {}

-- MADV_WILLNEED of anonymous memory reads its swapped-out pages into the
-- swap cache, none marked read ahead: the reads after are minor, no hits.
function TestWillneed:test_anon_willneed()
  local m <close>, p = swapped(16)
  local v0 = m:vmstat()
  assert(p:madvise(BASE + 4 * PAGE, 8 * PAGE, "willneed"))
  local v1 = m:vmstat()
  lu.assertEquals({ v1.pswpin - v0.pswpin, v1.swap_ra - v0.swap_ra }, { 8, 0 })
  lu.assertEquals(p:mincore(BASE, 16 * PAGE), "0000" .. string.rep("1", 8) .. "0000")
  lu.assertEquals(p:translate(BASE + 4 * PAGE).swap.offset, 5)	-- still a swap entry
  for i = 4, 11 do lu.assertEquals((read(m, p, i, 16)), { 0, 0, 0, 0 }) end
  lu.assertTrue(m:check())
end

TestSysctl = {}

function TestSysctl:test_page_cluster()
  local m <close> = memlab.new{}
  lu.assertEquals(m:sysctl().page_cluster, 3)
  lu.assertEquals(m:sysctl{ page_cluster = 31 }.page_cluster, 31)
  lu.assertEquals({ m:sysctl{ page_cluster = 32 } }, { nil, "EINVAL", 22 })
  lu.assertEquals(m:sysctl().page_cluster, 31)
  lu.assertErrorMsgContains("memlab.new: bad option 'swap_ssd'",
                            function() memlab.new{ swap_ssd = "yes" } end)
end

os.exit(lu.LuaUnit.run(), true)
