-- test_memcg.lua: memory cgroups (core/memcontrol.c, cgroup v2's memory
-- controller) through the Lua API: the tree and its files, where tasks go,
-- what is charged (with the per-CPU stock's batches), memory.stat,
-- hierarchy, memory.max (reclaim, then the cgroup's OOM killer),
-- memory.oom.group, the OOM killer for charges outside a fault (fork's,
-- mremap's page tables), memory.high, memory.reclaim, rmdir of a cgroup
-- with pages still charged, THP charge fallback and swap-in charging.
--
-- Run from the source root:  build/memlab run tests/lua/test_memcg.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local MiB = 1024 * 1024
local BATCH = 64 * PAGE		-- MEMCG_CHARGE_BATCH pages

local function assert_raises(what, f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error")
  lu.assertStrContains(tostring(err), what)
end

-- A machine with an init (pid 1, never an OOM victim) in the root cgroup.
local function machine(opts)
  opts = opts or {}
  local m = memlab.new{ ram = opts.ram or "128M", seed = 1, swap = opts.swap }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init", aslr = false }
  return m
end

-- n bytes of fresh anonymous memory of p, written: the address, then
-- true or nil and the signal that stopped the writes.
local function write_anon(p, n)
  local a = assert(p:mmap(nil, n, "rw", "private|anonymous"))
  local ok, sig, code = p:touch(a, n, "w")
  return a, ok, sig, code
end

local function round_up(x, to)
  return (x + to - 1) // to * to
end

-- ===================== the tree and its files =====================

function test_tree_and_files()
  local m = machine()
  local root = m:cgroup("/")
  lu.assertEquals(root.path, "/")
  lu.assertStrContains(root:read("memory.stat"), "anon ")
  -- the root has no memory.current, memory.max, memory.events (CFTYPE_NOT_ON_ROOT)
  lu.assertEquals({ root:read("memory.current") }, { nil, "ENOENT", 2 })
  lu.assertEquals({ root:write("memory.max", "1M") }, { nil, "ENOENT", 2 })
  local cg = m:cgroup("/a/b/")		-- mkdir -p; a trailing slash is the same directory
  lu.assertEquals(cg.path, "/a/b")
  lu.assertEquals(tostring(cg), "memlab.cgroup /a/b")
  lu.assertTrue(cg == m:cgroup("/a/b"))
  lu.assertEquals(cg:read("memory.max"), "max\n")
  lu.assertEquals(cg:read("memory.high"), "max\n")
  lu.assertEquals(cg:read("memory.min"), "0\n")
  lu.assertEquals(cg:read("memory.low"), "0\n")
  lu.assertEquals(cg:read("memory.current"), "0\n")
  lu.assertEquals(cg:read("memory.oom.group"), "0\n")
  lu.assertEquals(cg:read("memory.events"),
                  "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")
  lu.assertEquals(cg:current(), 0)
  lu.assertEquals(cg:events().oom_kill, 0)
  lu.assertEquals({ cg:read("memory.reclaim") }, { nil, "EINVAL", 22 })	-- write-only
  lu.assertEquals(cg:read("memory.swap.max"), "max\n")
  lu.assertEquals(cg:read("memory.swap.events"), "high 0\nmax 0\nfail 0\n")
  lu.assertEquals({ cg:read("memory.zswap.max") }, { nil, "ENOENT", 2 })	-- not modelled
  lu.assertEquals({ m:cgroup("/a/..") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ m:cgroup("/" .. string.rep("x", 256)) }, { nil, "ENAMETOOLONG", 36 })
  assert_raises("absolute path", m.cgroup, m, "a")
  assert_raises("file name", cg.read, cg, "../memory.max")
  assert_raises("#2 to 'read'", cg.read, cg, "memory.max\0x")
  assert_raises("#3 to 'write' (string or integer expected, got nil)", cg.write, cg, "memory.max")
  assert_raises("#3 to 'write' (value has a NUL byte)", cg.write, cg, "memory.max", "64M\0junk")
  assert_raises("#3 to 'write' (string or integer expected, got table)", cg.write, cg,
                "memory.max", {})
  assert_raises("#2 to 'attach'", cg.attach, cg)
  assert_raises("#2 to 'attach' (memlab.task expected, got memlab.cgroup)", cg.attach, cg, cg)
  lu.assertEquals(cg:read("memory.max"), "max\n")	-- nothing half-done
  -- the path as p:cgroup() names it
  lu.assertEquals(m:cgroup("//" .. cg.path:sub(2) .. "/./").path, cg.path)
  lu.assertTrue(m:cgroup("/./" .. cg.path:sub(2)) == cg)
  lu.assertEquals({ m:cgroup("/memory.stat") }, { nil, "EEXIST", 17 })
  lu.assertTrue(m:check())
  lu.assertStrContains(cg:read("memory.numa_stat"), "anon N0=0\nfile N0=0\nkernel_stack N0=0\n")
  lu.assertStrContains(root:read("memory.numa_stat"), "pgpromote_success N0=0\n")
  -- memory.stat has 6.18's keys in 6.18's order (CONFIG_ZSWAP, THP, NUMA_BALANCING)
  local keys = {}
  for k in cg:read("memory.stat"):gmatch("(%S+) %d+\n") do keys[#keys + 1] = k end
  lu.assertEquals(#keys, 70)
  lu.assertEquals({ keys[1], keys[2], keys[3], keys[27], keys[39], keys[40], keys[41], keys[42],
                    keys[44], keys[52], keys[70] },
                  { "anon", "file", "kernel", "slab", "pgpromote_success", "pgscan", "pgsteal",
                    "pswpin", "pgscan_kswapd", "pgfault", "numa_hint_faults" })
end

function test_writes_parse_as_the_kernel()
  local m = machine()
  local cg = m:cgroup("/w")
  lu.assertTrue(cg:write("memory.max", "64M"))
  lu.assertEquals(cg:read("memory.max"), "67108864\n")
  lu.assertTrue(cg:write("memory.max", "  4097\n"))		-- rounded down to a page
  lu.assertEquals(cg:read("memory.max"), "4096\n")
  lu.assertTrue(cg:write("memory.max", "max"))
  lu.assertEquals(cg:read("memory.max"), "max\n")
  lu.assertTrue(cg:write("memory.high", 1048576))		-- an integer is written in decimal
  lu.assertEquals(cg:read("memory.high"), "1048576\n")
  lu.assertTrue(cg:write("memory.low", "1g"))
  lu.assertEquals(cg:read("memory.low"), "1073741824\n")
  for _, bad in ipairs{ "-1", "12x", "max1", "1M 2M", "09" } do
    lu.assertEquals({ cg:write("memory.max", bad) }, { nil, "EINVAL", 22 }, bad)
  end
  lu.assertEquals(cg:read("memory.max"), "max\n")		-- nothing changed
  -- memparse() reads base 0: hex, octal; and an empty write is 0
  lu.assertTrue(cg:write("memory.high", "0x100000"))
  lu.assertEquals(cg:read("memory.high"), "1048576\n")
  lu.assertTrue(cg:write("memory.high", "010k"))		-- octal 8, in KiB: 2 pages
  lu.assertEquals(cg:read("memory.high"), "8192\n")
  lu.assertTrue(cg:write("memory.low", "\n"))
  lu.assertEquals(cg:read("memory.low"), "0\n")
  lu.assertTrue(cg:write("memory.low", "99999999999999999999"))	-- simple_strtoull wraps
  lu.assertEquals(cg:read("memory.low"), "7766279631452237824\n")
  lu.assertEquals({ cg:write("memory.oom.group", "2") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ cg:write("memory.oom.group", "1k") }, { nil, "EINVAL", 22 })	-- kstrtoint
  lu.assertTrue(cg:write("memory.oom.group", " +1\n"))
  lu.assertEquals(cg:read("memory.oom.group"), "1\n")
  lu.assertEquals({ cg:write("memory.current", "0") }, { nil, "EINVAL", 22 })	-- read-only
  lu.assertEquals({ cg:write("cgroup.procs", "999") }, { nil, "ESRCH", 3 })
  lu.assertEquals({ cg:write("cgroup.procs", "-1") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ cg:write("cgroup.procs", "1k") }, { nil, "EINVAL", 22 })
end

-- ===================== tasks =====================

function test_tasks_move_and_inherit()
  local m = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p" }
  lu.assertEquals(p:cgroup(), "/")
  lu.assertEquals(m:proc(p.pid .. "/cgroup"), "0::/\n")
  lu.assertTrue(cg:attach(p))
  lu.assertEquals(p:cgroup(), "/box")
  lu.assertEquals(m:proc(p.pid .. "/cgroup"), "0::/box\n")
  local c = p:fork()
  lu.assertEquals(c:cgroup(), "/box")			-- cgroup_fork()
  lu.assertEquals(cg:procs(), { p.pid, c.pid })
  lu.assertEquals(cg:read("cgroup.procs"), p.pid .. "\n" .. c.pid .. "\n")
  -- no internal processes: a cgroup with tasks gets no children, and one
  -- with children no tasks (the root excepted)
  lu.assertEquals({ m:cgroup("/box/inner") }, { nil, "EBUSY", 16 })
  lu.assertEquals({ m:spawn{ name = "s", cgroup = "/box/inner" } }, { nil, "EBUSY", 16 })
  local s = m:spawn{ name = "s", cgroup = "/job/inner" }	-- made if missing
  lu.assertEquals(s:cgroup(), "/job/inner")
  lu.assertEquals({ m:cgroup("/job"):attach(p) }, { nil, "EBUSY", 16 })
  lu.assertEquals(m:cgroup("/job"):procs(), {})		-- cgroup.procs is not recursive
  lu.assertTrue(m:cgroup("/"):write("cgroup.procs", tostring(c.pid)))
  lu.assertEquals(c:cgroup(), "/")
  c:exit()
  lu.assertEquals(m:cgroup("/"):procs()[1], 1)
  lu.assertTrue(m:check())
end

function test_rmdir()
  local m = machine()
  local a, b = m:cgroup("/a"), m:cgroup("/a/b")
  local p = m:spawn{ name = "p", cgroup = "/a/b" }
  lu.assertEquals({ m:cgroup("/"):rmdir() }, { nil, "EBUSY", 16 })
  lu.assertEquals({ b:rmdir() }, { nil, "EBUSY", 16 })	-- a task in it
  lu.assertEquals({ a:rmdir() }, { nil, "EBUSY", 16 })	-- a child
  local addr = write_anon(p, 1 * MiB)
  lu.assertTrue(m:cgroup("/"):attach(p))		-- the pages stay charged to /a/b
  lu.assertTrue(b:rmdir())
  lu.assertEquals({ b:read("memory.current") }, { nil, "ENOENT", 2 })
  -- the dying cgroup still counts in its parent until its pages go
  lu.assertTrue(a:current() >= 1 * MiB)
  lu.assertTrue(a:rmdir())
  lu.assertTrue(m:check())
  assert(p:munmap(addr, 1 * MiB))
  lu.assertTrue(m:check())				-- and then it is freed
  local again = m:cgroup("/a/b")			-- the name can be made again, empty
  lu.assertEquals(again:current(), 0)
  lu.assertTrue(m:check())
end

-- ===================== lifetimes (found by review) =====================

function test_rmdir_after_the_last_task_exits()
  local m = machine()
  local g = m:cgroup("/g")
  local p = m:spawn{ name = "p", cgroup = "/g" }
  write_anon(p, 64 * 1024)
  p:exit()				-- only the stock holds /g's charges now
  lu.assertTrue(g:rmdir())		-- the drain frees it: nothing may touch it after
  lu.assertTrue(m:check())
end

function test_reclaim_frees_a_dying_cgroup_it_walks()
  local m = machine()
  local parent = m:cgroup("/p")
  local d = m:cgroup("/p/d")
  local f = m:file{ path = "/d/f", size = 4 * MiB }
  local t = m:spawn{ name = "t", cgroup = "/p/d" }
  local buf = assert(t:mmap(nil, MiB, "rw", "private|anonymous"))
  for off = 0, 4 * MiB - 1, MiB do assert(t:pread(f, buf, MiB, off)) end
  t:exit()				-- the page cache stays charged to /p/d
  lu.assertTrue(d:rmdir())
  lu.assertTrue(parent:current() >= 4 * MiB)
  -- memory.reclaim frees /p/d's last pages, and so /p/d, during its walk
  lu.assertEquals({ parent:write("memory.reclaim", "64M") }, { nil, "EAGAIN", 11 })
  lu.assertEquals(parent:stat().file, 0)
  lu.assertTrue(m:check())		-- its statistics stay in /p's (stat_dead)
  lu.assertTrue(parent:stat().pgfault > 0)
end

function test_a_freed_cgroup_leaves_no_stock_behind()
  local m = machine()
  local a = m:cgroup("/a")
  local p = m:spawn{ name = "p", cgroup = "/a" }
  local addr = assert(p:mmap(nil, 4 * MiB, "rw", "private|anonymous"))
  local i = 0
  repeat				-- until the stock's slot for /a is empty
    assert(p:touch(addr + i * PAGE, PAGE, "w"))
    i = i + 1
    local st = a:stat()
  until a:current() == st.anon + st.kernel or i >= 1000
  assert(m:cgroup("/"):attach(p))
  assert(a:rmdir())
  p:exit()				-- the last charge goes: /a is freed
  lu.assertTrue(m:check())
  local q = m:spawn{ name = "q", cgroup = "/b" }
  write_anon(q, 1 * MiB)
  lu.assertTrue(m:check())
end

function test_cgroup_ids_are_reused()
  local m = machine()
  for i = 1, 70000 do			-- more than the 65535 ids: each is freed and used again
    local cg = assert(m:cgroup("/c" .. i % 3))
    assert(cg:rmdir())
  end
  lu.assertTrue(m:check())
end

function test_fork_reclaiming_at_a_limit_keeps_the_rmap()
  -- the child's page tables are charged while dup_mmap copies the
  -- parent's huge page: the reclaim they cause splits it, and must see
  -- the child's copied PMD too (found by review)
  local m = machine{ ram = "64M", swap = "16M" }
  m:thp{ enabled = "always" }
  local cg = m:cgroup("/d")
  local p = m:spawn{ name = "t", cgroup = "/d" }
  write_anon(p, 4 * MiB)
  local b = assert(p:mmap(nil, 1 * MiB, "rw", "private|anonymous"))
  assert(p:touch(b, 119 * PAGE, "w"))
  assert(cg:write("memory.max", tostring(cg:current())))
  lu.assertNotNil(p:fork())
  lu.assertTrue(m:check())
end

-- ===================== charging =====================

function test_charges_come_in_batches()
  local m = machine()
  local cg = m:cgroup("/box")
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn{ name = "p" }
  cg:attach(p)
  local a = assert(p:mmap(nil, 8 * MiB, "rw", "private|anonymous"))
  assert(p:touch(a, PAGE, "w"))
  -- the first charge takes MEMCG_CHARGE_BATCH pages; the page tables and
  -- the page come out of the CPU's stock
  lu.assertEquals(cg:current(), BATCH)
  local s = cg:stat()
  lu.assertEquals(s.anon, PAGE)
  lu.assertEquals(s.inactive_anon, 0)	-- waiting in the CPU's lru_add batch
  m:lru_add_drain_all()
  lu.assertEquals(cg:stat().inactive_anon, PAGE)
  lu.assertTrue(s.pagetables > 0)
  -- and the mmap's VMA, a vm_area_struct object charged to /box: a whole
  -- page of kernel memory (obj_cgroup_charge), the rest of it kept in the
  -- CPU's obj stock; slab_unreclaimable waits for a page's worth of objects
  lu.assertEquals(s.kernel, s.pagetables + PAGE)
  lu.assertEquals(s.slab_unreclaimable, 0)
  assert(p:touch(a, 8 * MiB, "w"))
  s = cg:stat()
  lu.assertEquals(s.anon, 8 * MiB)
  lu.assertEquals(cg:current(), round_up(s.anon + s.kernel, BATCH))
  lu.assertEquals(s.pgfault, 2048)
  lu.assertEquals(cg:peak(), cg:current())
  assert(p:munmap(a, 8 * MiB))
  s = cg:stat()
  lu.assertEquals(s.anon, 0)
  lu.assertTrue(cg:current() < BATCH + s.kernel)	-- what the stock keeps
  lu.assertEquals(cg:peak(), round_up(8 * MiB + 6 * PAGE, BATCH))
  lu.assertTrue(m:check())
end

function test_file_shmem_and_dirty_stats()
  local m = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local f = m:file{ path = "/data", size = 1 * MiB, writable = true }
  local a = assert(p:mmap(nil, 1 * MiB, "rw", "shared", f, 0))
  assert(p:touch(a, 1 * MiB, "r"))
  local s = cg:stat()
  lu.assertEquals(s.file, 1 * MiB)
  lu.assertEquals(s.file_mapped, 1 * MiB)
  -- 256 pages = 8 full batches of 31 and 8 still waiting in the lru_add batch
  lu.assertEquals(s.inactive_file + s.active_file, 1 * MiB - 8 * PAGE)
  assert(p:touch(a, 64 * 1024, "w"))
  lu.assertEquals(cg:stat().file_dirty, 64 * 1024)
  local sh = assert(p:mmap(nil, 256 * 1024, "rw", "shared|anonymous"))
  assert(p:touch(sh, 256 * 1024, "w"))
  s = cg:stat()
  lu.assertEquals(s.shmem, 256 * 1024)
  lu.assertEquals(s.file, 1 * MiB + 256 * 1024)		-- shmem is page cache too
  lu.assertEquals(s.anon, 0)
  -- the root's memory.stat counts every cgroup's pages
  lu.assertTrue(m:cgroup("/"):stat().file >= s.file)
  lu.assertTrue(m:check())
end

function test_hierarchy()
  local m = machine()
  local parent = m:cgroup("/p")
  local c1, c2 = m:cgroup("/p/c1"), m:cgroup("/p/c2")
  local p1 = m:spawn{ name = "p1", cgroup = "/p/c1" }
  local p2 = m:spawn{ name = "p2", cgroup = "/p/c2" }
  write_anon(p1, 2 * MiB)
  write_anon(p2, 3 * MiB)
  lu.assertEquals(parent:stat().anon, 5 * MiB)
  lu.assertEquals(parent:current(), c1:current() + c2:current())
  lu.assertEquals(parent:stat().pgfault, c1:stat().pgfault + c2:stat().pgfault)
  lu.assertTrue(m:check())
end

-- ===================== memory.max =====================

function test_max_reclaims_page_cache()
  local m = machine()					-- no swap: only file pages can go
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "4M"))
  local p = m:spawn{ name = "reader", cgroup = "/box" }
  local f = m:file{ path = "/big", size = 16 * MiB }
  local a = assert(p:mmap(nil, 16 * MiB, "r", "private", f, 0))
  lu.assertTrue(p:touch(a, 16 * MiB, "r"))		-- no OOM: reclaim keeps up
  lu.assertTrue(cg:current() <= 4 * MiB)
  local s, ev = cg:stat(), cg:events()
  lu.assertTrue(ev.max > 0)				-- charges hit the limit
  lu.assertEquals(ev.oom, 0)
  lu.assertTrue(s.pgsteal_direct > 0)
  lu.assertEquals(s.pgsteal, s.pgsteal_direct)
  lu.assertTrue(s.pgscan >= s.pgsteal)
  local v = m:vmstat()					-- not the node's reclaim
  lu.assertEquals(v.allocstall_normal + v.allocstall_dma32, 0)
  lu.assertEquals(v.pgsteal_direct + v.pgscan_direct + v.pgrefill, 0)	-- counted in the memcg only
  lu.assertEquals(v.pgscan_file, s.pgscan)		-- pgscan_anon/file count every reclaim
  lu.assertTrue(m:check())
end

function test_memcg_reclaim_tracepoints()
  local m = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local f = m:file{ path = "/f", size = 4 * MiB }
  local a = assert(p:mmap(nil, 4 * MiB, "r", "private", f, 0))
  assert(p:touch(a, 4 * MiB, "r"))
  m:trace{ events = { "mm_vmscan_memcg_reclaim_begin", "mm_vmscan_memcg_reclaim_end",
                      "mm_vmscan_direct_reclaim_begin" }, size = 64 }
  assert(cg:write("memory.reclaim", "128K"))		-- SWAP_CLUSTER_MAX pages at least
  local evs = m:trace_events()
  m:trace(false)
  lu.assertEquals(#evs, 2)
  lu.assertEquals(evs[1].event, "mm_vmscan_memcg_reclaim_begin")
  lu.assertEquals(evs[1].order, 0)
  lu.assertEquals(evs[2].event, "mm_vmscan_memcg_reclaim_end")
  lu.assertTrue(evs[2].nr_reclaimed >= 32)
  lu.assertEquals(evs[2].nr_reclaimed, cg:stat().pgsteal_proactive)
end

function test_max_swaps_anon()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "8M"))
  local p = m:spawn{ name = "hog", cgroup = "/box" }
  local a, ok = write_anon(p, 16 * MiB)
  lu.assertTrue(ok)
  lu.assertTrue(cg:current() <= 8 * MiB)
  local s = cg:stat()
  lu.assertTrue(s.pswpout >= 8 * MiB / PAGE - 64)
  lu.assertEquals(m:vmstat().pswpout, s.pswpout)	-- nobody else swapped
  lu.assertEquals(cg:events().oom, 0)
  lu.assertEquals(p:read(a, 1), "\0")			-- swapped back in, charged again
  lu.assertTrue(cg:stat().pswpin >= 1)
  lu.assertTrue(m:check())
end

function test_max_oom_kills_in_the_cgroup_only()
  local m = machine()
  local big = m:spawn{ name = "big" }			-- in the root, with more memory
  write_anon(big, 16 * MiB)
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "8M"))
  local p = m:spawn{ name = "hog", cgroup = "/box" }
  m:dmesg(true)
  local _, ok, sig = write_anon(p, 16 * MiB)
  lu.assertNil(ok)
  lu.assertEquals(sig, "SIGKILL")	-- the faulting task was the victim
  lu.assertNil(m:task(p.pid))
  lu.assertNotNil(m:task(big.pid))			-- the node had room: big is spared
  local ev = cg:events()
  lu.assertEquals({ ev.oom, ev.oom_kill, ev.oom_group_kill }, { 1, 1, 0 })
  lu.assertTrue(ev.max > 0)
  lu.assertEquals(m:vmstat().oom_kill, 1)
  local text = m:dmesg()
  lu.assertStrContains(text, "hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0")
  -- failcnt is memory.events max when the OOM killer ran (inside the
  -- fault's charge); the charge then went round once more -- 17 passes of
  -- reclaim (MAX_RECLAIM_RETRIES + 1) -- before failing for the dying task
  local failcnt = tonumber(text:match("memory: usage 8192kB, limit 8192kB, failcnt (%d+)\n"))
  lu.assertEquals(ev.max - failcnt, 17)
  lu.assertStrContains(text, "Memory cgroup stats for /box:")
  lu.assertStrContains(text, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
                       .. "mems_allowed=0,oom_memcg=/box,task_memcg=/box,task=hog,pid=" .. p.pid)
  lu.assertStrContains(text, "Memory cgroup out of memory: Killed process " .. p.pid .. " (hog)")
  lu.assertNotStrContains(text, " big\n")		-- the task table lists the cgroup's tasks
  lu.assertTrue(cg:current() < BATCH)
  lu.assertTrue(m:check())
end

-- The fault's charge runs the OOM killer inside it (try_charge_memcg), as
-- 6.18 does: the victim exits and the same charge is retried, so the
-- fault that found the cgroup full completes once -- one pgfault, one
-- min_flt, no VM_FAULT_OOM and no second fault.
function test_fault_charge_kills_inside_the_charge()
  local m = machine()
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "8M"))
  local big = m:spawn{ name = "big", cgroup = "/box" }
  write_anon(big, 7 * MiB)
  local p = m:spawn{ name = "small", cgroup = "/box" }
  local a = assert(p:mmap(nil, 2 * MiB, "rw", "private|anonymous"))
  m:dmesg(true)
  local killed_at
  for i = 0, 2 * MiB // PAGE - 1 do
    local flt, pgf = p:mm().min_flt, m:vmstat().pgfault
    lu.assertTrue(p:touch(a + i * PAGE, 1, "w"))
    lu.assertEquals(m:vmstat().pgfault - pgf, 1)
    lu.assertEquals(p:mm().min_flt - flt, 1)
    if not killed_at and not m:task(big.pid) then killed_at = i end
  end
  lu.assertNotNil(killed_at)		-- big went while small faulted
  lu.assertTrue(killed_at > 0)
  local ev = cg:events()
  lu.assertEquals({ ev.oom, ev.oom_kill }, { 1, 1 })
  local text = m:dmesg()
  lu.assertStrContains(text, "small invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0")
  lu.assertStrContains(text, "Memory cgroup out of memory: Killed process " .. big.pid .. " (big)")
  lu.assertTrue(m:check())
end

function test_oom_badness_scales_with_the_limit()
  local m = machine()
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "16M"))
  local small = m:spawn{ name = "small", cgroup = "/box" }
  write_anon(small, 3 * MiB)
  -- badness adds oom_score_adj thousandths of the cgroup's limit (4096
  -- pages, not the machine's 32768): the hog's -100 is -400 pages, and its
  -- ~3300 still outweigh small's 768 (scaled by the machine it would not)
  local hog = m:spawn{ name = "hog", cgroup = "/box", root = true }
  lu.assertEquals(hog:oom_score_adj(-100), -100)
  local _, ok, sig = write_anon(hog, 15 * MiB)
  lu.assertNil(ok)
  lu.assertEquals(sig, "SIGKILL")
  lu.assertNotNil(m:task(small.pid))
  lu.assertEquals(cg:events().oom_kill, 1)
end

function test_oom_group_kills_the_whole_cgroup()
  local m = machine()
  local cg = m:cgroup("/job")
  assert(cg:write("memory.max", "8M"))
  assert(cg:write("memory.oom.group", "1"))
  local w1 = m:spawn{ name = "worker1", cgroup = "/job/w1" }
  local w2 = m:spawn{ name = "worker2", cgroup = "/job/w2" }
  local keep = m:spawn{ name = "keeper", cgroup = "/job/w2", root = true }
  keep:oom_score_adj(-1000)				-- never killed, not even by the group
  write_anon(w2, 1 * MiB)
  m:dmesg(true)
  local _, _, sig = write_anon(w1, 16 * MiB)
  lu.assertEquals(sig, "SIGKILL")
  lu.assertNil(m:task(w1.pid))
  lu.assertNil(m:task(w2.pid))
  lu.assertNotNil(m:task(keep.pid))
  lu.assertEquals(cg:events().oom_group_kill, 1)
  -- the group's scan kills the victim once more (its mm is still there:
  -- oom_kill_memcg_member does not skip it), then worker2
  lu.assertEquals(cg:events().oom_kill, 3)
  lu.assertEquals(m:cgroup("/job/w1"):events(true).oom_kill, 2)	-- .local
  lu.assertEquals(m:cgroup("/job/w2"):events(true).oom_kill, 1)
  local _, kills = m:dmesg():gsub("Killed process " .. w1.pid .. " ", "")
  lu.assertEquals(kills, 2)
  lu.assertStrContains(m:dmesg(),
                       "Tasks in /job are going to be killed due to memory.oom.group set")
  lu.assertTrue(m:check())
end

function test_lowering_max_reclaims_then_kills()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box" }
  write_anon(p, 8 * MiB)
  lu.assertTrue(cg:write("memory.max", "2M"))		-- swapped out to fit
  lu.assertTrue(cg:current() <= 2 * MiB)
  lu.assertNotNil(m:task(p.pid))
  local m2 = machine()					-- without swap: the OOM killer
  local cg2 = m2:cgroup("/box")
  local q = m2:spawn{ name = "q", cgroup = "/box" }
  write_anon(q, 8 * MiB)
  lu.assertTrue(cg2:write("memory.max", "2M"))
  lu.assertNil(m2:task(q.pid))
  lu.assertEquals(cg2:events().oom_kill, 1)
  lu.assertTrue(cg2:current() <= 2 * MiB)
  lu.assertTrue(m2:check())
end

-- A task of /box with 200 anonymous pages, a 64-page file mapped with
-- prot and flags in the same page table, and memory.max at exactly the
-- charged pages: a fault's next charge finds nothing to reclaim.
local function full_cgroup_with_file(prot, flags)
  local m = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box", aslr = false }
  local f = m:file{ path = "/data", size = 64 * PAGE }
  local a = 0x7e0000000000				-- 2 MiB aligned: one page table
  assert(p:mmap(a, 512 * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:touch(a, 200 * PAGE, "w"))
  local fm = assert(p:mmap(a + 448 * PAGE, 64 * PAGE, prot, flags, f, 0))
  assert(p:madvise(fm, 64 * PAGE, "random"))
  local s = cg:stat()
  assert(cg:write("memory.max", tostring(s.anon + s.kernel)))
  m:dmesg(true)
  return m, cg, p, fm
end

-- One access of kind to the file page of such a cgroup: the task is
-- killed, the cgroup counts majfault major faults, no page cache and one
-- kill, and the OOM report shows report.
local function assert_file_fault_killed(prot, flags, kind, majfault, report)
  local m, cg, p, fm = full_cgroup_with_file(prot, flags)
  local ok, sig = p:touch(fm, 1, kind)
  lu.assertNil(ok)
  lu.assertEquals(sig, "SIGKILL")
  local s = cg:stat()
  lu.assertEquals({ s.pgmajfault, s.file, cg:events().oom_kill }, { majfault, 0, 1 })
  lu.assertStrContains(m:dmesg(), report)
  lu.assertTrue(m:check())
end

-- A read fault whose page-cache page cannot be charged: filemap_fault
-- counts the major fault before it allocates (and charges) the page, so
-- it counts even when the charge fails and the cgroup's OOM killer kills.
-- Checked on Linux 6.18 (cgroup v1's controller, the same charging):
-- a task with 200 anonymous pages and its page tables, the limit set to
-- exactly that, then one read of a page of a MADV_RANDOM file mapping in
-- the same page table: killed, pgmajfault 1, cache 0, oom_kill 1.
function test_major_fault_counts_when_the_charge_fails()
  -- the page-cache charge's gfp is filemap_fault's, not the allocation's
  assert_file_fault_killed("r", "shared|fixed", "r", 1,
                           "gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0")
end

-- A write fault on a private file mapping: do_cow_fault charges the copy
-- before it reads the file's page (folio_prealloc), so the copy's charge
-- fails first.  Checked on Linux 6.18 with the same steps: killed,
-- pgmajfault 0, cache 0, oom_kill 1, the report's gfp GFP_KERNEL.
function test_cow_fault_charges_the_copy_first()
  assert_file_fault_killed("rw", "private|fixed", "w", 0,
                           "p invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0")
end

-- ===================== the OOM killer outside a fault =====================

-- A charge outside a fault -- the page tables fork copies and mremap
-- moves -- runs the cgroup's OOM killer inside the charge, as Linux 6.18's
-- try_charge_memcg: another task killed, the charge is retried and goes
-- through; the charging task killed, its charges fail and it dies;
-- nothing killable, ENOMEM.  The counts follow that loop for a one-page
-- charge reclaim cannot help (no swap, anonymous pages only): memory.events
-- max once per pass -- the first, the one after drain_all_stock and
-- MAX_RECLAIM_RETRIES (16) more: 18 before the OOM killer runs; a task
-- that chose itself passes 17 more times (the retries start again) before
-- "passed_oom && task_is_dying()" fails the charge.
local PASSES = 18

-- A task called name in the cgroup at path, with n bytes of anonymous
-- memory written: the task and their address.
local function spawn_writing(m, path, name, n, root)
  local p = m:spawn{ name = name, cgroup = path, aslr = false, root = root }
  local a, ok = write_anon(p, n)
  assert(ok)
  return p, a
end

-- memory.max at exactly the pages charged (the stocks drained): the next
-- charge finds no room, and nothing anonymous can be reclaimed without swap.
local function fill(cg)
  local s = cg:stat()
  assert(cg:write("memory.max", tostring(s.anon + s.kernel)))
end

-- /box with "big" (2 MiB written), then a task called name with n bytes
-- written, and memory.max filled: the machine, the cgroup, big, the task
-- and its address.
local function full_box(name, n)
  local m = machine()
  local cg = m:cgroup("/box")
  local big = spawn_writing(m, "/box", "big", 2 * MiB)
  local p, a = spawn_writing(m, "/box", name, n)
  fill(cg)
  m:dmesg(true)
  return m, cg, big, p, a
end

function test_fork_kills_another_task_and_goes_on()
  local m, cg, big, p = full_box("parent", 64 * PAGE)
  local child = p:fork()
  lu.assertNotNil(child)
  lu.assertNil(m:task(big.pid))
  lu.assertEquals(cg:procs(), { p.pid, child.pid })
  local ev = cg:events()
  lu.assertEquals({ ev.max, ev.oom, ev.oom_kill, ev.oom_group_kill }, { PASSES, 1, 1, 0 })
  lu.assertEquals(m:vmstat().oom_kill, 1)
  local text = m:dmesg()
  -- the first charge to find /box full: dup_task_struct()'s task_struct
  -- (GFP_KERNEL from an accounted cache; its 5896 bytes charge two pages)
  lu.assertStrContains(text, "parent invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=1, "
                       .. "oom_score_adj=0")
  lu.assertStrContains(text, "failcnt " .. PASSES)
  lu.assertStrContains(text, "oom_memcg=/box,task_memcg=/box,task=big,pid=" .. big.pid)
  lu.assertStrContains(text, "Memory cgroup out of memory: Killed process " .. big.pid .. " (big)")
  lu.assertEquals(child:mm().rss_anon, p:mm().rss_anon)	-- a whole copy
  lu.assertTrue(m:check())
end

-- A call whose charge the OOM killer answered by choosing its caller
-- (the call's results are ...): the caller is gone, and the cgroup
-- counted the passes of both rounds, one OOM and one kill.
local function assert_chose_the_caller(m, cg, p, ...)
  lu.assertEquals({ ... }, { nil, "SIGKILL", 9 })
  lu.assertNil(m:task(p.pid))
  local ev = cg:events()
  lu.assertEquals({ ev.max, ev.oom, ev.oom_kill }, { PASSES + 17, 1, 1 })
end

function test_fork_whose_parent_is_chosen_kills_the_parent()
  local m = machine()
  local cg = m:cgroup("/box")
  local small = spawn_writing(m, "/box", "small", 16 * PAGE)
  local p = spawn_writing(m, "/box", "parent", 2 * MiB)
  fill(cg)
  local before = #m:tasks()
  -- Linux's parent has SIGKILL pending when its fork fails: it dies on
  -- the way back to user space and never sees the errno
  assert_chose_the_caller(m, cg, p, p:fork())
  lu.assertNotNil(m:task(small.pid))
  lu.assertEquals(#m:tasks(), before - 1)		-- no child left behind
  lu.assertTrue(m:check())
end

function test_fork_with_nothing_killable_fails_with_enomem()
  local m = machine()
  local cg = m:cgroup("/box")
  local p = spawn_writing(m, "/box", "parent", 64 * PAGE, true)
  lu.assertEquals(p:oom_score_adj(-1000), -1000)
  fill(cg)
  m:dmesg(true)
  local before = cg:current()
  lu.assertEquals({ p:fork() }, { nil, "ENOMEM", 12 })
  lu.assertEquals(cg:procs(), { p.pid })
  local ev = cg:events()
  lu.assertEquals({ ev.max, ev.oom, ev.oom_kill }, { PASSES, 1, 0 })
  lu.assertStrContains(m:dmesg(), "Out of memory and no killable processes...")
  lu.assertNotStrContains(m:dmesg(), "Kernel panic")	-- a cgroup's OOM does not panic
  lu.assertTrue(cg:current() <= before)		-- the child's tables were given back
  lu.assertTrue(m:check())
end

-- memory.oom.group: the parent dies with its group, the others exit and
-- the charge goes through, but copy_process fails the fork all the same
-- ("Let kill terminate clone/fork in the middle"): no child.
function test_fork_killed_with_its_group_leaves_no_child()
  local m = machine()
  local cg = m:cgroup("/job")
  assert(cg:write("memory.oom.group", "1"))
  local big = spawn_writing(m, "/job", "big", 2 * MiB)
  local p = spawn_writing(m, "/job", "parent", 64 * PAGE)
  fill(cg)
  local before = #m:tasks()
  lu.assertEquals({ p:fork() }, { nil, "SIGKILL", 9 })
  lu.assertNil(m:task(big.pid))
  lu.assertEquals(#m:tasks(), before - 2)
  local ev = cg:events()
  lu.assertEquals({ ev.max, ev.oom, ev.oom_group_kill }, { PASSES, 1, 1 })
  lu.assertTrue(m:check())
end

-- mremap to where no page table is: the new PUD, PMD and PTE tables are
-- charged outside any fault, and the OOM killer makes room for them.
function test_mremap_page_tables_kill_another_task()
  local m, cg, big, p, a = full_box("mover", 16 * PAGE)
  local to = 0x7f0000000000				-- another PUD's span
  lu.assertEquals(p:mremap(a, 16 * PAGE, 16 * PAGE, "maymove|fixed", to), to)
  lu.assertNil(m:task(big.pid))
  lu.assertEquals(p:read(to, 1), "\0")
  local ev = cg:events()
  lu.assertEquals({ ev.max, ev.oom, ev.oom_kill }, { PASSES, 1, 1 })
  lu.assertTrue(m:check())
end

-- mremap whose mover the OOM killer chooses: it dies in the call
-- (nil, "SIGKILL", 9), as fork's parent does.
function test_mremap_whose_mover_is_chosen_dies()
  local m = machine()
  local cg = m:cgroup("/box")
  spawn_writing(m, "/box", "small", 16 * PAGE)
  local p, a = spawn_writing(m, "/box", "mover", 2 * MiB)
  fill(cg)
  assert_chose_the_caller(m, cg, p, p:mremap(a, 16 * PAGE, 16 * PAGE, "maymove|fixed",
                                             0x7f0000000000))
  lu.assertTrue(m:check())
end

-- Page tables are the current task's kernel memory (current_obj_cgroup),
-- charged to its own cgroup -- not to its mm owner's, as user pages are:
-- a clone{ vm = true } process in /a forking charges /a, which has room.
function test_page_tables_charge_the_task_not_the_mm_owner()
  local m = machine()
  m:cgroup("/a")
  local b = m:cgroup("/b")
  local owner = spawn_writing(m, "/b", "owner", 64 * PAGE)
  local bbig = spawn_writing(m, "/b", "bbig", 2 * MiB)
  local q = assert(owner:clone{ vm = true })
  assert(m:cgroup("/a"):attach(q))
  fill(b)
  lu.assertNotNil(q:fork())
  lu.assertNotNil(m:task(bbig.pid))
  lu.assertEquals(b:events().oom_kill, 0)
  lu.assertTrue(m:cgroup("/a"):stat().pagetables > 0)
  lu.assertTrue(m:check())
end

-- A victim whose mm the OOM killer passes by (pinned by init) still goes
-- through the retries before its charge fails: no MMF_OOM_SKIP shortcut
-- in 6.18's try_charge_memcg.
function test_victim_with_a_pinned_mm_retries_before_failing()
  local m = machine()
  local init = m:task(1)
  local box = m:cgroup("/box")
  assert(box:attach(init))
  write_anon(init, 32 * PAGE)
  local q = assert(init:clone{ vm = true })
  assert(box:attach(q))
  fill(box)
  lu.assertEquals({ q:fork() }, { nil, "SIGKILL", 9 })
  lu.assertEquals(box:events().max, PASSES + 17)
  lu.assertTrue(m:check())
end

-- PAGE_COUNTER_MAX is LONG_MAX / PAGE_SIZE: with 64K pages a limit of
-- 2^63 - 64K bytes is "max", and a page below it is not.
function test_page_counter_max_follows_the_page_size()
  local m <close> = memlab.new{ arch = "arm64", page_size = 65536, ram = "2G" }
  local cg = m:cgroup("/x")
  assert(cg:write("memory.max", "0x7fffffffffff0000"))
  lu.assertEquals(cg:read("memory.max"), "max\n")
  assert(cg:write("memory.max", "0x7ffffffffffe0000"))
  lu.assertEquals(cg:read("memory.max"), "9223372036854644736\n")
  lu.assertTrue(m:check())
end

-- A fault still runs the OOM killer once its charge has failed
-- (pagefault_out_of_memory): killed once, the fault retried.
function test_a_fault_still_runs_it_after_the_charge()
  local m, cg, big, p = full_box("p", 16 * PAGE)
  local _, ok = write_anon(p, PAGE)
  lu.assertTrue(ok)
  lu.assertNil(m:task(big.pid))
  lu.assertEquals({ cg:events().oom, cg:events().oom_kill }, { 1, 1 })
  lu.assertTrue(m:check())
end

-- ===================== memory.min, memory.low =====================

-- p reads n bytes of a new file through a private mapping; returns its address.
local function read_file(m, p, path, n)
  local f = m:file{ path = path, size = n }
  local a = assert(p:mmap(nil, n, "r", "private", f, 0))
  assert(p:touch(a, n, "r"))
  return a
end

-- Two siblings under a limited parent: one protected, one streaming a file.
local function siblings(knob, protect)
  local m = machine()
  local parent = m:cgroup("/p")
  assert(parent:write("memory.max", "16M"))
  local kept = m:cgroup("/p/kept")
  if knob then assert(kept:write(knob, protect)) end
  local a = m:spawn{ name = "a", cgroup = "/p/kept" }
  local b = m:spawn{ name = "b", cgroup = "/p/stream" }
  read_file(m, a, "/kept", 8 * MiB)
  read_file(m, b, "/stream", 32 * MiB)
  return m, kept, m:cgroup("/p/stream")
end

function test_min_and_low_protect_from_an_ancestors_reclaim()
  local _, kept = siblings(nil)
  local unprotected = kept:stat().file
  lu.assertTrue(unprotected < 8 * MiB)			-- without protection it gives
  for _, knob in ipairs{ "memory.min", "memory.low" } do
    local m, cg, stream = siblings(knob, "8M")
    lu.assertEquals(cg:stat().file, 8 * MiB, knob)		-- every page kept
    lu.assertEquals(cg:events().low, 0, knob)
    lu.assertTrue(stream:stat().pgsteal > 0, knob)
    lu.assertTrue(m:check())
  end
end

function test_low_gives_when_nothing_else_can()
  local m = machine()					-- no swap
  local parent = m:cgroup("/p")
  assert(parent:write("memory.max", "16M"))
  local kept = m:cgroup("/p/kept")
  assert(kept:write("memory.low", "12M"))
  local a = m:spawn{ name = "a", cgroup = "/p/kept" }
  read_file(m, a, "/kept", 10 * MiB)
  local b = m:spawn{ name = "b", cgroup = "/p/anon" }
  local _, ok = write_anon(b, 8 * MiB)		-- anonymous: nothing but the protected cache can go
  lu.assertTrue(ok)
  lu.assertTrue(kept:events().low > 0)		-- reclaimed below its low: counted
  lu.assertTrue(kept:stat().file < 10 * MiB)
  lu.assertEquals(kept:events().oom, 0)
  -- memory.min is not given up: b's next pages take the OOM killer instead
  local m2 = machine()
  local parent2 = m2:cgroup("/p")
  assert(parent2:write("memory.max", "16M"))
  local kept2 = m2:cgroup("/p/kept")
  assert(kept2:write("memory.min", "12M"))
  local a2 = m2:spawn{ name = "a", cgroup = "/p/kept" }
  assert(a2:munmap(read_file(m2, a2, "/kept", 10 * MiB), 10 * MiB))	-- cached, not mapped
  local b2 = m2:spawn{ name = "b", cgroup = "/p/anon" }
  local _, ok2, sig = write_anon(b2, 8 * MiB)
  lu.assertNil(ok2)
  lu.assertEquals(sig, "SIGKILL")
  lu.assertEquals(kept2:stat().file, 10 * MiB)
  lu.assertEquals(parent2:events().oom_kill, 1)
  lu.assertTrue(m2:check())
end

function test_protection_is_shared_when_overcommitted()
  -- /p has memory.min 4M; its children claim 8M each and use 8M each:
  -- each is protected for 4M * 8/16 = 2M, so the node's reclaim takes the
  -- rest (under a limit on /top, the reclaim's target, above /p)
  local m = machine()
  local top = m:cgroup("/top")
  assert(top:write("memory.max", "20M"))
  assert(m:cgroup("/top/p"):write("memory.min", "4M"))
  for _, name in ipairs{ "x", "y" } do
    local cg = m:cgroup("/top/p/" .. name)
    assert(cg:write("memory.min", "8M"))
    read_file(m, m:spawn{ name = name, cgroup = cg.path }, "/" .. name, 8 * MiB)
  end
  local z = m:spawn{ name = "z", cgroup = "/top/z" }
  read_file(m, z, "/z", 16 * MiB)
  for _, name in ipairs{ "x", "y" } do
    local file = m:cgroup("/top/p/" .. name):stat().file
    lu.assertTrue(file < 8 * MiB, name)			-- gave beyond its share
    lu.assertTrue(file >= 2 * MiB, name)		-- kept its share
  end
  lu.assertTrue(m:check())
end

-- ===================== memory.high, memory.reclaim =====================

function test_high_reclaims_on_return()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.high", "4M"))
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local _, ok = write_anon(p, 12 * MiB)
  lu.assertTrue(ok)
  local ev = cg:events()
  lu.assertTrue(ev.high > 0)
  lu.assertEquals(ev.max, 0)
  lu.assertEquals(ev.oom, 0)
  lu.assertTrue(cg:current() <= 4 * MiB + BATCH)	-- the excess went, up to a batch
  lu.assertTrue(cg:stat().pswpout > 0)
  lu.assertTrue(m:check())
end

function test_swappiness()
  -- cgroup v2 has no per-cgroup swappiness: vm.swappiness set after the
  -- cgroup was made holds for it (0: no anonymous pages from memory.reclaim)
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/s")
  local p = m:spawn{ name = "p", cgroup = "/s" }
  write_anon(p, 4 * MiB)
  m:sysctl{ swappiness = 0 }
  lu.assertEquals({ cg:write("memory.reclaim", "1M") }, { nil, "EAGAIN", 11 })
  lu.assertEquals(cg:stat().pswpout, 0)
  -- swappiness= overrides it for one write; swappiness=max reclaims anon only
  local f = m:file{ path = "/f", size = 4 * MiB }
  local fa = assert(p:mmap(nil, 4 * MiB, "r", "private", f, 0))
  assert(p:touch(fa, 4 * MiB, "r"))
  assert(p:munmap(fa, 4 * MiB))
  local file = cg:stat().file
  lu.assertTrue(cg:write("memory.reclaim", "1M swappiness=max"))
  lu.assertEquals(cg:stat().file, file)			-- not one page of the cache
  lu.assertTrue(cg:stat().pswpout >= 256)
  lu.assertTrue(cg:write("memory.reclaim", "1M swappiness=0"))
  lu.assertTrue(cg:stat().file < file)
  lu.assertTrue(m:check())
end

function test_refaults_are_measured_on_the_targets_clock()
  -- /p's limit evicts /p/c's file pages; they come back within /p's
  -- active file pages (/p/k's), so they are activated (workingset_eviction
  -- records the reclaim's target, not the page's own cgroup)
  local m = machine{ ram = "256M" }
  local parent = m:cgroup("/p")
  assert(parent:write("memory.max", "16M"))
  local h = m:file{ path = "/h", size = 8 * MiB }
  local f = m:file{ path = "/f", size = 6 * MiB }
  local k = m:spawn{ name = "k", cgroup = "/p/k" }
  local kb = assert(k:mmap(nil, MiB, "rw", "private|anonymous"))
  for _ = 1, 2 do for off = 0, 8 * MiB - 1, MiB do assert(k:pread(h, kb, MiB, off)) end end
  local c = m:spawn{ name = "c", cgroup = "/p/c" }
  local cb = assert(c:mmap(nil, MiB, "rw", "private|anonymous"))
  for _ = 1, 2 do for off = 0, 6 * MiB - 1, MiB do assert(c:pread(f, cb, MiB, off)) end end
  local s = parent:stat()
  lu.assertTrue(s.workingset_refault_file > 0)
  lu.assertEquals(s.workingset_activate_file, s.workingset_refault_file)
  lu.assertTrue(m:check())
end

function test_reclaim_file()
  local m = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local f = m:file{ path = "/f", size = 8 * MiB }
  local a = assert(p:mmap(nil, 8 * MiB, "r", "private", f, 0))
  assert(p:touch(a, 8 * MiB, "r"))
  assert(p:munmap(a, 8 * MiB))				-- unmapped cache: cheap to drop
  local before = cg:stat().file
  lu.assertTrue(cg:write("memory.reclaim", "2M"))
  local s = cg:stat()
  lu.assertTrue(before - s.file >= 2 * MiB)
  lu.assertTrue(s.pgsteal_proactive >= 2 * MiB / PAGE)
  lu.assertEquals(s.pgsteal_direct, 0)
  lu.assertEquals({ cg:write("memory.reclaim", "1M swappiness=201") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ cg:write("memory.reclaim", "1M bogus") }, { nil, "EINVAL", 22 })
  lu.assertEquals({ cg:write("memory.reclaim", " ") }, { nil, "EINVAL", 22 })	-- nothing parsed
  -- anonymous memory without swap cannot go: EAGAIN
  local q = m:spawn{ name = "q", cgroup = "/anon" }
  write_anon(q, 2 * MiB)
  lu.assertEquals({ m:cgroup("/anon"):write("memory.reclaim", "1M") }, { nil, "EAGAIN", 11 })
  lu.assertTrue(m:check())
end

-- ===================== the swap controller =====================

function test_swap_is_charged_and_limited()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "4M"))
  -- 514 pages: reclaim isolates 32 at a time, and the batch that reaches
  -- swap.max has pages left that cannot go (at 512 the limit would fall
  -- between batches, and reclaim stops scanning anon pages at once)
  assert(cg:write("memory.swap.max", "2056K"))
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local _, ok, sig = write_anon(p, 8 * MiB)	-- 4M in memory and 2M in swap: then the OOM killer
  lu.assertNil(ok)
  lu.assertEquals(sig, "SIGKILL")
  local ev = cg:read("memory.swap.events")
  local high, max, fail = ev:match("high (%d+)\nmax (%d+)\nfail (%d+)\n")
  lu.assertEquals(tonumber(high), 0)
  lu.assertTrue(tonumber(max) > 0)			-- charges that hit swap.max
  lu.assertEquals(tonumber(fail), tonumber(max))	-- each kept a page in memory
  lu.assertEquals(cg:read("memory.swap.peak"), tostring(514 * PAGE) .. "\n")
  lu.assertEquals(cg:read("memory.swap.current"), "0\n")	-- the victim's slots are free
  lu.assertEquals(cg:events().oom_kill, 1)
  lu.assertTrue(m:check())
end

function test_swap_high_is_counted()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.high", "2M"))
  assert(cg:write("memory.swap.high", "1M"))
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local _, ok = write_anon(p, 8 * MiB)		-- swap.high only throttles: nothing fails
  lu.assertTrue(ok)
  lu.assertTrue(tonumber(cg:read("memory.swap.current")) > 1 * MiB)
  lu.assertTrue(tonumber(cg:read("memory.swap.events"):match("high (%d+)")) > 0)
  lu.assertEquals(cg:events().oom, 0)
  lu.assertTrue(m:check())
end

function test_swap_max_zero_keeps_anon_in_memory()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "8M"))
  assert(cg:write("memory.swap.max", "0"))
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local f = m:file{ path = "/f", size = 4 * MiB }
  local fa = assert(p:mmap(nil, 4 * MiB, "r", "private", f, 0))
  assert(p:touch(fa, 4 * MiB, "r"))
  local _, ok = write_anon(p, 6 * MiB)			-- the file cache makes room, not swap
  lu.assertTrue(ok)
  local s = cg:stat()
  lu.assertEquals(s.pswpout, 0)
  lu.assertEquals(s.anon, 6 * MiB)
  lu.assertTrue(s.file < 4 * MiB)
  lu.assertEquals(cg:read("memory.swap.current"), "0\n")
  lu.assertEquals(m:vmstat().pswpout, 0)
  -- without the cgroup's limit the same pages may go to swap
  assert(cg:write("memory.swap.max", "max"))
  assert(cg:write("memory.reclaim", "1M"))
  lu.assertTrue(tonumber(cg:read("memory.swap.current")) > 0 or cg:stat().file > 0)
  lu.assertTrue(m:check())
end

function test_swapped_pages_keep_a_removed_cgroup()
  local m = machine{ swap = "64M" }
  local cg = m:cgroup("/gone")
  local p = m:spawn{ name = "p", cgroup = "/gone" }
  local a = write_anon(p, 1 * MiB)
  assert(p:madvise(a, 1 * MiB, "pageout"))
  lu.assertEquals(cg:read("memory.swap.current"), tostring(1 * MiB) .. "\n")
  lu.assertTrue(m:cgroup("/"):attach(p))
  lu.assertTrue(cg:rmdir())
  lu.assertTrue(m:check())				-- the dying cgroup keeps its swap charges
  assert(p:touch(a, 1 * MiB, "r"))			-- swapped in: charged to the root now
  assert(p:munmap(a, 1 * MiB))
  lu.assertTrue(m:check())
end

function test_swap_events_and_ids_as_linux()
  -- memory.swap.max hit by a child's page: the child counts max and fail
  -- (and its ancestors with it); found by review
  local m = machine{ swap = "64M" }
  local parent = m:cgroup("/p")
  assert(parent:write("memory.swap.max", "0"))
  local c = m:cgroup("/p/c")
  local p = m:spawn{ name = "p", cgroup = "/p/c" }
  local a = write_anon(p, 1 * MiB)
  assert(p:madvise(a, 1 * MiB, "pageout"))
  lu.assertEquals(c:read("memory.swap.events"), "high 0\nmax 256\nfail 256\n")
  lu.assertEquals(parent:read("memory.swap.events"), "high 0\nmax 256\nfail 256\n")
  -- a removed cgroup no swap entry holds has lost its id: a page of it
  -- that goes to swap is charged to its parent (mem_cgroup_id_get_online)
  local m2 = machine{ swap = "64M" }
  local pp = m2:cgroup("/p")
  local q = m2:spawn{ name = "q", cgroup = "/p/gone" }
  local b = write_anon(q, 1 * MiB)
  assert(m2:cgroup("/q"):attach(q))
  assert(m2:cgroup("/p/gone"):rmdir())
  assert(q:madvise(b, 1 * MiB, "pageout"))
  lu.assertEquals(pp:read("memory.swap.current"), tostring(1 * MiB) .. "\n")
  assert(q:touch(b, 1 * MiB, "r"))			-- swapped in: charged to /p, online
  lu.assertEquals(pp:stat().anon, 1 * MiB)
  lu.assertEquals(m2:cgroup("/q"):stat().anon, 0)
  lu.assertTrue(m2:check())
end

function test_file_faults_preallocate_the_pte_table()
  -- a file fault puts the PTE table in after the copy and before the
  -- read, and takes it out again when nothing was mapped (SIGBUS)
  local m = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local f = m:file{ path = "/f", size = PAGE }
  local a = assert(p:mmap(nil, 4 * MiB, "rw", "private", f, 0))
  local target = (a // (2 * MiB) + 1) * (2 * MiB)	-- a fresh PMD: no PTE table yet
  assert(p:touch(a, 1, "r"))
  local before = p:mm().pgtables_bytes
  lu.assertEquals(select(2, p:touch(target, 1, "r")), "SIGBUS")
  lu.assertEquals(p:mm().pgtables_bytes, before)
  -- a COW fault's allocations: the copy, then the table, then the page;
  -- a failed one leaves no PTE table (the page is cached, the anon_vma made)
  for nth, delta in ipairs{ 0, 0 } do
    local q = m:spawn{ name = "q", aslr = false }
    local g = m:file{ path = "/g" .. nth, contents = string.rep("x", 8 * MiB) }
    local r = assert(q:mmap(nil, 8 * MiB, "r", "shared", g, 0))
    assert(q:touch(r + 6 * MiB, 1, "r"))
    local qa = assert(q:mmap(nil, 8 * MiB, "rw", "private", g, 0))
    assert(q:touch(qa, 1, "w"))
    local pt = q:mm().pgtables_bytes
    m:inject("fail_page_alloc", { probability = 0, verbose = 0, min_order = 0,
                                  ignore_gfp_highmem = false, ignore_gfp_wait = false })
    q:fail_nth(nth)
    lu.assertEquals(select(2, q:touch(qa + 6 * MiB, 1, "w")), "ENOMEM", "fail_nth " .. nth)
    lu.assertEquals(q:mm().pgtables_bytes - pt, delta, "fail_nth " .. nth)
    q:fail_nth(0)
    assert(q:touch(qa + 6 * MiB, 1, "w"))
    lu.assertEquals(q:mm().pgtables_bytes - pt, PAGE)
    q:exit()
  end
  lu.assertTrue(m:check())
end

-- ===================== THP and swap-in =====================

function test_thp_charge_falls_back()
  local m = machine{ ram = "256M" }
  m:thp{ enabled = "always" }
  local cg = m:cgroup("/box")
  assert(cg:write("memory.max", "3M"))
  local p = m:spawn{ name = "p", cgroup = "/box" }
  local a = assert(p:mmap(nil, 8 * MiB, "rw", "private|anonymous"))
  assert(p:touch(a + 2 * MiB, PAGE, "w"))		-- 512 pages fit: a huge page
  lu.assertEquals(cg:stat().anon_thp, 2 * MiB)
  local before = m:vmstat()
  assert(p:touch(a + 4 * MiB, PAGE, "w"))		-- 512 more do not: a small page
  local v = m:vmstat()
  lu.assertEquals(v.thp_fault_fallback_charge - before.thp_fault_fallback_charge, 1)
  lu.assertEquals(v.thp_fault_fallback - before.thp_fault_fallback, 1)
  lu.assertEquals(cg:stat().anon, 2 * MiB + PAGE)
  lu.assertEquals(cg:stat().thp_fault_alloc, 1)
  lu.assertTrue(m:check())
end

function test_swapin_charges_the_cgroup_it_left()
  local m = machine{ swap = "64M" }
  local a_cg, b_cg = m:cgroup("/a"), m:cgroup("/b")
  local p = m:spawn{ name = "p", cgroup = "/a" }
  local addr = write_anon(p, 1 * MiB)
  assert(p:madvise(addr, 1 * MiB, "pageout"))
  lu.assertEquals(a_cg:stat().anon, 0)
  lu.assertTrue(b_cg:attach(p))
  assert(p:touch(addr, 1 * MiB, "r"))
  lu.assertEquals(a_cg:stat().anon, 1 * MiB)		-- swap_cgroup: back where it was
  lu.assertEquals(b_cg:stat().anon, 0)
  lu.assertTrue(m:check())
end

-- ===================== the same run, the same bytes =====================

function test_deterministic()
  local function run()
    local m = machine{ swap = "16M" }
    local cg = m:cgroup("/box")
    cg:write("memory.max", "6M")
    local p = m:spawn{ name = "p", cgroup = "/box" }
    write_anon(p, 12 * MiB)
    return cg:read("memory.stat") .. cg:read("memory.events") .. m:proc("vmstat")
  end
  lu.assertEquals(run(), run())
end

os.exit(lu.LuaUnit.run(), true)
