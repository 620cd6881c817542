-- Memory cgroups: holding a workload to a budget, as containers do
--
-- cgroup v2's memory controller (mm/memcontrol.c) charges every page a
-- task's memory uses -- anonymous, page cache, shmem, its page tables --
-- to the task's cgroup and to each ancestor.  memory.max is a hard limit:
-- a charge that would cross it first reclaims from the cgroup's own LRU
-- lists (its page cache, its anonymous pages if there is swap); when that
-- cannot make room, the cgroup's OOM killer kills one of *its* tasks,
-- whatever the rest of the machine is doing.  memory.high is softer: the
-- task is made to reclaim its excess on its way back to user space, and
-- never killed.  This lab runs a reader, a hog and a job through limits and
-- prints what /sys/fs/cgroup would show.  Every claim is checked with
-- assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local KiB, MiB, PAGE = 1024, 1024 * 1024, 4096

local function fresh(swap)
  local m = memlab.new{ ram = "128M", seed = 1, swap = swap }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init" }              -- pid 1: never an OOM victim
  return m
end

local function write_anon(p, bytes)
  local a = assert(p:mmap(nil, bytes, "rw", "private|anonymous"))
  return p:touch(a, bytes, "w")
end

------------------------------------------------------------------------------
section("1. One page costs a batch")

local m = fresh()
local box = m:cgroup("/box")
local p = m:spawn{ name = "app", cgroup = "/box" }
say("pid %d runs in %s; /proc/%d/cgroup says %s", p.pid, p:cgroup(), p.pid,
    m:proc(p.pid .. "/cgroup"):gsub("\n", ""))
write_anon(p, PAGE)
local s = box:stat()
say("after writing one page: memory.current %d KiB, memory.stat anon %d KiB, pagetables %d KiB",
    box:current() // KiB, s.anon // KiB, s.pagetables // KiB)
print("A charge takes MEMCG_CHARGE_BATCH (64) pages from the page counters at once and")
print("keeps the rest in the CPU's stock: memory.current runs ahead of what is used.")
assert(box:current() == 64 * PAGE and s.anon == PAGE)

------------------------------------------------------------------------------
section("2. Page cache under memory.max: reclaimed, not killed")

m = fresh()
local reader_cg = m:cgroup("/reader")
assert(reader_cg:write("memory.max", "8M"))
local reader = m:spawn{ name = "reader", cgroup = "/reader" }
local f = m:file{ path = "/var/log/big", size = 32 * MiB }
local a = assert(reader:mmap(nil, 32 * MiB, "r", "private", f, 0))
assert(reader:touch(a, 32 * MiB, "r"))
s = reader_cg:stat()
local ev = reader_cg:events()
say("read 32 MiB of a file through an 8 MiB limit: memory.current %d KiB, peak %d KiB",
    reader_cg:current() // KiB, reader_cg:peak() // KiB)
say("memory.events max %d (charges that hit the limit), oom %d", ev.max, ev.oom)
say("memory.stat file %d KiB, pgscan %d, pgsteal %d (all direct: %d)", s.file // KiB,
    s.pgscan, s.pgsteal, s.pgsteal_direct)
assert(reader_cg:peak() <= 8 * MiB and ev.max > 0 and ev.oom == 0 and s.pgsteal > 0)
assert(m:vmstat().allocstall_normal + m:vmstat().allocstall_dma32 == 0)
print("The machine had plenty of free memory: only the cgroup's own pages were reclaimed.")

------------------------------------------------------------------------------
section("3. Anonymous memory without swap: the cgroup's OOM killer")

m = fresh()
local big = m:spawn{ name = "bystander" }
write_anon(big, 24 * MiB)               -- outside the cgroup, and bigger
local jail = m:cgroup("/jail")
assert(jail:write("memory.max", "16M"))
local hog = m:spawn{ name = "hog", cgroup = "/jail" }
m:dmesg(true)
local ok, sig = write_anon(hog, 64 * MiB)
say("the hog wrote into 64 MiB under a 16 MiB limit: %s", ok and "done" or sig)
for line in m:dmesg():gmatch("[^\n]+") do
  if line:find("invoked oom%-killer") or line:find("^memory:") or line:find("^oom%-kill:")
     or line:find("Killed process") then
    print("  " .. line)
  end
end
ev = jail:events()
say("memory.events: max %d, oom %d, oom_kill %d; the bystander (24 MiB) is %s",
    ev.max, ev.oom, ev.oom_kill, m:task(big.pid) and "alive" or "dead")
assert(sig == "SIGKILL" and ev.oom_kill == 1 and m:task(big.pid))

------------------------------------------------------------------------------
section("4. memory.high with swap: pushed back, never killed")

m = fresh("64M")
local soft = m:cgroup("/soft")
assert(soft:write("memory.high", "8M"))
local app = m:spawn{ name = "app", cgroup = "/soft" }
assert(write_anon(app, 32 * MiB))
ev, s = soft:events(), soft:stat()
say("32 MiB written above an 8 MiB memory.high: memory.current %d KiB", soft:current() // KiB)
say("memory.events high %d, max %d, oom %d; pswpout %d pages", ev.high, ev.max, ev.oom, s.pswpout)
assert(ev.high > 0 and ev.oom == 0 and soft:current() <= 8 * MiB + 64 * PAGE)

------------------------------------------------------------------------------
section("5. A job with memory.oom.group: all or nothing")

m = fresh()
local job = m:cgroup("/job")
assert(job:write("memory.max", "16M"))
assert(job:write("memory.oom.group", "1"))
local w1 = m:spawn{ name = "worker1", cgroup = "/job/w1" }
local w2 = m:spawn{ name = "worker2", cgroup = "/job/w2" }
write_anon(w2, 4 * MiB)
write_anon(w1, 64 * MiB)
ev = job:events()
say("worker1 ran the job out of memory: worker1 %s, worker2 %s; oom_kill %d, oom_group_kill %d",
    m:task(w1.pid) and "alive" or "killed", m:task(w2.pid) and "alive" or "killed",
    ev.oom_kill, ev.oom_group_kill)
print("(oom_kill counts worker1 twice: the group's kill does not skip the victim, whose")
print("memory is still there -- as Linux's oom_kill_memcg_member.)")
say("the job's memory.current is back to %d KiB", job:current() // KiB)
assert(not m:task(w1.pid) and not m:task(w2.pid) and ev.oom_group_kill == 1)
assert(m:check())
