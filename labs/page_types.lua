-- What the frames hold: page-types on a simulated machine
--
-- Linux shows root what every physical page is in /proc/kpageflags (a
-- word of flags per frame) and /proc/kpagecount (how many page tables
-- map it), and the kernel's tools/mm/page-types tool sums them up.
-- m:kpageflags and m:page_types give the same view of memlab's machine.
-- This lab follows a process through a fork: its small pages, a huge page
-- and zero pages, first its own (anon_exclusive, mapped once), then
-- shared with the child (mapped twice, exclusive to no one), then copied
-- by a write.  Every claim is checked with assert();
-- tests/diff/diff_thp.c and diff_rss.c compare the same flags with the
-- host kernel's.

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, HP, MiB = 4096, 2 * 1024 * 1024, 1024 * 1024
local BASE = 0x7e0000000000

local m = memlab.new{ arch = "x86_64", ram = "128M", seed = 1 }

-- The summary lines of page-types output, by long flag names.
local function summary(text)
  local pages = {}
  for flags, n, names in text:gmatch("0x(%x+)\t%s*(%d+)%s+%d+%s+%S+\t([^\n]*)") do
    pages[names] = tonumber(n)
  end
  return pages
end

------------------------------------------------------------------------------
section("1. A machine just booted")

local text = m:page_types()
io.write(text)
local s = summary(text)
say("Most frames are free (buddy: %d of %d); the %d with no flags are the", s.buddy, 32768,
    s[""])
say("kernel's reserved memory (page-types shows `reserved' only in raw mode),")
say("and one of them is the zero page.")
assert(s.buddy + s[""] + s.zero_page == 32768)

------------------------------------------------------------------------------
section("2. A process: small pages, a huge page, zero pages")

local p = m:spawn{ name = "p", aslr = false }
assert(p:mmap(BASE, 4 * HP, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:write(BASE, string.rep("s", 1 * MiB)))          -- 256 small pages
assert(p:read(BASE + 1 * MiB, 64 * PAGE))                 -- 64 reads: the zero page
assert(p:madvise(BASE + 2 * HP, HP, "hugepage"))
assert(p:write(BASE + 2 * HP, "h"))                       -- one huge page
text = m:page_types{ task = p, raw = true }
io.write(text)
s = summary(text)
say("page-types -p -r: 256 small pages and the 512 of the huge page are the")
say("process's own (anon_exclusive) and mapped once (mmap_exclusive); the 64")
say("reads all map the one zero page, which nothing counts as mapped.")
assert(s["uptodate,lru,mmap,anonymous,swapbacked,anon_exclusive,mmap_exclusive"] == 256)
assert(s["uptodate,lru,mmap,anonymous,swapbacked,compound_tail,thp,anon_exclusive,mmap_exclusive"] == 511)
assert(s["zero_page,reserved"] == 64)
local small = m:kpageflags(p:pagemap(BASE)[1].pfn)[1]
say("The first small page: kpageflags %#x (%s), kpagecount %d.", small.raw, small.flags, small.count)
assert(small.count == 1 and small.owner_2 and not small.dirty)

------------------------------------------------------------------------------
section("3. fork: every page shared")

local child = p:fork()
text = m:page_types{ task = child, raw = true }
io.write(text)
s = summary(text)
small = m:kpageflags(child:pagemap(BASE)[1].pfn)[1]
say("In the child the same frames: no page is exclusive to anyone any more,")
say("and each is mapped twice (kpagecount %d); the huge page too, by two PMDs.", small.count)
assert(small.count == 2 and not small.owner_2)
assert(s["uptodate,lru,mmap,anonymous,swapbacked"] == 256)
local head = m:kpageflags(child:pagemap(BASE + 2 * HP)[1].pfn)[1]
assert(head.compound_head and head.thp and head.count == 2)

------------------------------------------------------------------------------
section("4. The child writes a small page and the huge page")

assert(child:write(BASE, "c"))
assert(child:write(BASE + 2 * HP + PAGE, "c"))
local copied = m:kpageflags(child:pagemap(BASE)[1].pfn)[1]
local before = m:kpageflags(p:pagemap(BASE)[1].pfn)[1]
say("The child's copy of the first page is its own again (%s, count %d);",
    copied.flags, copied.count)
say("the parent's page is mapped once now, but stays shared-marked until the")
say("parent writes it (count %d, owner_2 %s).", before.count, tostring(before.owner_2 or false))
assert(copied.count == 1 and copied.owner_2 and before.count == 1 and not before.owner_2)
local split = m:kpageflags(child:pagemap(BASE + 2 * HP + PAGE)[1].pfn)[1]
local whole = m:kpageflags(p:pagemap(BASE + 2 * HP)[1].pfn)[1]
say("The write to the huge page split only the child's PMD and copied 4 KiB:")
say("the copy is a small page (%s); the huge page stays whole, mapped by the", split.flags)
say("parent's PMD and the child's 511 other PTEs (its head's count: %d).", whole.count)
assert(not split.thp and whole.thp and whole.count == 2)
assert(m:check())
