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
  local pgpgin = m:vmstat().pgpgin
  assert(f:read(0, 1))
  lu.assertEquals(m:vmstat().pgpgin - pgpgin, 4 * 4)      -- KiB read from the disk
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

-- A sparse file's holes are zeroed, not read: no pgpgin (as the host counts
-- it: submit_bio() sees no I/O for them).
function test_holes_are_not_read()
  local m = machine()
  local f = m:file{ path = "/data/sparse", size = 64 * PAGE, writable = true }
  local pgpgin, cached = m:vmstat().pgpgin, m:vmstat().nr_file_pages
  assert(f:read(0, 1))
  lu.assertEquals(m:vmstat().nr_file_pages - cached, 4)
  lu.assertEquals(m:vmstat().pgpgin, pgpgin)
  assert(f:write(10 * PAGE, "x"))
  assert(f:read(8 * PAGE, 8 * PAGE))
  lu.assertEquals(m:vmstat().pgpgin, pgpgin)              -- the written page: cached already
  assert(m:sync())
  assert(f:fadvise(0, 0, "dontneed"))
  assert(f:read(10 * PAGE, 1))
  lu.assertEquals(m:vmstat().pgpgin - pgpgin, 4)          -- its block, read back
end

-- A partial write to a page not cached reads the block first
-- (block_write_begin); a whole-page write reads nothing.
function test_write_reads_partial_blocks()
  local m = machine()
  local f = file(m, 16)
  local pgpgin = m:vmstat().pgpgin
  assert(f:write(2 * PAGE, ("y"):rep(PAGE)))
  lu.assertEquals(m:vmstat().pgpgin, pgpgin)
  assert(f:write(5 * PAGE + 10, "y"))
  lu.assertEquals(m:vmstat().pgpgin - pgpgin, 4)
end

-- A fault retried after its readahead dropped the lock: under the per-VMA
-- lock (a user fault) the retry is not FAULT_FLAG_TRIED, so it counts as
-- minor and finds the page again (one more hit for mmap_miss); under the
-- mmap_lock (the kernel's copy in pwrite) it is, and counts as major.
function test_fault_retry_after_async_readahead()
  local m = memlab.new{ arch = "arm64", page_size = 65536, ram = "2G", seed = 1 }
  assert(m:disk{ read_ahead_kb = 2048 })        -- 32 pages of 64K
  local ps = 65536
  local f = m:file{ path = "/data/f", contents = ("x"):rep(100 * ps), writable = true }
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 100 * ps, "rw-", "shared", f, 0))
  assert(p:read(a + 20 * ps, 1))                -- 4..35 read around, 28 marked
  assert(p:read(a + 60 * ps, 1))                -- 44..75, 68 marked
  lu.assertEquals(f:ra().mmap_miss, 2)          -- no fault-around with 64K pages to count hits
  local mm0 = p:mm()
  assert(p:write(a + 28 * ps, "w"))             -- the mark: the next window, and a retry
  local mm1 = p:mm()
  lu.assertEquals({ mm1.min_flt - mm0.min_flt, mm1.maj_flt - mm0.maj_flt }, { 1, 0 })
  lu.assertEquals(f:ra().mmap_miss, 0)          -- the hit, and the retry's hit
  -- the kernel's read of the task's buffer, on the marked page 68
  local g = m:file{ path = "/data/g", size = 0, writable = true }
  assert(p:pwrite(g, a + 68 * ps, 16, 0))
  local mm2 = p:mm()
  lu.assertEquals({ mm2.min_flt - mm1.min_flt, mm2.maj_flt - mm1.maj_flt }, { 0, 1 })
  lu.assertTrue(m:check())
end

-- page_cache_prev_miss() with every page of its scan cached returns the
-- last index it scanned (itself cached), as the host does (diff_ra found
-- it): a 31-page read right after 32 cached pages counts 31 of them, not
-- more than it asks, and is read as a random read -- no window, no mark.
function test_prev_miss_counts_one_short()
  local m = machine()
  local f, p = file(m, 200), m:spawn{ name = "p" }
  assert(f:fadvise(10 * PAGE, 32 * PAGE, "willneed"))     -- 10..41 cached
  assert(f:read(42 * PAGE, 31 * PAGE))
  lu.assertEquals(cache(m, p, f), d(10) .. c(63) .. d(127))   -- 42..72, nothing past
  lu.assertEquals(f:ra().size, 0)
end

-- A marked page the readahead state did not leave (another stream's
-- window is the state now): the next window is sized by the cached run
-- after the mark (page_cache_async_ra's second case).
function test_async_ra_of_another_stream()
  local m = machine()
  local f, p = file(m, 300), m:spawn{ name = "p" }
  assert(f:read(0, 1))                   -- 0..3, page 1 marked
  assert(f:read(200 * PAGE, 1))          -- a random read: the state stays
  assert(f:read(201 * PAGE, 1))          -- follows it: a window at 201
  lu.assertEquals(f:ra().start, 201)
  assert(f:read(PAGE, 1))                -- page 1's mark, not where 201's state says
  -- run after the mark: 2..3 (2 pages, +1 asked) -> 3 -> x2 = 6, end aligned: 4..11
  local ra = f:ra()
  lu.assertEquals({ ra.start, ra.size, ra.async_size }, { 4, 8, 8 })
  lu.assertEquals(cache(m, p, f):sub(1, 12), "ccccRccccccc")
end

-- MADV_HUGEPAGE: two PMDs' worth from the PMD-aligned index, the second
-- async (one with MADV_RANDOM, marked at its start), ra->start left alone.
function test_hugepage_read_around()
  for _, case in ipairs{ { nil, 512, 1024, 1024 }, { "random", 512, 512, 512 } } do
    local m = machine()
    local f, p = file(m, 2000), m:spawn{ name = "p" }
    local a = assert(p:mmap(nil, 2000 * PAGE, "r--", "private", f, 0))
    assert(p:madvise(a, 2000 * PAGE, "hugepage"))
    if case[1] then assert(p:madvise(a, 2000 * PAGE, case[1])) end
    assert(p:read(a + 600 * PAGE, 1))
    local v = p:mincore(a, 2000 * PAGE)
    lu.assertEquals(select(2, v:gsub("1", "")), case[3])
    lu.assertEquals(v:sub(case[2] + 1, case[2] + case[3]), ("1"):rep(case[3]))
    lu.assertNil(m:kpageflags(p:translate(a + 600 * PAGE).pfn)[1].reclaim)
    lu.assertEquals(f:ra().start, 0)
    lu.assertEquals({ f:ra().size, f:ra().async_size }, { case[3], 512 })
    local q = m:spawn{ name = "q" }
    lu.assertEquals(cache(m, q, f):sub(case[4] + 1, case[4] + 1), "R")
  end
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
  lu.assertEquals({ m:disk{ read_ahead_kb = -1 } }, { nil, "EINVAL", 22 })
  lu.assertEquals(m:disk(), { read_ahead_kb = 128, max_sectors_kb = 1280 })
  -- above the disk's limit: clamped; 0: the default; read_ahead_kb in whole pages
  lu.assertEquals(m:disk{ max_sectors_kb = 40000 }.max_sectors_kb, 32767)
  lu.assertEquals(m:disk{ max_sectors_kb = 0, read_ahead_kb = 130 },
                  { read_ahead_kb = 128, max_sectors_kb = 1280 })
  -- new limits raise the window to VM_READAHEAD_PAGES (blk_apply_bdi_limits);
  -- max_user_sectors is 32 bits: kb << 1 wraps
  assert(m:disk{ read_ahead_kb = 16 })
  lu.assertEquals(m:disk{ max_sectors_kb = 64 }.read_ahead_kb, 128)
  lu.assertEquals(m:disk{ max_sectors_kb = 2147483648 }.max_sectors_kb, 1280)
  lu.assertEquals(m:disk{ max_sectors_kb = 2147483652 }.max_sectors_kb, 4)
  lu.assertEquals({ m:disk{ max_sectors_kb = 2147483649 } }, { nil, "EINVAL", 22 })
  assert(m:disk{ max_sectors_kb = 1280 })
  local big = memlab.new{ arch = "arm64", page_size = 65536, ram = "2G" }
  lu.assertEquals(big:disk().read_ahead_kb, 128)   -- 2 pages of 64K
  lu.assertEquals(big:disk{ read_ahead_kb = 100 }.read_ahead_kb, 64)
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
  -- a dirty page is written back and stays: under writeback during the
  -- drop (ext4 data=journal, measured), passed by, not deactivated
  assert(f:read(80 * PAGE, 1))
  assert(f:read(79 * PAGE, 1))
  assert(f:read(80 * PAGE, 1))                      -- twice: active
  m:lru_add_drain_all()
  assert(f:write(80 * PAGE, "dirty"))
  local deact = m:vmstat().pgdeactivate
  assert(f:fadvise(80 * PAGE, PAGE, "dontneed"))
  m:lru_add_drain_all()
  lu.assertEquals(m:vmstat().nr_dirty, 0)
  lu.assertEquals(f:ondisk(80 * PAGE, 5), "dirty")
  lu.assertEquals(m:vmstat().pgdeactivate, deact)
  lu.assertEquals(cache(m, p, f):sub(81, 81), "c")
  assert(f:fadvise(80 * PAGE, PAGE, "dontneed"))     -- clean now: it goes
  lu.assertEquals(cache(m, p, f):sub(81, 81), ".")
  -- a mapped page stays
  local a = assert(p:mmap(nil, PAGE, "r--", "shared", f, 90 * PAGE))
  assert(p:read(a, 1))
  assert(f:fadvise(90 * PAGE, PAGE, "dontneed"))
  lu.assertEquals(p:mincore(a, PAGE), "1")
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

-- arm64 asks 64K folios for text (exec_folio_order): the window starts at a
-- 16-page boundary and ends on one, within the VMA.
function test_exec_read_around_arm64()
  local m = memlab.new{ arch = "arm64", ram = "256M", seed = 1 }
  local f, p = file(m, 100), m:spawn{ name = "p" }
  local x = assert(p:mmap(nil, 100 * PAGE, "r-x", "private", f, 0))
  assert(p:read(x + 20 * PAGE, 1))
  lu.assertEquals({ f:ra().start, f:ra().size, f:ra().async_size }, { 16, 32, 0 })
  lu.assertEquals(cache(m, p, f), d(16) .. c(32) .. d(52))
  -- x86-64: order 0, from the page itself
  local m2 = machine()
  local g, q = file(m2, 100), m2:spawn{ name = "q" }
  local y = assert(q:mmap(nil, 100 * PAGE, "r-x", "private", g, 0))
  assert(q:read(y + 20 * PAGE, 1))
  lu.assertEquals({ g:ra().start, g:ra().size }, { 20, 32 })
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
  lu.assertEquals({ p:mincore(a + 1, 0) }, { nil, "EINVAL", 22 })     -- checked at len 0 too
  lu.assertEquals({ p:mincore(1 << 48, 0) }, { nil, "ENOMEM", 12 })
  assert(p:munmap(a + 4 * PAGE, PAGE))
  lu.assertEquals({ p:mincore(a, 8 * PAGE) }, { nil, "ENOMEM", 12 })
  lu.assertEquals({ p:mincore(0x7ffffffff000, 2 * PAGE) }, { nil, "ENOMEM", 12 })
end

function test_mincore_special_hugetlb_shmem()
  local m = machine()
  local p = m:spawn{ name = "p" }
  -- [vdso] and [vvar]: neither anonymous nor a file: can_do_mincore() says all
  for _, v in ipairs(p:vmas()) do
    if v.name == "[vdso]" or v.name == "[vvar]" then
      lu.assertEquals(p:mincore(v.start, v["end"] - v.start), ("1"):rep((v["end"] - v.start) // PAGE))
    end
  end
  -- hugetlb not faulted in (none reserved): not resident
  local h = assert(p:mmap(nil, 2 * 1024 * 1024, "rw-", "private|anonymous|hugetlb|noreserve"))
  lu.assertEquals(p:mincore(h, 4 * PAGE), "0000")
  -- shared anonymous memory: its shmem page stays resident when unmapped here
  local s = assert(p:mmap(nil, 4 * PAGE, "rw-", "shared|anonymous"))
  assert(p:write(s + PAGE, "x"))
  assert(p:madvise(s, 4 * PAGE, "dontneed"))
  lu.assertFalse(p:translate(s + PAGE).present)
  lu.assertEquals(p:mincore(s, 4 * PAGE), "0100")
end

-- fault_around_bytes is 64 KiB: 4 pages of 16K, and with 64K pages one,
-- which is no fault-around at all (should_fault_around()).
function test_fault_around_by_page_size()
  for _, case in ipairs{ { 16384, "1G", "1111" .. ("0"):rep(12) }, { 65536, "2G", "1" .. ("0"):rep(15) } } do
    local ps = case[1]
    local m = memlab.new{ arch = "arm64", page_size = ps, ram = case[2], seed = 1 }
    local f = m:file{ path = "/data/f", contents = ("x"):rep(16 * ps) }
    local p = m:spawn{ name = "p" }
    assert(f:read(0, 16 * ps))                 -- all cached, none marked
    local a = assert(p:mmap(nil, 16 * ps, "r--", "private", f, 0))
    assert(p:read(a, 1))
    local mapped = {}
    for i = 0, 15 do mapped[#mapped + 1] = p:translate(a + i * ps).present and "1" or "0" end
    lu.assertEquals(table.concat(mapped), case[3])
  end
end

-- DONTNEED drops the range's workingset shadows too: what it dropped
-- comes back as new pages, no refault.
function test_dontneed_clears_shadows()
  local MiB = 1024 * 1024
  local m = memlab.new{ ram = "64M", seed = 1 }
  local A = m:file{ path = "/data/a", size = 40 * MiB }
  local B = m:file{ path = "/data/b", size = 48 * MiB }
  local p = m:spawn{ name = "p" }
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  local function stream(f, n) for off = 0, n - 1, 65536 do assert(p:pread(f, buf, 65536, off)) end end
  stream(A, 40 * MiB)
  stream(A, 40 * MiB)
  stream(B, 48 * MiB)                          -- pushes part of A out: shadows left
  lu.assertEquals(m:vmstat().workingset_refault_file, 0)
  assert(A:fadvise(0, 0, "dontneed"))
  stream(A, 40 * MiB)
  lu.assertEquals(m:vmstat().workingset_refault_file, 0)
  -- the same without the fadvise: A's pages refault
  local m2 = memlab.new{ ram = "64M", seed = 1 }
  local A2 = m2:file{ path = "/data/a", size = 40 * MiB }
  local B2 = m2:file{ path = "/data/b", size = 48 * MiB }
  p = m2:spawn{ name = "p" }
  buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  stream(A2, 40 * MiB)
  stream(A2, 40 * MiB)
  stream(B2, 48 * MiB)
  stream(A2, 40 * MiB)
  lu.assertTrue(m2:vmstat().workingset_refault_file > 1000)
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
