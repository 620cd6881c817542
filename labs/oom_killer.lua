-- The OOM killer: whom Linux kills when memory runs out, and why
--
-- When a page fault's allocation finds no free frame (and reclaim found
-- nothing it could free: anonymous memory needs swap, and there is none),
-- the page allocator runs out_of_memory() (mm/oom_kill.c): it scores every
-- process -- oom_badness() = RSS + swap entries + page-table pages +
-- oom_score_adj thousandths of RAM -- and SIGKILLs the highest, with its
-- threads and every process sharing its memory.  The allocation is then
-- retried, and the fault completes.  /proc/PID/oom_score shows the score scaled to 0..2000, and
-- oom_score_adj (-1000..1000) moves it; -1000 means "never".  This lab
-- fills a 32 MiB machine with a hog, watches the OOM killer choose a
-- bigger process first and then the hog, prints the kernel log, and
-- protects a database with oom_score_adj.  Every claim is checked with
-- assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE = 4096

local m = memlab.new{ arch = "x86_64", ram = "32M", seed = 1 }
m:sysctl{ overcommit_memory = 1 }     -- let the hog map more than there is
-- Free frames, the CPUs' folio batches drained first: a page let go by
-- an exit stays held by the batch it waits in until then.
local function free_pages()
  m:lru_add_drain_all()
  m:drain_pages()
  return m:vmstat().nr_free_pages
end
local function alive(p) return tostring(p) ~= "memlab.task (exited)" end
local function score(p) return tonumber(m:proc(p.pid .. "/oom_score")) end

-- Write one byte in each of n pages of a new anonymous mapping.
local function fill(p, n)
  local addr = assert(p:mmap(nil, n * PAGE, "rw", "private|anonymous"))
  for i = 0, n - 1 do
    local ok, sig = p:write(addr + i * PAGE, "x")
    if not ok then return i, sig end
  end
  return n
end

------------------------------------------------------------------------------
section("1. Three processes and their scores")

local free_boot = free_pages()
local init = m:spawn{ name = "init" }
local db = m:spawn{ name = "database", root = true }
assert(fill(db, 3000) == 3000)
local cache = m:spawn{ name = "cache" }
assert(fill(cache, 2500) == 2500)
local hog = m:spawn{ name = "hog" }
say("%d frames were free at boot.  init (pid %d), database (pid %d, 3000 pages),", free_boot,
    init.pid, db.pid)
say("cache (pid %d, 2500 pages) and hog (pid %d, nothing yet) run.", cache.pid, hog.pid)
say("oom_score: init %d, database %d, cache %d, hog %d.", score(init), score(db), score(cache),
    score(hog))
print("init (pid 1) is never chosen; a process with no memory scores 666, 2/3 of 1000.")
assert(score(init) == 0 and score(hog) == 666 and score(db) > score(cache))

------------------------------------------------------------------------------
section("2. The database protects itself")

assert(db:oom_score_adj(-1000) == -1000)
say("database writes -1000 to /proc/%d/oom_score_adj (it runs as root: lowering", db.pid)
say("needs CAP_SYS_RESOURCE).  Its oom_score is now %d.  cache tries -1: %s.", score(db),
    select(2, cache:oom_score_adj(-1)))
assert(score(db) == 0 and select(2, cache:oom_score_adj(-1)) == "EACCES")

------------------------------------------------------------------------------
section("3. The hog touches memory until the OOM killer acts")

m:dmesg(true)
local n, sig = fill(hog, 8192)
say("hog wrote %d pages, then --> nil, %s.", n, tostring(sig))
say("database alive: %s, cache alive: %s, hog alive: %s; vmstat oom_kill = %d.",
    tostring(alive(db)), tostring(alive(cache)), tostring(alive(hog)), m:vmstat().oom_kill)
print("The first OOM chose cache, the biggest process that may be killed: the hog's")
print("allocation was retried, its fault completed and the writes went on.  The")
print("second chose the hog itself: its access ends in SIGKILL, and the task has")
print("exited when the call returns.")
assert(sig == "SIGKILL" and alive(db) and not alive(cache) and not alive(hog))
assert(m:vmstat().oom_kill == 2)

------------------------------------------------------------------------------
section("4. The kernel log (m:dmesg())")

local log = m:dmesg()
io.write(log)
local victims = {}
for pid in log:gmatch("Out of memory: Killed process (%d+)") do victims[#victims + 1] = tonumber(pid) end
assert(#victims == 2 and victims[1] == cache.pid and victims[2] == hog.pid)
assert(log:find("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem " ..
                "pgtables_bytes swapents oom_score_adj name", 1, true))
assert(log:find("%-1000 database"), "the protected process is listed, with its -1000")
assert(log:find("\nMem%-Info:\n") and log:find("\nNode 0 DMA32: [^\n]*= %d+kB\n"),
       "show_mem()'s Mem-Info, the zones' free blocks with it")
print()
print("Mem-Info is show_mem(): each zone's free pages against its watermarks (free")
print("at or below min plus lowmem_reserve[] for the allocation's highest zone is")
print("what failed it), and the free blocks by order.  Linux also prints a stack")
print("trace after the first line; memlab has none.")

------------------------------------------------------------------------------
section("5. Nothing leaked")

db:exit()
init:exit()
local slab = m:vmstat().nr_slab_unreclaimable
local v = m:vmalloc_stats()
local kept = v.cached_stack_pages + v.kernel_pgtables + (v.kernel_pgd and 1 or 0)
say("database and init exit: %d frames free, %d in the slabs SLUB keeps, empty, for the",
    free_pages(), slab)
say("next task_struct, mm_struct, VMAs, anon_vmas and links, and %d in the kernel stacks the", kept)
say("CPUs keep for the next tasks (with their vmalloc page tables): %d, as at boot.",
    free_pages() + slab + kept)
assert(free_pages() + slab + kept == free_boot, "every frame of the victims came back")
for _, name in ipairs{ "task_struct", "mm_struct", "vm_area_struct", "anon_vma", "anon_vma_chain" } do
  assert(m:slab_cache(name):info().objects == 0, "no " .. name .. " is left")
end
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
