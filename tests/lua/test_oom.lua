-- test_oom.lua: the OOM killer (core/oom_kill.c) through the Lua API: whom
-- it chooses (badness, oom_score_adj, -1000, ties, init), what it kills
-- (the thread group, CLONE_VM sharers, the faulting task itself), the
-- report's lines, /proc/PID/oom_score{,_adj}, vmstat oom_kill and the oom
-- tracepoints.
--
-- Run from the source root:  build/memlab run tests/lua/test_oom.lua -o text

local lu = require("luaunit")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local memlab = require("memlab")

local PAGE = 4096

-- f(...) raises an error that says what.
local function assert_raises(what, f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error")
  lu.assertStrContains(tostring(err), what)
end

-- A 32 MiB machine that overcommits, with an init (pid 1: never chosen).
local function machine()
  local m = memlab.new{ ram = "32M", seed = 1 }
  m:sysctl{ overcommit_memory = 1 }
  local init = m:spawn{ name = "init", aslr = false }
  return m, init
end

-- Free frames once the CPUs' folio batches (whose references keep the
-- pages an exit let go: exit_mmap drains none) and free lists are drained.
local function free_pages(m)
  m:lru_add_drain_all()
  m:drain_pages()
  return m:vmstat().nr_free_pages
end

-- Write n pages of a fresh anonymous mapping of p; returns the pages
-- written and the failure (nil, sig, code) that stopped it.
local function write_pages(p, n)
  local addr = assert(p:mmap(nil, n * PAGE, "rw", "private|anonymous"))
  for i = 0, n - 1 do
    local ok, sig, code = p:write(addr + i * PAGE, "x")
    if not ok then return i, sig, code end
  end
  return n
end

-- The pids of "Killed process N" lines of the log, in order.
local function killed(m)
  local pids = {}
  for pid in m:dmesg():gmatch("Out of memory[^\n]*: Killed process (%d+)") do
    pids[#pids + 1] = tonumber(pid)
  end
  return pids
end

-- A process and a thread of it.
local function spawn_threaded(m, name)
  local p = m:spawn{ name = name }
  return p, p:thread()
end

local function alive(p)
  return tostring(p) ~= "memlab.task (exited)"
end

TestOom = {}

function TestOom:setUp()
  self.m, self.init = machine()
end

function TestOom:tearDown()
  self.m:close()
end

-- The biggest other process dies, the fault is retried; then the hog itself.
function TestOom:test_badness_other_then_self()
  local m = self.m
  local free0, kept0 = free_pages(m), H.kernel_kept(m)
  local small = m:spawn{ name = "small" }
  lu.assertEquals(write_pages(small, 100), 100)
  local big = m:spawn{ name = "big" }
  lu.assertEquals(write_pages(big, 4000), 4000)
  local hog = m:spawn{ name = "hog" }
  local free1 = free_pages(m)
  local n, sig, code = write_pages(hog, 16384)
  lu.assertEquals(sig, "SIGKILL")
  lu.assertEquals(code, 9)
  lu.assertTrue(n > free1, "the hog's faults went on after big was killed")
  lu.assertEquals(killed(m), { big.pid, hog.pid })
  lu.assertFalse(alive(big))
  lu.assertFalse(alive(hog))
  lu.assertTrue(alive(small))
  lu.assertEquals(m:vmstat().oom_kill, 2)
  lu.assertErrorMsgContains("exited task", function() hog:write(0, "x") end)
  small:exit()
  H.shrink_kernel_caches(m)	-- the slabs of the tasks' kernel objects
  lu.assertEquals(free_pages(m) + H.kernel_kept(m), free0 + kept0,
                  "every frame of the victims is back (their kernel stacks cached)")
  lu.assertTrue(m:check())
end

-- oom_score_adj -1000 protects the biggest; +1000 makes a small one the victim.
function TestOom:test_oom_score_adj()
  local m = self.m
  local big = m:spawn{ name = "big", root = true }
  lu.assertEquals(big:oom_score_adj(-1000), -1000)
  lu.assertEquals(write_pages(big, 4000), 4000)
  local tiny = m:spawn{ name = "tiny" }
  lu.assertEquals(write_pages(tiny, 10), 10)
  local hog = m:spawn{ name = "hog" }
  local _, sig = write_pages(hog, 2000)
  lu.assertNil(sig)
  lu.assertEquals(tiny:oom_score_adj(1000), 1000)
  _, sig = write_pages(hog, 16384)     -- big is the biggest, but protected
  lu.assertEquals(sig, "SIGKILL")
  lu.assertEquals(killed(m), { tiny.pid, hog.pid })
  lu.assertTrue(alive(big))
  lu.assertTrue(m:check())
end

function TestOom:test_oom_score_adj_rules()
  local m = self.m
  local p = m:spawn{ name = "user" }
  lu.assertEquals(p:oom_score_adj(), 0)
  lu.assertEquals(p:oom_score_adj(500), 500)
  lu.assertEquals(p:oom_score_adj(100), 100)         -- above the floor (0): allowed
  lu.assertEquals({ p:oom_score_adj(-1) }, { nil, "EACCES", 13 })
  lu.assertEquals({ p:oom_score_adj(1001) }, { nil, "EINVAL", 22 })
  lu.assertEquals({ p:oom_score_adj(-1001) }, { nil, "EINVAL", 22 })
  lu.assertEquals(m:proc(p.pid .. "/oom_score_adj"), "100\n")
  local t = p:thread()
  local c = p:fork()
  lu.assertEquals(t:oom_score_adj(), 100)             -- inherited
  lu.assertEquals(c:oom_score_adj(), 100)
  lu.assertEquals(t:oom_score_adj(300), 300)
  lu.assertEquals(p:oom_score_adj(), 300)             -- the thread group shares it
  lu.assertEquals(c:oom_score_adj(), 100)             -- a forked child does not
  local r = m:spawn{ name = "root", root = true }
  lu.assertEquals(r:oom_score_adj(-500), -500)        -- CAP_SYS_RESOURCE sets the floor too
  lu.assertTrue(m:check())
end

-- Equal points: the later process in the task list (the newer one) is chosen.
function TestOom:test_ties()
  local m = self.m
  local x = m:spawn{ name = "x" }
  local y = m:spawn{ name = "y" }
  lu.assertEquals(write_pages(x, 3000), 3000)
  lu.assertEquals(write_pages(y, 3000), 3000)
  local z = m:spawn{ name = "z" }
  local addr = assert(z:mmap(nil, 8192 * PAGE, "rw", "private|anonymous"))
  local i = 0
  while m:vmstat().oom_kill == 0 do
    assert(z:write(addr + i * PAGE, "z"))
    i = i + 1
  end
  lu.assertEquals(killed(m), { y.pid })
  lu.assertTrue(alive(x) and alive(z))
  lu.assertTrue(m:check())
end

-- CLONE_VM: the victim's threads and the processes sharing its mm die with
-- it.  big and sharer are two processes with one mm, so equal points: the
-- later one, sharer, is the victim named; big dies with it.
function TestOom:test_clone_vm_sharers()
  local m = self.m
  local big, th = spawn_threaded(m, "big")
  local sharer = big:clone{ vm = true }
  lu.assertEquals(write_pages(big, 5000), 5000)
  local other = m:spawn{ name = "other" }
  local _, sig = write_pages(other, 3000)
  lu.assertNil(sig)
  lu.assertEquals(killed(m), { sharer.pid })
  lu.assertEquals(m:vmstat().oom_kill, 1)
  lu.assertFalse(alive(big) or alive(th) or alive(sharer))
  lu.assertTrue(m:check())
end

-- The faulting task is a thread of the victim: its access ends in SIGKILL.
function TestOom:test_current_shares_victim_mm()
  local m = self.m
  local big, th = spawn_threaded(m, "big")
  local free0 = free_pages(m)
  local _, sig, code = write_pages(th, 16384)
  lu.assertEquals({ sig, code }, { "SIGKILL", 9 })
  lu.assertFalse(alive(big) or alive(th))
  lu.assertTrue(free_pages(m) >= free0, "the shared mm is freed")
  lu.assertTrue(m:check())
end

-- vm.panic_on_oom: the report, then the access fails with ENOMEM.
function TestOom:test_panic_on_oom()
  local m = self.m
  m:sysctl{ panic_on_oom = 1 }
  local hog = m:spawn{ name = "hog" }
  local _, err, errno = write_pages(hog, 16384)
  lu.assertEquals({ err, errno }, { "ENOMEM", 12 })
  lu.assertTrue(alive(hog))
  lu.assertStrContains(m:dmesg(), "Kernel panic - not syncing: Out of memory: system-wide "
                       .. "panic_on_oom is enabled")
  lu.assertEquals(m:vmstat().oom_kill, 0)
  lu.assertEquals({ m:sysctl{ panic_on_oom = 3 } }, { nil, "EINVAL", 22 })
end

-- vm.oom_kill_allocating_task: the faulting task dies, whoever is bigger.
function TestOom:test_oom_kill_allocating_task()
  local m = self.m
  m:sysctl{ oom_kill_allocating_task = 1 }
  local big = m:spawn{ name = "big" }
  lu.assertEquals(write_pages(big, 5000), 5000)
  local hog = m:spawn{ name = "hog" }
  local _, sig = write_pages(hog, 16384)
  lu.assertEquals(sig, "SIGKILL")
  lu.assertTrue(alive(big))
  lu.assertStrContains(m:dmesg(), "Out of memory (oom_kill_allocating_task): Killed process "
                       .. hog.pid .. " (hog)")
end

-- A spawn's exec that runs the machine out: oom_kill_allocating_task has no
-- mm of the new task's to kill for (Linux's exec still has its parent's),
-- so the OOM killer chooses as always; with nothing killable the spawn
-- fails whole, and its pid is used up as a fork's would be.
function TestOom:test_spawn_out_of_memory_with_oom_kill_allocating_task()
  local m = self.m
  -- two tasks gone leave the fork what it needs: slab objects and cached
  -- stacks; the exec's PGD is the first page it must have
  local w1, w2 = m:spawn{ name = "w1" }, m:spawn{ name = "w2" }
  local hog = m:spawn{ name = "hog", root = true }
  w1:exit(); w2:exit()
  hog:oom_score_adj(-1000)
  local _, err = write_pages(hog, 16384)
  lu.assertEquals(err, "ENOMEM")
  m:sysctl{ oom_kill_allocating_task = 1 }
  m:dmesg(true)
  local tasks = #m:tasks()
  local next_pid = hog.pid + 1
  local p, e = m:spawn{ name = "p" }
  lu.assertEquals({ p, e }, { nil, "ENOMEM" })
  lu.assertStrContains(m:dmesg(), "p invoked oom-killer")
  lu.assertStrContains(m:dmesg(), "Out of memory and no killable processes...")
  lu.assertEquals(#m:tasks(), tasks)
  lu.assertTrue(alive(hog))
  lu.assertTrue(m:check())
  assert(hog:exit() or true)
  lu.assertTrue(m:spawn{ name = "q" }.pid > next_pid)
end

-- /proc/PID/oom_score: (1000 + badness * 1000 / totalpages) * 2 / 3.
function TestOom:test_oom_score()
  local m = self.m
  local total = 0
  for _, z in ipairs(m:zones()) do total = total + z.managed end
  local p = m:spawn{ name = "p" }
  lu.assertEquals(write_pages(p, 1000), 1000)
  local st = m:proc(p.pid .. "/status")
  local rss = tonumber(st:match("VmRSS:%s+(%d+) kB")) // 4
  local pte = tonumber(st:match("VmPTE:%s+(%d+) kB")) // 4
  local function score(adj)
    return (1000 + (rss + pte + adj * (total // 1000)) * 1000 // total) * 2 // 3
  end
  lu.assertEquals(m:proc(p.pid .. "/oom_score"), score(0) .. "\n")
  p:oom_score_adj(500)
  lu.assertEquals(m:proc(p.pid .. "/oom_score"), score(500) .. "\n")
  lu.assertEquals(m:proc("1/oom_score"), "0\n")        -- init
  local fresh = m:spawn{ name = "fresh" }
  lu.assertEquals(m:proc(fresh.pid .. "/oom_score"), "666\n")
end

-- The report: Linux's lines and formats.
function TestOom:test_report_text()
  local m = self.m
  local hog = m:spawn{ name = "hog" }
  write_pages(hog, 16384)
  local log = m:dmesg()
  local lines = {}
  for l in log:gmatch("[^\n]+") do lines[#lines + 1] = l end
  -- a real 6.x log says the same of an anonymous fault's folio
  lu.assertEquals(lines[1], "hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|"
                      .. "__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0")
  -- show_mem()'s Mem-Info, for the zones of the fault's GFP_HIGHUSER_MOVABLE:
  -- the 32 MiB machine's DMA and DMA32 (test_show_mem.lua has its numbers)
  lu.assertEquals(lines[2], "Mem-Info:")
  lu.assertStrMatches(lines[3], "active_anon:%d+ inactive_anon:%d+ isolated_anon:0")
  lu.assertStrMatches(lines[10], " free:%d+ free_pcp:%d+ free_cma:0")
  lu.assertStrMatches(lines[11], "Node 0 active_anon:%d+kB .* all_unreclaimable%? %a+ Balloon:0kB")
  lu.assertStrMatches(lines[12], "Node 0 DMA free:%d+kB boost:%d+kB min:%d+kB .*")
  lu.assertStrMatches(lines[14], "Node 0 DMA32 free:%d+kB .*")
  lu.assertStrMatches(lines[16], "Node 0 DMA: .* = %d+kB")
  lu.assertStrMatches(lines[17], "Node 0 DMA32: .* = %d+kB")
  lu.assertEquals(lines[20], "0 total pagecache pages")
  lu.assertEquals(lines[25], "0 pages HighMem/MovableOnly")
  local t = 27                                          -- the task table after it
  lu.assertEquals(lines[t], "Tasks state (memory values in pages):")
  lu.assertEquals(lines[t + 1], "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem "
                  .. "pgtables_bytes swapents oom_score_adj name")
  lu.assertStrMatches(lines[t + 2], "%[%s+" .. hog.pid .. "%]  1000 %s+" .. hog.pid
                      .. " +%d+ +%d+ +%d+ +0 +0 +%d+ +0 +0 hog")
  local v = {}
  for n in lines[t + 2]:gmatch("%-?%d+") do v[#v + 1] = tonumber(n) end
  lu.assertEquals(lines[t + 2], string.format("[%7d] %5d %5d %8d %8d %8d %8d %9d %8d %8d         %5d %s",
                                          v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                                          v[10], v[11], "hog"))
  lu.assertEquals(v[5], v[6] + v[7] + v[8])            -- rss = anon + file + shmem
  lu.assertEquals(lines[t + 3], "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
                  .. "mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=" .. hog.pid .. ",uid=1000")
  lu.assertStrMatches(lines[t + 4], "Out of memory: Killed process " .. hog.pid .. " %(hog%) "
                      .. "total%-vm:%d+kB, anon%-rss:%d+kB, file%-rss:0kB, shmem%-rss:0kB, "
                      .. "UID:1000 pgtables:%d+kB oom_score_adj:0")
  lu.assertEquals(#lines, t + 4)
  lu.assertEquals(m:dmesg(true), log)
  lu.assertEquals(m:dmesg(), "")
end

function TestOom:test_tracepoints()
  local m = self.m
  m:trace{ events = { "mark_victim", "oom_score_adj_update" }, size = 64 }
  local hog = m:spawn{ name = "hog" }
  hog:oom_score_adj(7)
  write_pages(hog, 16384)
  local evs = m:trace_events()
  lu.assertEquals(#evs, 2)
  lu.assertEquals(evs[1].event, "oom_score_adj_update")
  lu.assertEquals({ evs[1].pid, evs[1].oom_score_adj }, { hog.pid, 7 })
  lu.assertEquals(evs[2].event, "mark_victim")
  lu.assertEquals({ evs[2].pid, evs[2].oom_score_adj }, { hog.pid, 7 })
  local kill = m:dmesg():match("Killed process[^\n]*")
  lu.assertEquals(evs[2].total_vm, tonumber(kill:match("total%-vm:(%d+)kB")))
  lu.assertEquals(evs[2].anon_rss, tonumber(kill:match("anon%-rss:(%d+)kB")))
  lu.assertEquals(evs[2].file_rss, tonumber(kill:match("file%-rss:(%d+)kB")))
  lu.assertEquals(evs[2].shmem_rss, tonumber(kill:match("shmem%-rss:(%d+)kB")))
  lu.assertEquals(evs[2].uid, tonumber(kill:match("UID:(%d+)")))
  lu.assertEquals(evs[2].pgtables, tonumber(kill:match("pgtables:(%d+)kB")))
  m:trace(false)
end

-- The page cache's allocation in read(2) may OOM-kill too (the allocator's
-- __alloc_pages_may_oom): the read goes on once the hog is gone.
function TestOom:test_page_cache_allocation_ooms()
  local m = self.m
  local hog = m:spawn{ name = "hog" }
  local f = m:file{ path = "/data/f", size = 1024 * 1024 }
  local r = m:spawn{ name = "reader" }
  local buf = assert(r:mmap(nil, 65536, "rw", "private|anonymous"))
  r:touch(buf, 65536, "w")
  local a = assert(hog:mmap(nil, 24 << 20, "rw", "private|anonymous"))
  hog:touch(a, 24 << 20, "w")
  while m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE") do end   -- what is left goes to no one
  lu.assertEquals(r:pread(f, buf, 65536, 0), 65536)
  lu.assertEquals(m:vmstat().oom_kill, 1)
  lu.assertFalse(alive(hog))
  lu.assertStrContains(m:dmesg(), "reader invoked oom-killer")
  lu.assertTrue(m:check())
end

-- GUP's faults (MAP_POPULATE here) may OOM-kill as well, and populate the rest.
function TestOom:test_populate_ooms()
  local m = self.m
  local hog = m:spawn{ name = "hog" }
  assert(hog:mmap(nil, 24 << 20, "rw", "private|anonymous|populate"))
  local p = m:spawn{ name = "populater" }
  local a = assert(p:mmap(nil, 12 << 20, "rw", "private|anonymous|populate"))
  lu.assertEquals(m:vmstat().oom_kill, 1)
  lu.assertFalse(alive(hog))
  lu.assertEquals(p:mm().rss_anon, 3072)       -- every page faulted in
  lu.assertTrue(p:translate(a + (12 << 20) - PAGE).present)
  lu.assertTrue(m:check())
end

-- Nothing killable: init alone faults (Linux panics); the access fails.
function TestOom:test_no_killable_process()
  local m = self.m
  local _, err = write_pages(self.init, 16384)
  lu.assertEquals(err, "ENOMEM")
  lu.assertStrContains(m:dmesg(), "Out of memory and no killable processes...")
  lu.assertTrue(alive(self.init))
  lu.assertTrue(m:check())
end

-- __set_oom_adj() (fs/proc/base.c): every process sharing the mm gets the
-- value too, except init; m:check() holds them to it.
function TestOom:test_oom_score_adj_reaches_mm_sharers()
  local m, init = self.m, self.init
  local p = m:spawn{ name = "p" }
  local v = p:clone{ vm = true }                      -- another process, the same mm
  local t = v:thread()
  lu.assertEquals(t:oom_score_adj(200), 200)
  lu.assertEquals({ p:oom_score_adj(), v:oom_score_adj() }, { 200, 200 })
  local s = init:clone{ vm = true }                   -- shares init's mm
  lu.assertEquals(s:oom_score_adj(300), 300)
  lu.assertEquals(init:oom_score_adj(), 0)            -- init is left alone
  lu.assertEquals(p:oom_score_adj(100.0), 100)        -- an integral float is an integer
  assert_raises("oom_score_adj", p.oom_score_adj, p, 1.5)
  assert_raises("oom_score_adj", p.oom_score_adj, p, {})
  lu.assertTrue(m:check())
end

-- A kill in the middle of a copy to user memory: the system call's task
-- never returns to see its result.
function TestOom:test_killed_during_pread()
  local m = self.m
  local f = m:file{ name = "big", size = 64 << 20 }
  local hog = m:spawn{ name = "hog" }
  local a = assert(hog:mmap(nil, 64 << 20, "rw-", "private|anonymous"))
  lu.assertEquals({ hog:pread(f, a, 64 << 20, 0) }, { nil, "SIGKILL", 9 })
  lu.assertFalse(alive(hog))
  lu.assertEquals(killed(m), { hog.pid })
  lu.assertTrue(m:check())
end

function TestOom:test_dmesg()
  local m = self.m
  m:sysctl{ panic_on_oom = 1 }
  write_pages(m:spawn{ name = "hog" }, 16384)
  local log = m:dmesg()
  lu.assertStrContains(log, "Kernel panic - not syncing")
  lu.assertEquals(log:sub(-1), "\n")
  lu.assertEquals(m:dmesg(true), log)                 -- read and clear
  lu.assertEquals(m:dmesg(), "")
  assert_raises("dmesg", m.dmesg, m, 0)               -- not a boolean: no clearing by mistake
  assert_raises("dmesg", m.dmesg, m, "no")
  m:close()
  assert_raises("closed", m.dmesg, m)
end

-- The log keeps the newest 1 MiB, whole lines: 400 idle tasks make each
-- report's task table long, 40 kills overflow it.
function TestOom:test_dmesg_keeps_the_newest()
  local m = self.m
  for i = 1, 400 do m:spawn{ name = "idle" .. i } end
  for round = 1, 40 do
    local hog = m:spawn{ name = "hog" .. round }
    local b = assert(hog:mmap(nil, 16384 * PAGE, "rw", "private|anonymous"))
    hog:touch(b, 16384 * PAGE, "w")
  end
  lu.assertEquals(m:vmstat().oom_kill, 40)
  local log = m:dmesg()
  lu.assertTrue(#log <= 1 << 20 and #log > (1 << 20) - 4096)
  lu.assertEquals(log:sub(-1), "\n")
  -- a whole line of a report: most of one is its task table
  local first, whole = log:match("^[^\n]*"), false
  for _, pat in ipairs{ "^%[%s*%d+%] ", "^%[  pid  %]", "^Tasks state", "^Mem%-Info:$",
                        "^active_anon:", "^ %l+:%d", "^Node 0 ", "^lowmem_reserve%[%]:",
                        "^%d+ total pagecache pages$", "^%d+ pages ", "^%d+ pages in swap cache$",
                        "^Free swap  = ", "^Total swap = ", "^hog%d+ invoked oom%-killer",
                        "^oom%-kill:", "^Out of memory: Killed process" } do
    whole = whole or first:find(pat) ~= nil
  end
  lu.assertTrue(whole, first)
  -- plain finds: luaunit would print the whole megabyte on a failure
  lu.assertTrue(log:find("Killed process %d+ %(hog40%)") ~= nil)  -- the newest is there
  lu.assertNil(log:find("(hog1)", 1, true))                   -- the oldest went
  lu.assertTrue(m:check())
end

-- The OOM killer runs inside the failing allocation (__alloc_pages_may_oom)
-- and the allocation is retried there, so the fault that ran out of
-- memory completes once: one pgfault and one min_flt per page written.
function TestOom:test_fault_kills_inside_its_allocation()
  local m = self.m
  local big = m:spawn{ name = "big" }
  lu.assertEquals(write_pages(big, 4000), 4000)
  local hog = m:spawn{ name = "hog" }
  local a = assert(hog:mmap(nil, 4000 * PAGE, "rw", "private|anonymous"))
  local i = 0
  while alive(big) do
    local pgfault, flt = m:vmstat().pgfault, hog:mm().min_flt
    lu.assertTrue(hog:write(a + i * PAGE, "x"))
    lu.assertEquals(m:vmstat().pgfault - pgfault, 1)
    lu.assertEquals(hog:mm().min_flt - flt, 1)
    i = i + 1
  end
  lu.assertTrue(alive(hog))
  lu.assertEquals(killed(m), { big.pid })
  lu.assertTrue(m:check())
end

-- A fork whose page tables find no memory: the OOM killer runs inside the
-- allocation, the biggest process dies, the fork goes on.
function TestOom:test_fork_page_tables_kill()
  local m = self.m
  local p = m:spawn{ name = "forker" }
  local a = assert(p:mmap(nil, 64 << 20, "rw", "private|anonymous|noreserve"))
  for i = 0, 31 do lu.assertTrue(p:write(a + i * (2 << 20), "x")) end  -- a PTE table each
  local hog = m:spawn{ name = "hog" }
  local h = assert(hog:mmap(nil, 24 << 20, "rw", "private|anonymous"))
  hog:touch(h, 24 << 20, "w")
  while m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE") do end   -- what is left goes to no one
  m:dmesg(true)
  local c = assert(p:fork())
  lu.assertFalse(alive(hog))
  lu.assertEquals(killed(m), { hog.pid })
  lu.assertStrContains(m:dmesg(), "forker invoked oom-killer")
  lu.assertEquals(c:read(a + 31 * (2 << 20), 1), "x")
  lu.assertTrue(m:check())
end

-- The forking task chosen: its page-table allocations may use the
-- reserves (ALLOC_OOM), and it dies in the system call: no child.
function TestOom:test_fork_by_the_victim()
  local m = self.m
  local p = m:spawn{ name = "forker" }
  local a = assert(p:mmap(nil, 28 << 20, "rw", "private|anonymous"))
  p:touch(a, 24 << 20, "w")
  while m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE") do end
  local ntasks = #m:tasks()
  lu.assertEquals({ p:fork() }, { nil, "SIGKILL", 9 })
  lu.assertFalse(alive(p))
  lu.assertEquals(#m:tasks(), ntasks - 1)      -- no child left behind
  lu.assertTrue(m:check())
end

-- MAP_POPULATE by the task the OOM killer chooses: populating stops (GUP
-- sees the fatal signal) and mmap's caller never sees the address.
function TestOom:test_populate_by_the_victim()
  local m = self.m
  local p = m:spawn{ name = "populater" }
  lu.assertEquals({ p:mmap(nil, 48 << 20, "rw", "private|anonymous|populate") },
                  { nil, "SIGKILL", 9 })
  lu.assertFalse(alive(p))
  lu.assertEquals(killed(m), { p.pid })
  lu.assertTrue(m:check())
end

-- The OOM killer chose the faulting task while it allocated a page table;
-- the fault then found the file page past the end (SIGBUS), but the task
-- dies of the SIGKILL.
function TestOom:test_victim_fault_ends_in_sigkill()
  local m = self.m
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 24 << 20, "rw", "private|anonymous"))
  p:touch(a, 24 << 20, "w")
  local f = m:file{ path = "/data/empty", size = 0 }
  local b = assert(p:mmap(0x7e0000000000, PAGE, "r", "private|fixed", f, 0))
  lu.assertEquals({ p:read(b, 1) }, { nil, "SIGBUS", "BUS_ADRERR" })  -- its table is there now
  assert(p:munmap(b, PAGE))
  local c = assert(p:mmap(0x7f0000000000, PAGE, "r", "private|fixed", f, 0))  -- a new table
  while m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE") do end
  lu.assertEquals({ p:read(c, 1) }, { nil, "SIGKILL", 9 })
  lu.assertFalse(alive(p))
  lu.assertEquals(killed(m), { p.pid })
  lu.assertTrue(m:check())
end

-- The calls that populate memory may OOM-kill their caller too: mprotect
-- making a locked mapping writable (a COW of every page), brk and sbrk
-- under mlockall(MCL_FUTURE).  The caller dies in the system call and
-- never sees a result.
function TestOom:test_populating_calls_by_the_victim()
  local m, n = self.m, 16384				-- 64 MiB on a 32 MiB machine
  local a = m:spawn{ name = "a", root = true }
  local addr = assert(a:mmap(nil, n * PAGE, "r", "private|anonymous"))
  assert(a:mlock(addr, n * PAGE))
  lu.assertEquals({ a:mprotect(addr, n * PAGE, "rw") }, { nil, "SIGKILL", 9 })
  local b = m:spawn{ name = "b", root = true }
  assert(b:mlockall("future"))
  lu.assertEquals({ b:brk(b:brk(0) + n * PAGE) }, { nil, "SIGKILL", 9 })
  local c = m:spawn{ name = "c", root = true }
  assert(c:mlockall("future"))
  lu.assertEquals({ c:sbrk(n * PAGE) }, { nil, "SIGKILL", 9 })
  lu.assertEquals(killed(m), { a.pid, b.pid, c.pid })
  lu.assertTrue(m:check())
end

-- A fork whose parent the OOM killer chose copies no more VMAs (dup_mmap's
-- fatal_signal_pending(): -EINTR), so only the VMA being copied takes
-- page tables from the reserves.
function TestOom:test_fork_victim_stops_copying()
  local m = self.m
  local p = m:spawn{ name = "forker" }
  for _ = 1, 40 do				-- 40 VMAs, a PTE table each in the child
    assert(p:write(assert(p:mmap(nil, 2 << 20, "rw", "private|anonymous")), "x"))
  end
  local big = assert(p:mmap(nil, 20 << 20, "rw", "private|anonymous"))
  p:touch(big, 20 << 20, "w")
  while m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE") do end
  m:trace{ events = { "mm_page_alloc", "mark_victim" } }
  lu.assertEquals({ p:fork() }, { nil, "SIGKILL", 9 })
  local marked, after = false, 0
  for _, e in ipairs(m:trace_events()) do
    if e.event == "mark_victim" then marked = true
    elseif marked and e.event == "mm_page_alloc" and e.pfn >= 0 then after = after + 1 end
  end
  m:trace(false)
  lu.assertTrue(marked)
  lu.assertTrue(after <= 3, after .. " page allocations after the parent was chosen")
  lu.assertTrue(m:check())
end

-- The victim named is marked (tsk_is_oom_victim: the reserves are its
-- thread group's); a process sharing its mm is only sent SIGKILL, and is
-- marked when its own allocation runs the OOM killer again
-- (task_will_free_mem) -- after one more round of direct reclaim.
function TestOom:test_clone_vm_sharer_marked_later()
  local m = self.m
  local big = m:spawn{ name = "big" }
  local sharer = big:clone{ vm = true }			-- newer: chosen of equal points
  m:trace{ events = { "mark_victim", "mm_vmscan_direct_reclaim_begin" } }
  local _, sig = write_pages(big, 16384)
  lu.assertEquals(sig, "SIGKILL")
  local seq = {}
  for _, e in ipairs(m:trace_events()) do
    if e.event == "mark_victim" then seq[#seq + 1] = "mark " .. (e.pid == big.pid and "big" or "sharer")
    elseif #seq > 0 and seq[#seq] ~= "reclaim" then seq[#seq + 1] = "reclaim" end
  end
  m:trace(false)
  lu.assertEquals(seq, { "mark sharer", "reclaim", "mark big" })
  lu.assertEquals(killed(m), { sharer.pid })
  lu.assertFalse(alive(big) or alive(sharer))
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
