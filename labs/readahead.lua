-- Readahead: how Linux reads a file before you ask for it
--
-- A read(2) that misses the page cache reads more than it asks: a small
-- window first, its last pages an "async tail" whose first page is marked
-- PG_readahead.  Reaching the mark reads the next window, larger, before
-- the reader gets there -- so a sequential reader, after its first read,
-- never waits.  Random reads read only what they ask.  Page faults read
-- around the faulting page.  This lab shows the windows as Linux 6.18
-- computes them (mm/readahead.c; tests/diff/diff_ra.c compares them with
-- the host's), the page cache as a strip -- '.' not cached, 'c' cached, 'R'
-- cached and marked PG_readahead -- what fadvise(2) changes, and the
-- large folios ext4 reads into when not mounted data=journal.  Every
-- claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE = 4096

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local p = m:spawn{ name = "reader", aslr = false }

local function file(name, pages)
  return assert(m:file{ path = "/data/" .. name, contents = ("x"):rep(pages * PAGE) })
end

-- The page cache of f as a strip, seen through a MADV_RANDOM mapping
-- that faults in only cached pages (no fault of it reads ahead).
local function strip(f, first, last)
  local pages = (f.size + PAGE - 1) // PAGE
  local a = assert(p:mmap(nil, pages * PAGE, "r--", "shared", f, 0))
  assert(p:madvise(a, pages * PAGE, "random"))
  local v, s = p:mincore(a, pages * PAGE), {}
  for i = first or 1, last or pages do
    if v:sub(i, i) == "1" then
      p:read(a + (i - 1) * PAGE, 1)
      s[#s + 1] = m:kpageflags(p:translate(a + (i - 1) * PAGE).pfn)[1].reclaim and "R" or "c"
    else
      s[#s + 1] = "."
    end
  end
  assert(p:munmap(a, pages * PAGE))
  return table.concat(s)
end

local function cached(f)
  return select(2, strip(f):gsub("[cR]", ""))
end

------------------------------------------------------------------------------
section("1. A sequential reader: the windows grow")

assert(m:disk{ read_ahead_kb = 512 })
local f = file("log", 400)
say("read_ahead_kb 512: windows of at most %d pages.", f:ra().ra_pages)
print()
print("  read of page   window read (pages)   async tail   cached")
local rows, last = {}, 0
for page = 0, 140 do
  local before = f:ra()
  assert(f:read(page * PAGE, PAGE))
  local ra = f:ra()
  if ra.start ~= before.start or ra.size ~= before.size then
    local n = cached(f)
    say("  %12d   %4d .. %-4d (%3d)     %4d         %4d %s", page, ra.start,
        ra.start + ra.size - 1, ra.size, ra.async_size, n, ("#"):rep(n // 8))
    rows[#rows + 1] = ra.size
    assert(ra.start >= last)
    last = ra.start
  end
end
print()
say("Each window is read when the reader reaches the mark left by the one")
say("before (page 1, then 4, 20, 52, 116): x4 while below a sixteenth of the")
say("limit, then x2, up to it; the reader never waits again after page 0.")
assert(rows[1] == 4 and rows[2] == 16 and rows[3] == 32 and rows[4] == 64 and rows[5] == 128)
print(strip(f, 1, 100) .. "...")

------------------------------------------------------------------------------
section("2. Random reads read only themselves")

assert(m:disk{ read_ahead_kb = 128 })
local r = file("db", 200)
for _, page in ipairs{ 150, 20, 90 } do assert(r:read(page * PAGE, 100)) end
say("reads of 100 bytes at pages 150, 20, 90: %d pages cached.", cached(r))
assert(cached(r) == 3)
say("(none starts the file, follows the last read or follows cached pages:")
say("a random read, read as is, the readahead state left alone)")
assert(r:read(0, 100))
say("a read of 100 bytes at page 0 -- the start of a file is taken for a stream: %d more.",
    cached(r) - 3)
assert(cached(r) == 3 + 4)
print(strip(r, 1, 160))

------------------------------------------------------------------------------
section("3. A page fault reads around the page")

local g = file("lib", 128)
local a = assert(p:mmap(0x7e0000000000, 128 * PAGE, "r--", "private|fixed", g, 0))
local maj = p:mm().maj_flt
assert(p:read(a + 60 * PAGE, 1))
say("touch page 60: a major fault (+%d); read-around 44..75, its async tail the", p:mm().maj_flt - maj)
say("last 8 pages, marked at 68:")
print(strip(g, 41, 80))
assert(strip(g, 45, 76) == ("c"):rep(24) .. "R" .. ("c"):rep(7))
local mapped = {}
for i = 41, 80 do mapped[#mapped + 1] = p:translate(a + (i - 1) * PAGE).present and "m" or "." end
say("what the fault mapped (its retry's fault-around: 48..63 cached):")
print(table.concat(mapped))
local min = p:mm().min_flt
assert(p:read(a + 68 * PAGE, 1))
say("touch page 68, the marked one: a minor fault (+%d) that reads the next", p:mm().min_flt - min)
say("window, 76..107, before anyone asks:")
print(strip(g, 41, 112))
assert(strip(g, 77, 108) == "R" .. ("c"):rep(31))

------------------------------------------------------------------------------
section("4. fadvise(2)")

local h = file("video", 300)
assert(h:fadvise(0, 0, "sequential"))
say("POSIX_FADV_SEQUENTIAL doubles the window: ra_pages %d.", h:ra().ra_pages)
assert(h:ra().ra_pages == 64)
assert(h:fadvise(0, 0, "random"))
assert(h:read(0, 3 * PAGE))
say("POSIX_FADV_RANDOM: a read of 3 pages reads 3: %d cached.", cached(h))
assert(cached(h) == 3)
assert(h:fadvise(100 * PAGE, 150 * PAGE, "willneed"))
say("POSIX_FADV_WILLNEED of pages 100..249: read now, at most")
say("max(read_ahead_kb, max_sectors_kb) = %d pages of it: %d cached.",
    math.max(m:disk().read_ahead_kb, m:disk().max_sectors_kb) // 4, cached(h))
assert(cached(h) == 3 + 150)
assert(h:fadvise(100 * PAGE, 100 * PAGE + 1, "dontneed"))
say("POSIX_FADV_DONTNEED of 100 pages and a byte: the 100 whole pages go,")
say("the partial last one stays: %d cached.", cached(h))
assert(cached(h) == 3 + 50)

------------------------------------------------------------------------------
section("5. Large folios: ext4 without data=journal")

-- Folios as a strip: a small one 'c', a large one 'H' then 't' for each
-- page after its head; 'R' where the folio is marked PG_readahead.
local function folios(f, first, last)
  local s = {}
  for _, fo in ipairs(f:folios()) do
    for i = 0, fo.pages - 1 do
      s[fo.index + i + 1] = fo.readahead and "R" or (fo.pages == 1 and "c") or (i == 0 and "H" or "t")
    end
  end
  local out = {}
  for i = first, last do out[#out + 1] = s[i] or "." end
  return table.concat(out)
end

assert(m:disk{ read_ahead_kb = 128 })
local big = assert(m:file{ path = "/data/big", contents = ("x"):rep(512 * PAGE), large_folios = true })
print("  read of pages   ra order   the page cache's folios, pages 0..127")
for i = 0, 6 do
  assert(big:read(i * 16 * PAGE, 16 * PAGE))
  say("  %4d .. %-4d   %8d   %s", i * 16, i * 16 + 15, big:ra().order, folios(big, 1, 128))
end
say("The first window is read in pages; each async window asks for folios two")
say("orders larger (ra->order += 2), up to the window's size: 4 pages (16K),")
say("then 16 (64K), then 32 (128K) -- the whole 128K window in one folio.")
local sizes = {}
for _, fo in ipairs(big:folios()) do sizes[fo.index] = fo.pages end
assert(sizes[0] == 1 and sizes[32] == 4 and sizes[64] == 16 and sizes[96] == 32)
local hm = m:vmstat().nr_file_pages
local b = assert(p:mmap(nil, 512 * PAGE, "r--", "shared", big, 0))
local rss = p:mm().rss_file
assert(p:read(b + 100 * PAGE, 1))
say("touch page 100 of a mapping: fault-around maps its folio, 96..127, whole:")
say("+%d pages of RSS (a 16-page window with small folios).", p:mm().rss_file - rss)
assert(p:mm().rss_file - rss == 32 and m:vmstat().nr_file_pages == hm)
assert(p:munmap(b, 512 * PAGE))

local huge = assert(m:file{ path = "/data/huge", contents = ("x"):rep(2048 * PAGE), large_folios = true })
local h2 = assert(p:mmap(nil, 2048 * PAGE, "r--", "shared", huge, 0))
assert(p:madvise(h2, 2048 * PAGE, "hugepage"))
assert(p:read(h2 + 700 * PAGE, 1))
local two = {}
for _, fo in ipairs(huge:folios()) do two[#two + 1] = ("pages %d..%d"):format(fo.index, fo.index + fo.pages - 1) end
say("MADV_HUGEPAGE: a fault at page 700 reads two 2 MiB folios (%s),", table.concat(two, ", "))
say("and a PMD maps the one it hit (the sysfs THP setting does not matter):")
say("FilePmdMapped %d kB, thp_file_mapped %d.",
    m:proc(p.pid .. "/smaps_rollup"):match("FilePmdMapped:%s+(%d+)"), m:vmstat().thp_file_mapped)
assert(p:translate(h2 + 700 * PAGE).huge and m:vmstat().thp_file_mapped == 1)
assert(p:munmap(h2, 2048 * PAGE))

assert(m:check(), "the machine's invariants hold")
