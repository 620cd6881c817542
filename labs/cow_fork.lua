-- Copy-on-write fork: shared frames, the copy on first write, and the counters
--
-- fork() does not copy a process's memory.  dup_mmap() copies the VMAs and,
-- for private memory that has pages, the page-table entries: both
-- processes map the same frames, write-protected (copy_present_pte), with
-- the frame's mapcount and refcount raised.  The first write on either
-- side faults, and do_wp_page() copies the frame -- or reuses it in place
-- when no one else maps it any more.  This lab forks a process holding
-- more than half of the machine's memory, three generations deep, and
-- watches frames, mapcounts and counters; a kernel write into a shared
-- page (a read() into a buffer) breaks the sharing too.  Every claim is
-- checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE, MiB = 4096, 1024 * 1024

local m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
-- Free frames, the CPUs' folio batches drained first: a page let go by
-- an exit stays held by the batch it waits in until then.
local function free_pages()
  m:lru_add_drain_all()
  m:drain_pages()
  return m:vmstat().nr_free_pages
end
local function rmap_pids(pfn)
  local pids = {}
  for _, r in ipairs(m:rmap(pfn)) do pids[#pids + 1] = r.pid end
  table.sort(pids)
  return table.concat(pids, ",")
end

------------------------------------------------------------------------------
section("1. A parent holding more than half of memory")

local free_boot = free_pages()
local parent = m:spawn{ name = "parent", aslr = false }
local LEN = 40 * MiB
local buf = assert(parent:mmap(0, LEN, "rw-", "private|anonymous"))
local npages = LEN // PAGE
for i = 0, npages - 1 do assert(parent:write(buf + i * PAGE, string.pack("<I4", i))) end
local total = m:info().nr_frames
local free0 = free_pages()
say("The machine has %d frames (64 MiB); the parent wrote all %d pages of a",
    total, npages)
say("40 MiB buffer at 0x%x.  Free frames now: %d -- fewer than the buffer needs.",
    buf, free0)
assert(free0 < npages, "a copying fork could not succeed")

------------------------------------------------------------------------------
section("2. fork(): nothing copied")

local child = assert(parent:fork())
local child_pid = child.pid
local free1 = free_pages()
say("fork() --> pid %d.  Free frames: %d -> %d (%d taken, for the child's page", child.pid,
    free0, free1, free0 - free1)
print("tables; a copying fork would have needed " .. npages .. " frames and failed).")
assert(free0 - free1 < 40)
local a = buf + 7 * PAGE
local tp, tc = parent:translate(a), child:translate(a)
local pg = m:page(tp.pfn)
say("Page 7: parent pfn 0x%x, child pfn 0x%x; write bit parent %s, child %s.", tp.pfn,
    tc.pfn, tostring(tp.write), tostring(tc.write))
say("The frame: mapcount %d, refcount %d, mapped by pids {%s}, anon_exclusive %s.",
    pg.mapcount, pg.refcount, rmap_pids(tp.pfn), tostring(pg.anon_exclusive))
assert(tp.pfn == tc.pfn and not tp.write and not tc.write)
assert(pg.mapcount == 2 and pg.refcount == 2 and not pg.anon_exclusive)
assert(child:read(a, 4) == string.pack("<I4", 7), "the child sees the parent's data")
assert(child:mm().rss_anon == npages, "the child's RSS counts the shared pages too")

------------------------------------------------------------------------------
section("3. The first write copies; the last sharer reuses")

local cflt, reuse0 = child:mm().min_flt, m:vmstat().pgreuse
assert(child:write(a, "CHLD"))
local tc2 = child:translate(a)
say("child writes page 7: a fault (min_flt +%d), a new frame 0x%x, writable.",
    child:mm().min_flt - cflt, tc2.pfn)
assert(child:mm().min_flt - cflt == 1 and tc2.pfn ~= tp.pfn and tc2.write)
assert(parent:read(a, 4) == string.pack("<I4", 7), "the parent's copy is untouched")
pg = m:page(tp.pfn)
say("The old frame 0x%x: mapcount %d, refcount %d, still read-only in the parent.",
    tp.pfn, pg.mapcount, pg.refcount)
assert(pg.mapcount == 1 and pg.refcount == 1 and not parent:translate(a).write)
local free2 = free_pages()
assert(parent:write(a, "PRNT"))
say("parent writes page 7: no copy (free frames %d -> %d), pgreuse +%d: do_wp_page()",
    free2, free_pages(), m:vmstat().pgreuse - reuse0)
print("saw the only mapping and made the same frame writable again.")
assert(parent:translate(a).pfn == tp.pfn and parent:translate(a).write)
assert(free_pages() == free2 and m:vmstat().pgreuse - reuse0 == 1)

------------------------------------------------------------------------------
section("4. Three generations")

local grandchild = assert(child:fork())
local b = buf + 9 * PAGE
local pfn = parent:translate(b).pfn
say("The grandchild (pid %d) forks from the child: page 9 is one frame (0x%x)", grandchild.pid,
    pfn)
say("mapped by pids {%s}, mapcount %d.", rmap_pids(pfn), m:page(pfn).mapcount)
assert(m:page(pfn).mapcount == 3 and rmap_pids(pfn) == table.concat({ parent.pid, child.pid,
       grandchild.pid }, ","))
assert(grandchild:write(b, "GRND"))
say("The grandchild writes it: its own copy; the frame keeps %d mappings.",
    m:page(pfn).mapcount)
assert(m:page(pfn).mapcount == 2)
assert(parent:read(b, 4) == string.pack("<I4", 9) and child:read(b, 4) == string.pack("<I4", 9))
grandchild:exit()
assert(m:check())

------------------------------------------------------------------------------
section("5. A kernel write into a shared page: read() into the buffer")

local f = assert(m:file{ path = "/data/msg", contents = "from the file" })
local c = buf + 11 * PAGE
local before = child:translate(c).pfn
local n = assert(child:pread(f, c, 13, 0))
say("child: pread(fd, 0x%x, 13, 0) --> %d.  The kernel's copy_to_user() faulted", c, n)
say("on the write-protected entry like a user write: the child now has frame 0x%x,",
    child:translate(c).pfn)
print("the parent still reads its own data.")
assert(n == 13 and child:read(c, 13) == "from the file" and child:translate(c).pfn ~= before)
assert(parent:read(c, 4) == string.pack("<I4", 11))

------------------------------------------------------------------------------
section("6. Writing it all: the memory was overcommitted")

local copied, err = 0, nil
for i = 0, npages - 1 do
  local ok, e = child:write(buf + i * PAGE, "c")
  if not ok then err = e break end
  copied = copied + 1
end
say("The child writes every page: %d writes succeed, then --> nil, %s.", copied, tostring(err))
print("Each write of a shared page needs a frame; after the free ones are used up")
print("the fault finds none.  Reclaim finds nothing to free (anonymous memory needs")
print("swap, and there is none), so the OOM killer runs: it kills the process with")
print("the largest RSS + page tables -- the child, as pid 1 (the parent here) is")
print("init, which the OOM killer never chooses.  The kernel log (m:dmesg()) ends with:")
local log = m:dmesg()
local killed = log:match("Out of memory: Killed process [^\n]*")
print("  " .. killed)
assert(err == "SIGKILL" and copied < npages)
assert(killed:find("Killed process " .. child_pid .. " ", 1, true))
assert(tostring(child) == "memlab.task (exited)", "the killed child has exited")
local free3 = free_pages()
say("The child exits: its copies are freed (%d frames free).", free3)
parent:exit()
local cached, slab = m:vmstat().nr_file_pages, m:vmstat().nr_slab_unreclaimable
local v = m:vmalloc_stats()
local stacks, tables = v.cached_stack_pages, v.kernel_pgtables + (v.kernel_pgd and 1 or 0)
say("The parent exits: %d frames free -- all there were at boot but the %d page(s)", free_pages(),
    cached)
say("the page cache keeps of the file read in section 5, the %d pages of slabs", slab)
print("SLUB keeps, empty, for the next task_struct, mm_struct, VMAs, anon_vmas and links,")
say("and the %d pages of kernel stacks the CPU keeps for the next tasks, with the %d page", stacks,
    tables)
print("tables of the vmalloc range that map them.")
assert(free_pages() == free_boot - cached - slab - stacks - tables, "nothing leaked")
for _, name in ipairs{ "task_struct", "mm_struct", "vm_area_struct", "anon_vma", "anon_vma_chain" } do
  assert(m:slab_cache(name):info().objects == 0, "no " .. name .. " is left")
end
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
