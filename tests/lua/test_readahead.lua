-- test_readahead.lua: on-demand readahead as Linux 6.18 does it for a page
-- cache of order-0 folios (mm/readahead.c; core/readahead.c): read(2)'s
-- windows and their PG_readahead marks, mmap faults' read-around,
-- fault-around leaving a marked page to its own fault, mmap_miss,
-- posix_fadvise(2), MADV_WILLNEED, the disk's queue (m:disk), f:ra() and
-- p:mincore().  tests/diff/diff_ra.c compares random sequences of the same
-- calls with the host; these tests pin the cases one by one.
--
-- Run from the source root:  build/memlab run tests/lua/test_readahead.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096

local function machine(disk)
  local m = memlab.new{ ram = "256M", seed = 1, debug_vm = true }
  if disk then assert(m:disk(disk)) end
  return m
end

local function file(m, pages, name)
  return m:file{ path = "/data/" .. (name or "f"), contents = ("x"):rep(pages * PAGE),
                 writable = true }
end

-- The file's pages as one character each: "." not cached, "c" cached,
-- "R" cached and marked PG_readahead (kpageflags' reclaim bit), seen
-- through a MADV_RANDOM mapping of task p that faults in only cached pages.
local function cache(m, p, f)
  local pages = (f.size + PAGE - 1) // PAGE
  local a = assert(p:mmap(nil, pages * PAGE, "r--", "shared", f, 0))
  assert(p:madvise(a, pages * PAGE, "random"))
  local v, s = assert(p:mincore(a, pages * PAGE)), {}
  for i = 1, pages do
    if v:sub(i, i) == "1" then
      assert(p:read(a + (i - 1) * PAGE, 1))
      s[i] = m:kpageflags(p:translate(a + (i - 1) * PAGE).pfn)[1].reclaim and "R" or "c"
    else
      s[i] = "."
    end
  end
  assert(p:munmap(a, pages * PAGE))
  return table.concat(s)
end

-- "c" x n, as the runs of a cache string are written below
local function c(n) return ("c"):rep(n) end
local function d(n) return ("."):rep(n) end

function test_first_read_reads_four_pages()
  local m = machine()
  local f, p = file(m, 64), m:spawn{ name = "p" }
  assert(f:read(0, 1))
  -- get_init_ra_size(1, 32) = 4; the async tail is the 3 pages not asked for
  local ra = f:ra()
  lu.assertEquals({ ra.start, ra.size, ra.async_size, ra.ra_pages, ra.prev_pos },
                  { 0, 4, 3, 32, 1 })
  lu.assertEquals(cache(m, p, f), "cRcc" .. d(60))
  lu.assertTrue(m:check())
end

function test_stream_ramps_up()
  local m = machine{ read_ahead_kb = 2560 }
  local f, p = file(m, 400), m:spawn{ name = "p" }
  local seen = {}
  for _, page in ipairs{ 0, 1, 4, 20 } do
    assert(f:read(page * PAGE, PAGE))
    local ra = f:ra()
    seen[#seen + 1] = string.format("%d+%d/%d", ra.start, ra.size, ra.async_size)
  end
  -- 4 pages, then each marked page reads the next window, x4 while small
  lu.assertEquals(seen, { "0+4/3", "4+16/16", "20+64/64", "84+128/128" })
  lu.assertEquals(cache(m, p, f), "c" .. c(83) .. "R" .. c(127) .. d(188))
end

function test_random_read_reads_itself()
  local m = machine()
  local f, p = file(m, 200), m:spawn{ name = "p" }
  assert(f:read(0, 1))
  assert(f:read(100 * PAGE, 1))        -- no cached pages before it: a random read
  lu.assertEquals(f:ra().start, 0)      -- the state is left alone
  local s = cache(m, p, f)
  lu.assertEquals(s:sub(100, 103), ".c..")
  -- a read right after cached pages (a stream the state lost) takes their number
  assert(f:read(4 * PAGE, 1))
  local ra = f:ra()
  lu.assertEquals({ ra.start, ra.size, ra.async_size }, { 4, 9, 1 })  -- (4 x 2 + 1), whole-file
end

function test_large_read_uses_max_sectors()
  local m = machine{ read_ahead_kb = 128, max_sectors_kb = 256 }
  local f, p = file(m, 300), m:spawn{ name = "p" }
  assert(f:read(10 * PAGE, 100 * PAGE))
  -- 100 pages > the 32-page window: the first window may reach io_pages,
  -- 64 (10..73, marked at 42); at 42, 64 again (74..135, its end aligned
  -- to 4 pages); at 74, 36 asked: min(36, 64) rounded to 60 (136..195)
  local ra = f:ra()
  lu.assertEquals({ ra.start, ra.size, ra.async_size }, { 136, 60, 60 })
  lu.assertEquals(cache(m, p, f), d(10) .. c(126) .. "R" .. c(59) .. d(104))
  lu.assertEquals(m:disk(), { read_ahead_kb = 128, max_sectors_kb = 256 })
end

function test_disk_queue_errors()
  local m = machine()
  lu.assertEquals({ m:disk{ max_sectors_kb = 2 } }, { nil, "EINVAL", 22 })
  lu.assertEquals({ m:disk{ max_sectors_kb = 40000 } }, { nil, "EINVAL", 22 })
  lu.assertEquals({ m:disk{ read_ahead_kb = -1 } }, { nil, "EINVAL", 22 })
  lu.assertEquals(m:disk(), { read_ahead_kb = 128, max_sectors_kb = 1280 })
  lu.assertErrorMsgContains("unknown option", m.disk, m, { speed = 1 })
  -- a file takes read_ahead_kb when it is created, as at open(2)
  local old = file(m, 8, "old")
  assert(m:disk{ read_ahead_kb = 512 })
  lu.assertEquals(old:ra().ra_pages, 32)
  lu.assertEquals(file(m, 8, "new"):ra().ra_pages, 128)
  assert(m:disk{ read_ahead_kb = 0 })
  local none, p = file(m, 64, "none"), m:spawn{ name = "p" }
  assert(none:read(0, 3 * PAGE))         -- no readahead: only what is asked, page by page
  lu.assertEquals(cache(m, p, none), c(3) .. d(61))
end

function test_fadvise()
  local m = machine()
  local f, p = file(m, 300), m:spawn{ name = "p" }
  assert(f:fadvise(0, 0, "sequential"))
  lu.assertEquals(f:ra().ra_pages, 64)
  assert(f:fadvise(0, 0, "random"))
  lu.assertTrue(f:ra().random)
  assert(f:read(0, 2 * PAGE))          -- FMODE_RANDOM: just what is asked
  assert(f:fadvise(0, 0, "normal"))
  lu.assertEquals({ f:ra().ra_pages, f:ra().random }, { 32, false })
  -- WILLNEED: at most max(read_ahead_kb, max_sectors_kb) = 320 pages; here 100
  assert(f:fadvise(50 * PAGE, 100 * PAGE, "willneed"))
  lu.assertEquals(cache(m, p, f), c(2) .. d(48) .. c(100) .. d(150))
  -- DONTNEED: whole pages only; the partial first and last pages stay
  assert(f:fadvise(60 * PAGE + 1, 10 * PAGE, "dontneed"))
  lu.assertEquals(cache(m, p, f):sub(60, 72), "cc" .. d(9) .. "cc")
  -- a dirty page is written back and stays (it was under writeback)
  assert(f:write(80 * PAGE, "dirty"))
  assert(f:fadvise(80 * PAGE, PAGE, "dontneed"))
  lu.assertEquals(m:vmstat().nr_dirty, 0)
  lu.assertEquals(f:ondisk(80 * PAGE, 5), "dirty")
  lu.assertEquals(cache(m, p, f):sub(81, 81), "c")
  assert(f:fadvise(80 * PAGE, PAGE, "dontneed"))
  lu.assertEquals(cache(m, p, f):sub(81, 81), ".")
  lu.assertEquals({ f:fadvise(0, -1, "willneed") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ f:fadvise(0, 0, 6) }, { nil, "EINVAL", 22 })
  lu.assertErrorMsgContains("advice must be", f.fadvise, f, 0, 0, "often")
  lu.assertTrue(m:check())
end

function test_madvise_willneed_is_fadvise()
  local m = machine()
  local f, p = file(m, 1000), m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 1000 * PAGE, "r--", "private", f, 0))
  assert(p:madvise(a + 10 * PAGE, 900 * PAGE, "willneed"))
  -- capped at max(32, 320) pages, as force_page_cache_ra() caps it
  lu.assertEquals(cache(m, p, f), d(10) .. c(320) .. d(670))
end

function test_mmap_read_around_and_marks()
  local m = machine()
  local f, p = file(m, 64), m:spawn{ name = "p" }
  local a = assert(p:mmap(0x7e0000000000, 64 * PAGE, "r--", "private|fixed", f, 0))
  local maj = p:mm().maj_flt
  assert(p:read(a + 20 * PAGE, 1))
  -- 32 pages centred on 20 (4..35), the last 8 its async tail, marked at 28
  lu.assertEquals(p:mm().maj_flt - maj, 1)
  -- a miss (+1), and the retry's fault-around mapped 15 cached pages (-15)
  lu.assertEquals(f:ra().mmap_miss, 0)
  -- the retry's fault-around maps 16..31 but the marked page
  for i = 16, 31 do lu.assertEquals(p:translate(a + i * PAGE).present, i ~= 28) end
  -- the marked page's own fault: minor, it reads the next window ahead
  local min = p:mm().min_flt
  assert(p:read(a + 28 * PAGE, 1))
  lu.assertEquals({ p:mm().maj_flt - maj, p:mm().min_flt - min }, { 1, 1 })
  lu.assertTrue(p:translate(a + 28 * PAGE).present)
  local q = m:spawn{ name = "q" }
  lu.assertEquals(cache(m, q, f), d(4) .. c(60))
end

function test_mmap_advice()
  local m = machine()
  local f, p = file(m, 100), m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 100 * PAGE, "r--", "private", f, 0))
  assert(p:madvise(a, 100 * PAGE, "random"))
  assert(p:read(a + 50 * PAGE, 1))
  lu.assertEquals(p:mincore(a, 100 * PAGE), ("0"):rep(50) .. "1" .. ("0"):rep(49))
  assert(p:madvise(a, 100 * PAGE, "sequential"))
  assert(p:read(a + 60 * PAGE, 1))
  -- VM_SEQ_READ reads ahead as read(2) would: a window of ra_pages from the page
  lu.assertEquals(p:mincore(a + 60 * PAGE, 40 * PAGE), ("1"):rep(32) .. ("0"):rep(8))
  -- text (VM_EXEC): from the page on, within the VMA, no async tail
  local g = file(m, 100, "g")
  local x = assert(p:mmap(nil, 40 * PAGE, "r-x", "private", g, 10 * PAGE))
  assert(p:read(x + 20 * PAGE, 1))
  lu.assertEquals(cache(m, p, g), d(30) .. c(20) .. d(50))
end

-- A miss whose retry maps nothing counts: an 8-page file read around from
-- page 0 has its async tail (8 pages) start at page 0 -- clipped to the file,
-- the window marks the very page faulted -- and a 1-page VMA's fault-around
-- has nothing else to map.
function test_mmap_miss_counts_misses()
  local m = machine()
  local f, p = file(m, 8), m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, PAGE, "r--", "private", f, 0))
  assert(p:read(a, 1))
  lu.assertEquals(f:ra().mmap_miss, 1)
  lu.assertTrue(p:translate(a).present)
  lu.assertEquals(cache(m, p, f), "R" .. c(7))
  lu.assertTrue(m:check())
end

function test_mincore()
  local m = machine()
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 8 * PAGE, "rw-", "private|anonymous"))
  assert(p:write(a + 2 * PAGE, "x"))
  assert(p:read(a + 3 * PAGE, 1))        -- the zero page: mapped, so resident
  lu.assertEquals(p:mincore(a, 8 * PAGE), "00110000")
  lu.assertEquals(p:mincore(a, 2 * PAGE + 1), "001")
  lu.assertEquals(p:mincore(a, 0), "")
  lu.assertEquals({ p:mincore(a + 1, PAGE) }, { nil, "EINVAL", 22 })
  assert(p:munmap(a + 4 * PAGE, PAGE))
  lu.assertEquals({ p:mincore(a, 8 * PAGE) }, { nil, "ENOMEM", 12 })
  lu.assertEquals({ p:mincore(0x7ffffffff000, 2 * PAGE) }, { nil, "ENOMEM", 12 })
end

os.exit(lu.LuaUnit.run())
