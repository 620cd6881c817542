-- test_tlb.lua: CPUs and TLBs through the Lua API (docs/lua-api.md,
-- "CPUs and TLBs"): memlab.new{ cpus =, tlb = }, m:tlb_stats(),
-- m:tlb_report(), m:tlb_flush_all(), p:run_on(), p.cpu.
--
-- Run from the source root:  build/memlab run tests/lua/test_tlb.lua -o text
-- Every bad configuration must raise an error naming memlab.new and the
-- field; every misuse of a method must raise naming the method.

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, NIL = H.NAN, H.INF, H.NIL
local assert_raises, assert_rejects = H.assert_raises, H.assert_rejects

local PAGE = 4096

-- A task with n written pages of anonymous memory (at addr, fixed, if
-- given); returns it and their address.
local function task_with_pages(m, n, addr)
  local p = m:spawn{ aslr = false }
  local a = assert(p:mmap(addr, n * PAGE, "rw-", addr and "private|anonymous|fixed" or "private|anonymous"))
  for i = 0, n - 1 do assert(p:write(a + i * PAGE, "x")) end
  return p, a
end

-- The structure named name of cpu's statistics.
local function tlb_named(stats, cpu, name)
  for _, t in ipairs(stats[cpu + 1].tlbs) do
    if t.name == name then return t end
  end
end

-- ===================================================================
-- configuration
-- ===================================================================

TestTlbConfig = {}

function TestTlbConfig:test_x86_defaults()
  local m <close> = memlab.new{}
  lu.assertEquals(m:info().cpus, 1)
  local s = m:tlb_stats()
  lu.assertEquals(#s, 1)
  local names = {}
  for _, t in ipairs(s[1].tlbs) do names[#names + 1] = t.name end
  lu.assertEquals(names, { "L1i", "L1i 2M", "L1d", "L1d 2M", "L1d 1G", "STLB", "STLB 1G" })
  local stlb = tlb_named(s, 0, "STLB")
  lu.assertEquals({ stlb.entries, stlb.ways, stlb.sets, stlb.level, stlb.kind, stlb.policy },
                  { 1536, 12, 128, 2, "unified", "lru" })
  lu.assertEquals(stlb.sizes, { "4K", "2M" })
  lu.assertEquals(tlb_named(s, 0, "L1d").sizes, { "4K" })
  lu.assertEquals(tlb_named(s, 0, "L1d 1G").ways, 4)
  lu.assertEquals(s[1].pwc.pmd.lookups, 0)
  lu.assertNotNil(s[1].pwc.pud)
  lu.assertNotNil(s[1].pwc.pgd)
  lu.assertNil(s[1].pwc.p4d)            -- 4-level paging
end

function TestTlbConfig:test_arm64_defaults()
  local m <close> = memlab.new{ arch = "arm64", page_size = "16K", va_bits = 47 }
  local s = m:tlb_stats()
  lu.assertEquals(#s[1].tlbs, 3)
  local l2 = tlb_named(s, 0, "L2")
  lu.assertEquals({ l2.entries, l2.ways, l2.sets }, { 1280, 5, 256 })
  lu.assertEquals(l2.sizes, { "16K", "2M", "32M" })   -- 2M: 128 contiguous PTEs
  lu.assertEquals(tlb_named(s, 0, "L1d").ways, 48)
end

function TestTlbConfig:test_custom_hierarchy()
  local m <close> = memlab.new{ cpus = 3, tlb = {
    { name = "itlb", level = 1, kind = "i", entries = 32, ways = 4, policy = "plru" },
    { name = "dtlb", kind = "data", entries = 48 },                  -- fully associative
    { name = "l2", level = 2, kind = "unified", entries = 1536, ways = 12, policy = "random",
      sizes = { "4K", "2M" } },
    { name = "l2 1G", level = 2, kind = "unified", entries = 16, ways = 4, sizes = "1G" },
    pwc = { pmd = 24, pgd = 1 },
    pcid = false,
  } }
  lu.assertEquals(m:info().cpus, 3)
  local s = m:tlb_stats()
  lu.assertEquals(#s, 3)
  lu.assertEquals(#s[3].tlbs, 4)
  local d = tlb_named(s, 2, "dtlb")
  lu.assertEquals({ d.entries, d.ways, d.sets, d.kind, d.policy }, { 48, 48, 1, "data", "lru" })
  lu.assertEquals(tlb_named(s, 0, "itlb").policy, "plru")
  lu.assertEquals(tlb_named(s, 0, "l2").sizes, { "4K", "2M" })
  lu.assertEquals(tlb_named(s, 0, "l2 1G").sizes, { "1G" })
  lu.assertStrContains(m:tlb_report(), "page-walk cache hits PMD 0/0 PGD 0/0")
  lu.assertNotStrContains(m:tlb_report(), "PUD")
end

function TestTlbConfig:test_no_tlb()
  local m <close> = memlab.new{ tlb = false }
  local p, a = task_with_pages(m, 2)
  assert(p:read(a, 1))
  local s = m:tlb_stats()
  lu.assertEquals(#s[1].tlbs, 0)
  lu.assertEquals(s[1].levels.L1d.hits, 0)
  lu.assertTrue(s[1].walks > 0)
  lu.assertTrue(m:check())
  local m2 <close> = memlab.new{ tlb = true }
  lu.assertEquals(#m2:tlb_stats()[1].tlbs, 7)
end

function TestTlbConfig:test_arm64_asid_bits()
  local m <close> = memlab.new{ arch = "arm64", tlb = { asid_bits = 8 } }
  local ps = {}
  for i = 1, 256 do
    ps[i] = m:spawn{ aslr = false }
    assert(ps[i]:touch(ps[i]:vmas()[1].start, 1, "r"))
  end
  lu.assertEquals(m:tlb_stats()[1].asid_rollovers, 1)
  lu.assertTrue(m:check())
end

-- Each case: the options, then what the error must contain.
local BAD = {
  { { cpus = 0 }, "'cpus' (must be 1..64)" },
  { { cpus = 65 }, "'cpus'" },
  { { cpus = 1 << 40 }, "'cpus'" },
  { { cpus = -1 }, "'cpus'" },
  { { cpus = NAN }, "'cpus'" },
  { { cpus = 1.5 }, "'cpus'" },
  { { cpus = "2" }, "'cpus' (integer expected, got string)" },
  { { tlb = 3 }, "'tlb' (table or boolean expected, got number)" },
  { { tlb = "big" }, "'tlb'" },
  { { tlb = { { entries = 1536, ways = 7 } } }, "'tlb[1].ways' (7 does not divide entries (1536))" },
  { { tlb = { { entries = 64 }, { entries = 64, ways = 128 } } }, "'tlb[2].ways'" },
  { { tlb = { { entries = 0 } } }, "'tlb[1].entries' (must be 1..1048576, got 0)" },
  { { tlb = { { entries = -64 } } }, "'tlb[1].entries'" },
  { { tlb = { { entries = INF } } }, "'tlb[1].entries'" },
  { { tlb = { { entries = 1 << 21 } } }, "'tlb[1].entries'" },
  { { tlb = { { entries = 64, ways = 0 } } }, "'tlb[1].ways' (must be 1.." },
  { { tlb = { { entries = 64, ways = -4 } } }, "'tlb[1].ways'" },
  { { tlb = { { ways = 4 } } }, "'tlb[1]' (entries is required)" },
  { { tlb = { { entries = 64, policy = "mru" } } }, "'tlb[1].policy' (must be \"lru\", \"fifo\", \"random\", \"plru\" or \"lfu\")" },
  { { tlb = { { entries = 64, policy = "LRU" } } }, "'tlb[1].policy'" },
  { { tlb = { { entries = 64, policy = 1 } } }, "'tlb[1].policy'" },
  { { tlb = { { entries = 64, kind = "x" } } }, "'tlb[1].kind'" },
  { { tlb = { { entries = 64, level = 3 } } }, "'tlb[1].level' (must be 1..2, got 3)" },
  { { tlb = { { entries = 64, level = 0 } } }, "'tlb[1].level'" },
  { { tlb = { { entries = 64, name = string.rep("n", 16) } } }, "'tlb[1].name'" },
  { { tlb = { { entries = 64, name = 7 } } }, "'tlb[1].name'" },
  { { tlb = { { entries = 64, sizes = "3K" } } }, "'tlb[1].sizes' (a page size is a power of two" },
  { { tlb = { { entries = 64, sizes = "abc" } } }, "'tlb[1].sizes'" },
  { { tlb = { { entries = 64, sizes = {} } } }, "'tlb[1].sizes' (at least one page size)" },
  { { tlb = { { entries = 64, sizes = "16K" } } }, "tlb[1] (\"tlb1\"): page sizes must be some of 4K,2M,1G" },
  { { tlb = { { entries = 64, sizes = "64K" } }, arch = "arm64", page_size = "16K" }, "page sizes must be some of 16K,2M,32M" },
  { { tlb = { { entries = 64, colour = "red" } } }, "unknown option 'tlb[1].colour'" },
  { { tlb = { { entries = 64 }, nope = 1 } }, "unknown option 'tlb.nope'" },
  { { tlb = { [2] = { entries = 64 } } }, "'tlb' (the structures must be an array tlb[1..n])" },
  { { tlb = { [0] = { entries = 64 } } }, "'tlb'" },
  { { tlb = { "L1" } }, "'tlb[1]' (table expected, got string)" },
  { { tlb = { pwc = { pmd = -1 } } }, "'tlb.pwc.pmd' (must be 0..4096, got -1)" },
  { { tlb = { pwc = { pmd = 5000 } } }, "'tlb.pwc.pmd'" },
  { { tlb = { pwc = { pte = 4 } } }, "'tlb.pwc.pte' (the levels are pmd, pud, p4d and pgd)" },
  { { tlb = { pwc = { p4d = 2 } } }, "'tlb.pwc.p4d' (the 4-level page tables have no p4d level)" },
  { { tlb = { pwc = { pud = 2 } }, arch = "arm64", va_bits = 39 }, "'tlb.pwc.pud' (the 3-level" },
  { { tlb = { pwc = 4 } }, "'tlb.pwc'" },
  { { tlb = { pcid = "yes" } }, "'tlb.pcid' (boolean expected)" },
  { { tlb = { pcid = false }, arch = "arm64" }, "'tlb.pcid' (x86_64 only" },
  { { tlb = { asid_bits = 12 }, arch = "arm64" }, "'tlb.asid_bits' (must be 8 or 16)" },
  { { tlb = { asid_bits = 8 } }, "tlb.asid_bits is arm64's" },
}

function TestTlbConfig:test_bad_options()
  local many = {}
  for i = 1, 17 do many[i] = { entries = 4 } end
  BAD[#BAD + 1] = { { tlb = many }, "'tlb' (at most 16 structures, got 17)" }
  for _, case in ipairs(BAD) do
    local err = assert_raises({ "memlab.new", case[2] }, memlab.new, case[1])
    lu.assertNotStrContains(err, "stack traceback")
  end
end

function TestTlbConfig:test_pwc_on_5_level_and_arm64()
  local m <close> = memlab.new{ va_bits = 57, tlb = { pwc = { pmd = 8, pud = 4, p4d = 2, pgd = 1 } } }
  local s = m:tlb_stats()[1]
  lu.assertNotNil(s.pwc.p4d)
  local a <close> = memlab.new{ arch = "arm64", va_bits = 39, tlb = { pwc = { pmd = 8, pgd = 2 } } }
  local pw = a:tlb_stats()[1].pwc
  lu.assertNotNil(pw.pmd)
  lu.assertNotNil(pw.pgd)
  lu.assertNil(pw.pud)
end

-- ===================================================================
-- statistics and the report
-- ===================================================================

TestTlbStats = {}

function TestTlbStats:setUp()
  self.m = memlab.new{ ram = "64M" }
end

function TestTlbStats:tearDown()
  self.m:close()
end

function TestTlbStats:test_hits_and_misses()
  local m = self.m
  local p, a = task_with_pages(m, 8)
  m:tlb_flush_all()
  local before = tlb_named(m:tlb_stats(), 0, "L1d")
  for _ = 1, 3 do
    for i = 0, 7 do assert(p:read(a + i * PAGE, 8)) end
  end
  local s = m:tlb_stats()
  local l1d = tlb_named(s, 0, "L1d")
  lu.assertEquals(l1d.misses - before.misses, 8)
  lu.assertEquals(l1d.hits - before.hits, 16)
  lu.assertEquals(l1d.compulsory_misses, 8)        -- counted when the pages were first written
  lu.assertTrue(l1d.compulsory_exact)
  lu.assertEquals(l1d.lookups, l1d.hits + l1d.misses)
  lu.assertTrue(l1d.flush_events >= 1)
  lu.assertEquals(s[1].levels.L1d.hits, l1d.hits)
  lu.assertTrue(s[1].walk_mem_refs >= s[1].walks)
  lu.assertTrue(s[1].pwc.pmd.hits > 0)
  lu.assertEquals(s[1].loaded_pid, p.pid)
  lu.assertTrue(m:check())
end

function TestTlbStats:test_report()
  local m = self.m
  local p, a = task_with_pages(m, 2)
  local text = m:tlb_report()
  lu.assertStrMatches(text:match("^[^\n]*"),
    "cpu%s+tlb%s+lv%s+kind%s+entries%s+ways%s+sets%s+policy%s+sizes%s+lookups%s+hits%s+misses%s+compulsory%s+miss rate%s+reach")
  lu.assertStrContains(text, "  0  L1d         1 data         64     4    16 lru    4K")
  lu.assertStrContains(text, "L2 (all)")
  lu.assertStrContains(text, "nr_tlb_local_flush_one")
  lu.assertStrMatches(text, ".*%d+%.%d%d%%.*")
  lu.assertStrMatches(text:match("\n  0  L1d  [^\n]*"), ".* 8K")   -- reach: the two pages
  assert(p:read(a, 1))
end

function TestTlbStats:test_flush_all()
  local m = self.m
  local p, a = task_with_pages(m, 1)
  assert(p:read(a, 1))
  lu.assertTrue(m:tlb_flush_all())
  local walks = m:tlb_stats()[1].walks
  assert(p:read(a, 1))
  lu.assertEquals(m:tlb_stats()[1].walks, walks + 1)
end

-- A TLB entry that refuses an access faults without a walk.  GUP's write
-- fault reuses a page whose entry a fork made read-only and makes it
-- writable without a flush (wp_page_reuse): the entry an earlier read left
-- in the TLB makes the next write fault once more, spuriously.  Checked on
-- a Linux 6.18 x86-64 host (one fault, unless something evicted the entry
-- first; none without the read, or after a full flush).
function TestTlbStats:test_spurious_fault_after_gup()
  local m = self.m
  for _, case in ipairs{ { read = true, flush = false, faults = 1 },
                         { read = false, flush = false, faults = 0 },
                         { read = true, flush = true, faults = 0 } } do
    local p, a = task_with_pages(m, 1, 0x7e0000000000)
    p:fork():exit()                                -- the page: read-only, mapped once
    if case.read then assert(p:read(a, 1)) end
    local flt = p:mm().min_flt
    assert(p:madvise(a, PAGE, "populate_write"))
    lu.assertEquals(p:mm().min_flt, flt + 1)       -- GUP's fault: reused
    if case.flush then m:tlb_flush_all() end
    local walks = m:tlb_stats()[1].walks
    assert(p:write(a, "y"))
    lu.assertEquals(p:mm().min_flt, flt + 1 + case.faults)
    lu.assertEquals(m:tlb_stats()[1].walks, walks + 1)
    p:exit()
  end
  lu.assertTrue(m:check())
end

function TestTlbStats:test_vmstat_has_no_debug_tlbflush_items()
  -- the reference host's kernel is built without CONFIG_DEBUG_TLBFLUSH
  local v = self.m:vmstat()
  lu.assertNil(v.nr_tlb_remote_flush)
  lu.assertNotStrContains(self.m:proc("vmstat"), "nr_tlb_")
end

function TestTlbStats:test_hostile_self()
  for _, name in ipairs{ "tlb_stats", "tlb_report", "tlb_flush_all" } do
    assert_raises({ name }, self.m[name], 42)
    assert_raises({ name }, self.m[name])
  end
  local closed = memlab.new{ ram = "64M" }
  closed:close()
  assert_raises({ "tlb_stats", "closed machine" }, closed.tlb_stats, closed)
end

-- ===================================================================
-- CPUs: run_on, shootdowns
-- ===================================================================

TestCpus = {}

function TestCpus:setUp()
  self.m = memlab.new{ ram = "64M", cpus = 2 }
end

function TestCpus:tearDown()
  self.m:close()
end

function TestCpus:test_round_robin_and_run_on()
  local m = self.m
  local p, q = m:spawn(), m:spawn()
  lu.assertEquals({ p.cpu, q.cpu }, { 0, 1 })
  local c = p:fork()
  lu.assertEquals(c.cpu, 0)
  lu.assertTrue(p:run_on(1))
  lu.assertEquals(p.cpu, 1)
  p:exit()
  lu.assertNil(p.cpu)
end

function TestCpus:test_run_on_rejects()
  local p = self.m:spawn()
  assert_rejects(p, "run_on", { 0 }, 1, { -1, 2, 1 << 40, 0.5, NAN, INF, "1", {}, NIL, true })
  local q = self.m:spawn()
  q:exit()
  assert_raises({ "run_on", "exited task" }, q.run_on, q, 0)
end

function TestCpus:test_shootdown_after_migration()
  local m = self.m
  local p, a = task_with_pages(m, 2, 0x7e0000000000)   -- alone under its page tables
  lu.assertEquals(p.cpu, 0)
  p:run_on(1)
  assert(p:read(a, 2 * PAGE))
  local s = m:tlb_stats()
  lu.assertTrue(s[1].lazy)
  lu.assertEquals(s[2].loaded_pid, p.pid)
  assert(p:munmap(a, 2 * PAGE))             -- frees the page table: IPIs to the lazy CPU too
  s = m:tlb_stats()
  lu.assertEquals(s[2].nr_tlb_remote_flush, 1)
  lu.assertEquals(s[1].nr_tlb_remote_flush_received, 1)
  lu.assertEquals(s[1].loaded_pid, 0)
  lu.assertTrue(m:check())
  H.assert_errno("SIGSEGV", "SEGV_MAPERR", p:read(a, 1))
end

-- A thread on the other CPU: the mm is live on both, so an munmap is a
-- shootdown the thread's CPU receives at once (not lazily).
function TestCpus:test_thread_gets_the_shootdown()
  local m = self.m
  local p, a = task_with_pages(m, 2)
  local t = p:thread()
  lu.assertEquals({ p.cpu, t.cpu }, { 0, 1 })
  assert(t:read(a, 2 * PAGE))
  assert(p:read(a, 1))
  local s = m:tlb_stats()
  lu.assertEquals({ s[1].loaded_pid, s[2].loaded_pid }, { p.pid, p.pid })   -- the mm's owner
  lu.assertFalse(s[2].lazy)
  assert(p:munmap(a, PAGE))
  s = m:tlb_stats()
  lu.assertEquals(s[1].nr_tlb_remote_flush, 1)
  lu.assertEquals(s[2].nr_tlb_remote_flush_received, 1)
  H.assert_errno("SIGSEGV", "SEGV_MAPERR", t:read(a, 1))
  lu.assertEquals(t:read(a + PAGE, 1), "x")
  lu.assertTrue(m:check())
end

-- The same shootdown lost: the thread's CPU keeps the translation of a
-- frame the munmap freed, reads what the frame's next owner writes, and
-- m:check() names the stale entries.
function TestCpus:test_lost_shootdown_is_a_stale_read()
  local m = self.m
  local p, a = task_with_pages(m, 1)
  local t = p:thread()
  assert(t:read(a, 1))
  m:inject("tlb_lost_shootdown", { probability = 100, times = 1 })
  assert(p:munmap(a, PAGE))
  m:lru_add_drain_all()                    -- the CPU's lru_add batch lets the frame go
  lu.assertEquals(m:injected().tlb_lost_shootdown.fired, 1)
  H.assert_errno("SIGSEGV", "SEGV_MAPERR", p:read(a, 1))   -- p's CPU flushed
  local q = m:spawn()
  local b = assert(q:mmap(nil, PAGE, "rw-", "private|anonymous"))
  assert(q:write(b, "secret"))
  lu.assertEquals(t:read(a, 6), "secret")                   -- through the stale entry
  local ok, err = pcall(m.check, m)
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "cpu 1 L1d: stale entry for va")
  m:tlb_flush_all()
  lu.assertTrue(m:check())
  H.assert_errno("SIGSEGV", "SEGV_MAPERR", t:read(a, 1))
end

function TestCpus:test_context_switches_keep_asids()
  local m = memlab.new{ ram = "64M" }
  local ps = {}
  for i = 1, 3 do ps[i] = task_with_pages(m, 1) end
  local s0 = m:tlb_stats()[1]
  for _ = 1, 4 do
    for i = 1, 3 do assert(ps[i]:touch(0x555555554000, 1, "r")) end
  end
  local s1 = m:tlb_stats()[1]
  lu.assertEquals(s1.context_switches - s0.context_switches, 12)
  lu.assertEquals(s1.switch_flushes, s0.switch_flushes)   -- three mms, six ASIDs: no flush
  lu.assertTrue(m:check())
  m:close()
end

-- ===================================================================
-- random operations on three CPUs: no cached translation ever goes stale
-- ===================================================================

TestTlbStress = {}

-- One random operation of a random task on pages of a fixed region.
local function random_op(tasks)
  local k = math.random(#tasks)
  local p = tasks[k]
  local a = 0x7e0000000000 + math.random(0, 63) * PAGE
  local op = math.random(12)
  if op <= 4 then p:write(a, "w")
  elseif op <= 6 then p:read(a, 8)
  elseif op == 7 then p:mmap(a, math.random(1, 8) * PAGE, "rw-", "private|anonymous|fixed")
  elseif op == 8 then p:munmap(a, math.random(1, 40) * PAGE)
  elseif op == 9 then p:mprotect(a, math.random(1, 40) * PAGE, ({ "r", "rw", "", "rwx" })[math.random(4)])
  elseif op == 10 then p:run_on(math.random(0, 2))
  elseif op == 11 then p:mremap(a, PAGE * math.random(1, 4), PAGE * math.random(1, 8), "maymove")
  elseif #tasks < 6 then tasks[#tasks + 1] = p:fork()
  else table.remove(tasks, k):exit()
  end
end

function TestTlbStress:test_random_operations()
  for _, o in ipairs{ { arch = "x86_64" }, { arch = "arm64" }, { arch = "x86_64", tlb = { pcid = false } } } do
    math.randomseed(7)
    o.cpus, o.ram = 3, "64M"
    local m <close> = memlab.new(o)
    local tasks = { m:spawn{ aslr = false }, m:spawn{ aslr = false } }
    for step = 1, 400 do
      random_op(tasks)
      local ok, err = pcall(m.check, m)
      lu.assertTrue(ok, o.arch .. " step " .. step .. ": " .. tostring(err))
    end
    lu.assertTrue(m:tlb_stats()[1].walks > 0)
  end
end

os.exit(lu.LuaUnit.run(), true)
