-- Mapping a file: the page cache, private copies, shared writes and write-back
--
-- A file mapping's pages are the page cache's pages.  A read fault on a
-- page not cached reads it from the disk -- a major fault -- and reads
-- around it; a read fault on a cached page is minor and maps its cached
-- neighbours too (fault-around), but for a page marked PG_readahead, whose
-- own fault reads the next window ahead.  MAP_PRIVATE writes copy the page into
-- anonymous memory; MAP_SHARED writes dirty the cached page itself, which
-- every mapping and read() then see at once, while the disk keeps the old
-- bytes until write-back: not at munmap or exit, but at msync(MS_SYNC),
-- fsync, sync or the flusher.  ftruncate takes the pages past the new end
-- from the cache and from every mapping, a private copy too: touching
-- them is SIGBUS.  Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE = 4096
local NPAGES = 64

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local parts = {}
for i = 0, NPAGES - 1 do parts[#parts + 1] = string.format("page %-4d", i) .. ("."):rep(PAGE - 9) end
local f = assert(m:file{ path = "/data/book", contents = table.concat(parts), writable = true })
local p = m:spawn{ name = "reader", aslr = false }
local function vm() return m:vmstat() end
-- Mappings go to hinted, 2 MiB-aligned addresses so that the fault-around
-- windows (aligned in the address space) are easy to follow.
local next_hint = 0x7e0000000000
local function hint() next_hint = next_hint + 0x200000 return next_hint end
local function rss(task, kind) return task:mm()["rss_" .. kind] end

------------------------------------------------------------------------------
section("1. MAP_PRIVATE, reading: a major fault, read-around, fault-around")

local a = assert(p:mmap(hint(), f.size, "r--", "private", f, 0))
say("%s is %d pages (%d KiB), mapped read-only private at 0x%x.", f.path, NPAGES,
    f.size // 1024, a)
local maj0, cache0 = p:mm().maj_flt, vm().nr_file_pages
assert(p:read(a + 20 * PAGE, 9) == "page 20  ")
say("read page 20: maj_flt +%d, pgmajfault %d; the page cache grew by %d pages",
    p:mm().maj_flt - maj0, vm().pgmajfault, vm().nr_file_pages - cache0)
say("(pages 4..35: the 32-page read-around window centred on the miss); RssFile %d:",
    rss(p, "file"))
print("Linux dropped the mmap lock for the read and retried the fault, and the")
print("retry mapped the cached pages of page 20's 16-page window, 16..31 -- all but")
print("page 28, the first of the window's 8-page async tail: marked PG_readahead, it")
print("is left to a fault of its own, which will read the next window ahead.")
assert(p:mm().maj_flt - maj0 == 1 and vm().nr_file_pages - cache0 == 32 and rss(p, "file") == 15)
for i = 16, 31 do assert(p:translate(a + i * PAGE).present == (i ~= 28)) end
local min0 = p:mm().min_flt
assert(p:read(a + 33 * PAGE, 9) == "page 33  ")
say("read page 33 (cached): a minor fault (+%d), fault-around maps what is cached of", p:mm().min_flt - min0)
say("its window 32..47 -- pages 32..35: RssFile %d.", rss(p, "file"))
assert(p:mm().min_flt - min0 == 1 and p:mm().maj_flt - maj0 == 1 and rss(p, "file") == 19)
assert(p:translate(a + 35 * PAGE).present and not p:translate(a + 36 * PAGE).present)
cache0, min0 = vm().nr_file_pages, p:mm().min_flt
assert(p:read(a + 28 * PAGE, 9) == "page 28  ")
say("read page 28, the marked one: a minor fault (+%d) that reads the next window,", p:mm().min_flt - min0)
say("32 pages from 36, clipped to the file: 36..63 (%d pages), before anyone asks for", vm().nr_file_pages - cache0)
say("them; the retry maps page 28: RssFile %d.", rss(p, "file"))
assert(p:mm().min_flt - min0 == 1 and p:mm().maj_flt - maj0 == 1)
assert(vm().nr_file_pages - cache0 == 28 and rss(p, "file") == 20)

------------------------------------------------------------------------------
section("2. MAP_PRIVATE, writing: a private copy")

local w = assert(p:mmap(hint(), f.size, "rw-", "private", f, 0))
local cached = p:translate(a + 21 * PAGE).pfn
assert(cached)
assert(p:write(w + 21 * PAGE, "PRIVATE"))
local copy = p:translate(w + 21 * PAGE)
say("write 'PRIVATE' to page 21 of a rw- private mapping: the page is now anonymous")
say("frame 0x%x (the cached page is 0x%x); RssAnon %d.", copy.pfn, cached, rss(p, "anon"))
assert(copy.pfn ~= cached and m:page(copy.pfn).anon and rss(p, "anon") == 1)
assert(f:read(21 * PAGE, 9) == "page 21  " and p:read(a + 21 * PAGE, 7) == "page 21")
print("The file, read() and the other mapping still say 'page 21': do_cow_fault()")
print("copied the cached page, and the write went to the copy.")

------------------------------------------------------------------------------
section("3. A read-only file: no shared writable mapping")

local ro = assert(m:file{ path = "/data/ro", contents = "constant", writable = false })
local r, err, errno = p:mmap(0, PAGE, "rw-", "shared", ro, 0)
say("mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of a file opened O_RDONLY --> %s, %s, %s",
    tostring(r), err, errno)
assert(r == nil and err == "EACCES")
local ra = assert(p:mmap(0, PAGE, "r--", "shared", ro, 0))
local ok, sig, code = p:write(ra, "x")
say("mapped r-- instead; a write --> %s, %s, %s", tostring(ok), sig, code)
assert(ok == nil and sig == "SIGSEGV" and code == "SEGV_ACCERR")
local past = assert(p:mmap(0, 2 * PAGE, "r--", "shared", ro, 0))
ok, sig, code = p:read(past + PAGE, 1)
say("a 2-page mapping of the 8-byte file, page 1 --> %s, %s, %s (past the end of the file)",
    tostring(ok), sig, code)
assert(ok == nil and sig == "SIGBUS" and code == "BUS_ADRERR")

------------------------------------------------------------------------------
section("4. MAP_SHARED: one page, seen by all, dirty until written back")

local s = assert(p:mmap(hint(), f.size, "rw-", "shared", f, 0))
local q = m:spawn{ name = "watcher", aslr = false }
local qs = assert(q:mmap(0, f.size, "r--", "shared", f, 0))
assert(q:read(qs + 3 * PAGE, 6) == "page 3")
assert(not p:translate(s + 3 * PAGE).present)
assert(p:read(s + 3 * PAGE, 1) == "p")
say("After a read, the shared writable entry is read-only (write=%s): ext4 wants",
    tostring(p:translate(s + 3 * PAGE).write))
print("to hear of the first write (vma_wants_writenotify).")
assert(not p:translate(s + 3 * PAGE).write)
local dirty0, flt0 = vm().nr_dirty, p:mm().min_flt
assert(p:write(s + 3 * PAGE, "SHARED"))
say("write 'SHARED' to page 3: a write-protect fault (+%d), nr_dirty %d -> %d.",
    p:mm().min_flt - flt0, dirty0, vm().nr_dirty)
assert(vm().nr_dirty == dirty0 + 1 and p:mm().min_flt - flt0 == 1)
say("the watcher reads %q, read() gives %q, the disk still holds %q.",
    q:read(qs + 3 * PAGE, 6), f:read(3 * PAGE, 6), f:ondisk(3 * PAGE, 6))
assert(q:read(qs + 3 * PAGE, 6) == "SHARED" and f:read(3 * PAGE, 6) == "SHARED")
assert(f:ondisk(3 * PAGE, 6) == "page 3")

assert(p:munmap(s, f.size))
say("munmap: nr_dirty %d, disk %q -- unmapping writes nothing back.", vm().nr_dirty,
    f:ondisk(3 * PAGE, 6))
assert(vm().nr_dirty == dirty0 + 1 and f:ondisk(3 * PAGE, 6) == "page 3")

s = assert(p:mmap(hint(), f.size, "rw-", "shared", f, 0))
assert(p:write(s + 5 * PAGE, "MSYNC!"))
local written0 = vm().nr_written
assert(p:msync(s, f.size, "sync"))
say("msync(MS_SYNC) of a new mapping: nr_written +%d, nr_dirty %d, the disk holds %q and %q;",
    vm().nr_written - written0, vm().nr_dirty, f:ondisk(3 * PAGE, 6), f:ondisk(5 * PAGE, 6))
assert(vm().nr_written - written0 == 2 and vm().nr_dirty == 0)
assert(f:ondisk(3 * PAGE, 6) == "SHARED" and f:ondisk(5 * PAGE, 6) == "MSYNC!")
local e = p:translate(s + 5 * PAGE)
say("the entry of page 5 is clean and read-only again (dirty=%s, write=%s),", tostring(e.dirty),
    tostring(e.write))
print("so that the next write faults and dirties the page again (folio_mkclean).")
assert(not e.dirty and not e.write)
flt0 = p:mm().min_flt
assert(p:write(s + 5 * PAGE, "AGAIN!"))
assert(p:mm().min_flt - flt0 == 1 and vm().nr_dirty == 1)

p:exit()
say("The writer exits: nr_dirty %d, the disk still holds %q.", vm().nr_dirty,
    f:ondisk(5 * PAGE, 6))
assert(vm().nr_dirty == 1 and f:ondisk(5 * PAGE, 6) == "MSYNC!")
assert(m:sync())
say("sync(): nr_dirty %d, the disk holds %q.", vm().nr_dirty, f:ondisk(5 * PAGE, 6))
assert(vm().nr_dirty == 0 and f:ondisk(5 * PAGE, 6) == "AGAIN!")

------------------------------------------------------------------------------
section("5. ftruncate: the pages past the end go, from every mapping")

local w = m:spawn{ name = "truncator", aslr = false }
local ws = assert(w:mmap(hint(), f.size, "r--", "shared", f, 0))
local wp = assert(w:mmap(hint(), f.size, "rw-", "private", f, 0))
assert(w:read(ws + 40 * PAGE, 7) == "page 40" and w:read(ws + 10 * PAGE, 7) == "page 10")
assert(w:write(wp + 50 * PAGE, "MINE"))
local file0, anon0, cache1 = rss(w, "file"), rss(w, "anon"), vm().nr_file_pages
assert(f:truncate(10 * PAGE + 4))
say("ftruncate to 10 pages and 4 bytes: the page cache %d -> %d pages (0..10 stay),",
    cache1, vm().nr_file_pages)
say("RssFile %d -> %d, RssAnon %d -> %d: the private copy of page 50 went too",
    file0, rss(w, "file"), anon0, rss(w, "anon"))
print("(unmap_mapping_range with even_cows: the file's page is gone for everyone).")
assert(vm().nr_file_pages == 11 and rss(w, "anon") == 0 and rss(w, "file") < file0)
local tail = w:read(ws + 10 * PAGE, 8)
say("page 10 holds the end: it reads %q -- ext4 zeroed the block past the end.", tail)
assert(tail == "page\0\0\0\0")
for _, at in ipairs{ { ws, 11, "shared" }, { wp, 50, "private" } } do
  local ok, sig, code = w:read(at[1] + at[2] * PAGE, 1)
  say("a read of page %d of the %s mapping --> %s, %s, %s", at[2], at[3], tostring(ok), sig, code)
  assert(ok == nil and sig == "SIGBUS" and code == "BUS_ADRERR")
end
w:exit()

q:exit()
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
