-- test_fault.lua: fault injection and the scenario toolkit through the Lua
-- API: m:inject / m:injected with Linux's attribute semantics
-- (lib/fault-inject.c should_fail_ex, mm/fail_page_alloc.c), hostile
-- arguments, and memlab.scenario's sweep and soak.
--
-- Run from the source root:  build/memlab run tests/lua/test_fault.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local scenario = require("memlab.scenario")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local assert_raises = H.assert_raises

-- Every page allocation reaches the decision (no filter of the point's).
local ALL = { min_order = 0, ignore_gfp_highmem = false, ignore_gfp_wait = false, verbose = 0 }
local function attrs(t)
  local a = {}
  for k, v in pairs(ALL) do a[k] = v end
  for k, v in pairs(t) do a[k] = v end
  return a
end

-- Allocate and free an order-0 page n times; the list of outcomes (true: ok).
local function allocs(m, n, order)
  local out = {}
  for i = 1, n do
    local pfn = m:alloc_pages(order or 0)
    out[i] = pfn ~= nil
    if pfn then m:free_pages(pfn, order or 0) end
  end
  return out
end

TestInject = {}

function TestInject:test_defaults_are_linux()
  local m <close> = memlab.new{ ram = "64M" }
  local st = m:injected("fail_page_alloc")
  lu.assertEquals({ st.probability, st.interval, st.times, st.space, st.verbose, st.min_order },
                  { 0, 1, 1, 0, 2, 1 })
  lu.assertTrue(st.ignore_gfp_highmem)
  lu.assertTrue(st.ignore_gfp_wait)
  lu.assertFalse(st.task_filter)
  lu.assertEquals(st.calls, 0)
  lu.assertEquals(m:injected().fail_page_alloc.fired, 0)
end

function TestInject:test_filters_come_before_the_decision()
  local m <close> = memlab.new{ ram = "64M" }
  m:inject("fail_page_alloc", { probability = 100, times = -1, verbose = 0 })
  -- order 0 is below min_order 1; GFP_KERNEL can reclaim (ignore-gfp-wait)
  lu.assertEquals(allocs(m, 3), { true, true, true })
  lu.assertEquals(m:injected("fail_page_alloc").calls, 0)
  lu.assertNotNil(m:alloc_pages(1, "GFP_KERNEL"))
  lu.assertNil(m:alloc_pages(1, "GFP_NOWAIT"))		-- no direct reclaim: it fails
  lu.assertNotNil(m:alloc_pages(1, "GFP_NOWAIT|__GFP_NOFAIL"))	-- never failed
  lu.assertEquals(m:injected("fail_page_alloc").fired, 1)
end

function TestInject:test_times_counts_down()
  local m <close> = memlab.new{ ram = "64M" }
  m:inject("fail_page_alloc", attrs{ probability = 100, times = 2 })
  lu.assertEquals(allocs(m, 4), { false, false, true, true })
  local st = m:injected("fail_page_alloc")
  lu.assertEquals({ st.calls, st.fired, st.times }, { 4, 2, 0 })
end

function TestInject:test_interval_fails_every_nth()
  local m <close> = memlab.new{ ram = "64M" }
  m:inject("fail_page_alloc", attrs{ probability = 100, interval = 3, times = -1 })
  lu.assertEquals(allocs(m, 7), { true, true, false, true, true, false, true })
end

function TestInject:test_space_passes_first()
  local m <close> = memlab.new{ ram = "64M" }
  -- space counts pages (1 << order): 5 single pages pass, then 1 is left
  m:inject("fail_page_alloc", attrs{ probability = 100, space = 5, times = -1 })
  lu.assertEquals(allocs(m, 7), { true, true, true, true, false, false, false })
end

function TestInject:test_run_fails_in_a_row()
  local m <close> = memlab.new{ ram = "64M" }
  m:inject("fail_page_alloc", attrs{ probability = 100, interval = 2, times = -1, run = 3 })
  lu.assertEquals(allocs(m, 6), { true, false, false, false, true, false })
end

function TestInject:test_probability_is_seeded()
  local function pattern(seed)
    local m <close> = memlab.new{ ram = "64M", seed = seed }
    m:inject("fail_page_alloc", attrs{ probability = 30, times = -1 })
    local s = {}
    for i, ok in ipairs(allocs(m, 200)) do s[i] = ok and "." or "x" end
    return table.concat(s)
  end
  local a = pattern(5)
  lu.assertEquals(pattern(5), a)
  lu.assertNotEquals(pattern(6), a)
  local fails = select(2, a:gsub("x", ""))
  lu.assertTrue(fails > 30 and fails < 90, "about 30% of 200: " .. fails)
end

function TestInject:test_off_restores_defaults()
  local m <close> = memlab.new{ ram = "64M" }
  m:inject("fail_page_alloc", attrs{ probability = 100, times = -1 })
  lu.assertEquals(allocs(m, 1), { false })
  lu.assertTrue(m:inject("fail_page_alloc", false))
  lu.assertEquals(allocs(m, 2), { true, true })
  lu.assertEquals(m:injected("fail_page_alloc").probability, 0)
end

function TestInject:test_a_failed_fault_is_enomem_and_clean()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "f", aslr = false }
  local a = assert(p:mmap(0, "64K", "rw-", "private|anonymous"))
  m:inject("fail_page_alloc", attrs{ probability = 100, times = 1 })
  lu.assertEquals({ p:write(a, "x") }, { nil, "ENOMEM", 12 })
  lu.assertTrue(m:check())
  lu.assertEquals(p:mm().rss_anon, 0)
  lu.assertTrue(p:write(a, "x"))			-- times ran out
  lu.assertEquals(p:mm().rss_anon, 1)
end

function TestInject:test_fail_nth_fails_the_tasks_nth_decision()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "f", aslr = false }
  local a = assert(p:mmap(0, "64K", "rw-", "private|anonymous|populate"))
  m:inject("fail_page_alloc", attrs{ probability = 0 })	-- no filter, never by chance
  local calls = m:injected("fail_page_alloc").calls
  p:fail_nth(1)
  lu.assertEquals({ p:fork() }, { nil, "ENOMEM", 12 })	-- its first allocation failed
  lu.assertEquals(p:fail_nth(), 0)
  lu.assertEquals(m:injected("fail_page_alloc").calls - calls, 1)
  lu.assertTrue(m:check())
  -- not the machine's own allocations: only the task's decisions count
  p:fail_nth(3)
  lu.assertEquals(allocs(m, 5), { true, true, true, true, true })
  lu.assertEquals(p:fail_nth(), 3)
  local c = p:fork()					-- fails at its third allocation
  lu.assertNil(c)
  lu.assertEquals(m:injected("fail_page_alloc").fired, 2)
  lu.assertTrue(m:check())
  lu.assertNotNil(p:fork())
  lu.assertNotNil(a)
end

-- failslab: the kernel objects memlab keeps (VMAs, anon_vmas and their
-- chains, tasks, mms) come from slab caches; all with GFP_KERNEL, which
-- failslab's default ignore-gfp-wait skips before anything else (fail-nth
-- too) -- but for anon_vma_clone's links, tried GFP_NOWAIT first: failslab
-- fails those, and the GFP_KERNEL retry goes through.
function TestInject:test_failslab()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "f", aslr = false }
  local a = assert(p:mmap(0, "64K", "rw-", "private|anonymous"))
  local frames = m:vmstat().nr_free_pages
  m:inject("failslab", { probability = 100, times = -1, verbose = 0 })
  lu.assertEquals(m:injected("failslab").ignore_gfp_wait, true)
  lu.assertNotNil(p:fork())          -- the stack's link to its anon_vma: NOWAIT failed, retried
  lu.assertEquals(m:injected("failslab").calls, 1)
  lu.assertEquals(m:injected("failslab").fired, 1)
  p:fail_nth(1)
  assert(p:mmap(nil, "8K", "r--", "private|anonymous"))  -- nor counted by fail-nth
  lu.assertEquals(p:fail_nth(), 1)
  p:fail_nth(0)
  lu.assertEquals(m:injected("failslab").calls, 1)
  m:inject("failslab", { probability = 100, times = -1, verbose = 0, ignore_gfp_wait = false })
  local maps = p:maps()
  lu.assertEquals({ p:mmap(0x7e0000000000, "8K", "r--", "private|anonymous|fixed_noreplace") },
                  { nil, "ENOMEM", 12 })                 -- a VMA of its own
  lu.assertEquals({ p:mprotect(a + 4096, 4096, "r--") }, { nil, "ENOMEM", 12 })  -- a split
  lu.assertEquals({ p:write(a, "x") }, { nil, "ENOMEM", 12 })        -- its anon_vma
  lu.assertEquals({ p:fork() }, { nil, "ENOMEM", 12 })               -- task_struct
  lu.assertEquals({ p:thread() }, { nil, "ENOMEM", 12 })
  lu.assertEquals(p:maps(), maps)                        -- nothing half done
  lu.assertEquals(#m:tasks(), 2)
  lu.assertEquals(m:injected("failslab").fired, 1 + 5)    -- the fork's NOWAIT link, then these
  lu.assertTrue(m:check())
  m:inject("failslab", false)
  p:fail_nth(2)                                          -- the second decision fails
  m:inject("failslab", { probability = 0, verbose = 0, ignore_gfp_wait = false })
  local calls = m:injected("failslab").calls
  local c = p:fork()
  lu.assertNil(c)                                        -- the task_struct, then its mm_struct: failed
  lu.assertEquals(m:injected("failslab").calls - calls, 2)
  m:inject("failslab", false)
  lu.assertTrue(m:check())
  for _, t in ipairs(m:tasks()) do if t.pid ~= p.pid then t:exit() end end
  p:exit()
  -- SLUB keeps the slabs the tasks' kernel objects came from, empty, until shrunk
  for _, name in ipairs{ "task_struct", "mm_struct", "vm_area_struct", "anon_vma", "anon_vma_chain" } do
    lu.assertEquals(m:slab_cache(name):info().objects, 0)
    m:slab_cache(name):shrink()
  end
  m:drain_pages()
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, 0)
  lu.assertTrue(m:vmstat().nr_free_pages > frames)
  lu.assertTrue(m:check())
end

function TestInject:test_task_filter_and_pid()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "p", aslr = false }
  local q = m:spawn{ name = "q", aslr = false }
  for _, t in ipairs{ p, q } do assert(t:mmap(0x7e0000000000, "64K", "rw-", "private|anonymous|populate")) end
  m:inject("fail_page_alloc", attrs{ probability = 100, times = -1, task_filter = true })
  p:make_it_fail(true)
  lu.assertNil(p:fork())
  lu.assertNotNil(q:fork())
  lu.assertEquals(allocs(m, 2), { true, true })		-- no task: filtered out
  m:inject("fail_page_alloc", attrs{ probability = 100, times = -1, pid = q.pid })
  lu.assertNotNil(p:fork())
  lu.assertNil(q:fork())
  lu.assertTrue(m:check())
end

function TestInject:test_hostile_arguments()
  local m <close> = memlab.new{ ram = "64M" }
  assert_raises({ "inject", "unknown fault point" }, m.inject, m, "nope", {})
  assert_raises({ "inject", "probability" }, m.inject, m, "fail_page_alloc", { probability = 101 })
  assert_raises({ "inject", "probability" }, m.inject, m, "fail_page_alloc", { probability = -1 })
  assert_raises({ "inject", "times" }, m.inject, m, "fail_page_alloc", { times = -2 })
  assert_raises({ "inject", "run" }, m.inject, m, "fail_page_alloc", { run = 0 })
  assert_raises({ "inject", "integer" }, m.inject, m, "fail_page_alloc", { interval = 0.5 })
  assert_raises({ "inject", "integer" }, m.inject, m, "fail_page_alloc", { interval = H.NAN })
  assert_raises({ "inject", "unknown attribute" }, m.inject, m, "fail_page_alloc", { bogus = 1 })
  assert_raises({ "inject" }, m.inject, m, "fail_page_alloc")
  assert_raises({ "inject" }, m.inject, m, nil, {})
  assert_raises({ "injected", "unknown fault point" }, m.injected, m, "nope")
  assert_raises({ "injected" }, m.injected, 42)
  local p = m:spawn{ name = "f" }
  assert_raises({ "fail_nth" }, p.fail_nth, p, -1)
  assert_raises({ "fail_nth" }, p.fail_nth, p, "x")
  assert_raises({ "make_it_fail" }, p.make_it_fail, p, 1)
  lu.assertEquals(p:fail_nth(3), 0)
  lu.assertEquals(p:fail_nth(), 3)
  p:exit()
  assert_raises({ "fail_nth", "exited" }, p.fail_nth, p, 1)
  m:close()
  assert_raises({ "inject", "closed" }, m.inject, m, "fail_page_alloc", {})
end

function TestInject:test_debug_vm_catches_a_flipped_pte_bit()
  local m <close> = memlab.new{ ram = "64M", debug_vm = true }
  local p = m:spawn{ name = "t", aslr = false }
  local a = assert(p:mmap(0, "64K", "rw-", "private|anonymous"))
  assert(p:write(a, "x"))
  local t = p:translate(a)
  local leaf = t.levels[#t.levels]
  local ptep = leaf.table * 4096 + ((a >> 12) % 512) * 8
  m:write_phys(ptep, string.pack("<I8", leaf.entry ~ (1 << 20)))	-- a bit of the pfn
  assert_raises({ "read", "debug_vm", "violation", "rmap" }, p.read, p, a, 1)
  m:write_phys(ptep, string.pack("<I8", leaf.entry))
  lu.assertEquals(p:read(a, 1), "x")
  lu.assertTrue(m:check())
end

function TestInject:test_snapshot_is_plain_and_deterministic()
  local function snap()
    local m <close> = memlab.new{ ram = "64M", seed = 2 }
    local p = m:spawn{ name = "snap" }
    assert(p:write(assert(p:mmap(0, "8K", "rw-", "private|anonymous")), "x"))
    return memlab.json.encode(m:snapshot())
  end
  local a = snap()
  lu.assertEquals(snap(), a)
  local t = memlab.json.decode(a)
  lu.assertEquals(t.tasks[1].comm, "snap")
  lu.assertEquals(t.tasks[1].mm.rss_anon, 1)
  lu.assertEquals(t.info.arch, "x86_64")
  lu.assertNotNil(t.zones[1].nr_free)
  lu.assertEquals(t.injected.fail_page_alloc.fired, 0)
end

function TestInject:test_corrupt()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "c", aslr = false }
  local a = assert(p:mmap(0, "8K", "rw-", "private|anonymous"))
  lu.assertEquals({ m:corrupt{ what = "pte", task = p, addr = a } }, { nil, "ENOENT", 2 })
  assert(p:write(a, "x"))
  local c = assert(m:corrupt{ what = "pte", task = p })	-- a random present entry
  lu.assertEquals(c.before ~ c.after, 1 << c.bit)
  lu.assertTrue(c.bit >= 12)
  lu.assertFalse(pcall(m.check, m))
  m:corrupt{ what = "pte", task = p, addr = c.addr, bit = c.bit }
  lu.assertTrue(m:check())
  c = assert(m:corrupt{ what = "freelist", order = 10 })
  lu.assertFalse(pcall(m.check, m))
  H.assert_raises({ "corrupt", "what" }, m.corrupt, m, { what = "nope" })
  H.assert_raises({ "corrupt" }, m.corrupt, m, { what = "pte", task = 1 })
  H.assert_raises({ "corrupt", "bit" }, m.corrupt, m, { what = "pte", task = p, bit = 64 })
  H.assert_raises({ "corrupt" }, m.corrupt, m, "pte")
  local other <close> = memlab.new{ ram = "64M" }
  H.assert_raises({ "corrupt", "another machine" }, other.corrupt, other, { what = "pte", task = p })
end

-- An LRU link flipped: m:check() names the list; the first list operation
-- that meets the bad link reports it as CONFIG_DEBUG_LIST does and, as on the
-- reference host (CONFIG_BUG_ON_DATA_CORRUPTION), is a kernel BUG that stops
-- the machine: later changes fail with EIO, inspection still works.
function TestInject:test_corrupt_lru()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "c", aslr = false }
  lu.assertEquals({ m:corrupt{ what = "lru", list = "inactive_file" } }, { nil, "ENOENT", 2 })
  local f = m:file{ path = "/data/f", size = 16 * 4096 }
  local buf = assert(p:mmap(0, "4K", "rw-", "private|anonymous"))
  for i = 0, 15 do lu.assertEquals(p:pread(f, buf, 4096, i * 4096), 4096) end
  lu.assertEquals(#m:lru("inactive_file"), 0)	-- they wait in this CPU's lru_add batch
  m:lru_add_drain_all()
  lu.assertEquals(#m:lru("inactive_file"), 16)
  local c = assert(m:corrupt{ what = "lru", list = "inactive_file" })
  lu.assertEquals(c.before ~ c.after, 1 << c.bit)
  lu.assertEquals(m:lru("inactive_file")[16], c.addr)	-- the head: the newest page
  local ok, err = pcall(m.check, m)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "inactive_file")
  lu.assertFalse(m:info().dead)
  lu.assertTrue(p:write(buf, "still fine"))		-- nothing has met the link yet
  m:drop_caches(1)
  local log = m:dmesg()
  lu.assertStrContains(log, "list_del corruption")
  lu.assertStrContains(log, "kernel BUG at lib/list_debug.c:6")
  lu.assertTrue(m:info().dead)
  lu.assertEquals({ p:write(buf, "x") }, { nil, "EIO", 5 })
  lu.assertEquals({ p:mmap(0, "4K", "rw-", "private|anonymous") }, { nil, "EIO", 5 })
  lu.assertEquals({ m:alloc_pages(0) }, { nil, "EIO", 5 })
  lu.assertEquals({ p:fork() }, { nil, "EIO", 5 })
  lu.assertEquals(p:read(buf, 10), nil)
  lu.assertStrContains(m:proc("meminfo"), "MemTotal")	-- reading goes on
  lu.assertFalse(pcall(m.check, m))
  H.assert_raises({ "corrupt", "list" }, m.corrupt, m, { what = "lru", list = "nope" })
  H.assert_raises({ "corrupt", "list" }, m.corrupt, m, { what = "lru" })
end

-- Whatever runs after a corrupted list, the host process never crashes nor
-- hangs: seeded rounds of work after each kind of list corruption.
function TestInject:test_corrupt_lists_never_hurt_the_host()
  for seed = 1, 6 do
    for _, what in ipairs{ "lru", "freelist" } do
      local m <close> = memlab.new{ ram = "48M", seed = seed, swap = "16M" }
      local p = m:spawn{ name = "s", aslr = false }
      local f = m:file{ path = "/d/f", size = 32 * 4096, writable = true }
      local buf = assert(p:mmap(nil, 32 * 4096, "rw-", "private|anonymous"))
      for i = 0, 31 do p:write(buf + i * 4096, "a"); p:pread(f, buf, 4096, i * 4096) end
      if what == "lru" then
        for _, l in ipairs{ "inactive_file", "inactive_anon", "active_file", "active_anon" } do
          if m:corrupt{ what = "lru", list = l } then break end
        end
      else
        local held = {}
        for i = 1, 100 do held[i] = m:alloc_pages(0) end
        for i = 1, 100, 2 do m:free_pages(held[i], 0) end
        m:drain_pages()
        assert(m:corrupt{ what = "freelist", order = 0 })
      end
      local rng = seed * 7 + #what
      for _ = 1, 120 do
        rng = (rng * 1103515245 + 12345) % 2147483648
        local r = rng % 9
        if r == 0 then p:pread(f, buf, 4096, (rng >> 8) % 32 * 4096)
        elseif r == 1 then m:drop_caches(1)
        elseif r == 2 then
          local a = p:mmap(nil, 64 * 4096, "rw-", "private|anonymous")
          if a then for i = 0, 63 do p:write(a + i * 4096, "z") end; p:munmap(a, 64 * 4096) end
        elseif r == 3 then p:madvise(buf, 32 * 4096, "pageout")
        elseif r == 4 then local q = p:fork(); if q then q:write(buf, "c"); q:exit() end
        elseif r == 5 then m:compact()
        elseif r == 6 then m:drain_pages()
        elseif r == 7 then pcall(m.check, m)
        else for i = 0, 31 do p:read(buf + i * 4096, 1) end
        end
      end
      lu.assertTrue(m:info().dead, what .. " seed " .. seed)
      lu.assertStrContains(m:dmesg(), "kernel BUG at lib/list_debug.c")
    end
  end
end

TestScenario = {}

local function workload(m)
  local p = m:spawn{ name = "s", aslr = false }
  if not p then return end
  local a = p:mmap(0, "64K", "rw-", "private|anonymous")
  if not a then return end
  for i = 0, 15 do if not p:write(a + i * 4096, "x") then break end end
  local c = p:fork()
  if c then c:write(a, "c") end
end

-- The frames the kernel keeps for the next task (cached kernel stacks,
-- the vmalloc range's tables) count as free; a vmalloc area left behind
-- does not.
function TestScenario:test_sweep_finds_a_vmalloc_leak()
  local ok, err = pcall(scenario.sweep, { machine = { ram = "64M", seed = 1 }, max = 40,
                                          run = function(m) m:vmalloc("64K") end })
  lu.assertFalse(ok)
  lu.assertStrContains(err, "frames leaked")
  local r = scenario.sweep{ machine = { ram = "64M", seed = 1 }, max = 400,
                            run = function(m)
                              local p = m:spawn{}
                              local c = p and p:fork()
                              if c then c:exit() end
                            end }
  lu.assertTrue(r.runs > 1)
end

function TestScenario:test_sweep_runs_until_no_failure_is_left()
  local r = scenario.sweep{ machine = { ram = "64M" }, run = workload }
  lu.assertTrue(r.runs > 10)
  lu.assertEquals(r.injected, r.runs - 1)
end

function TestScenario:test_sweep_reports_a_leak()
  local leak = function(m)
    workload(m)
    m:alloc_pages(0, "GFP_ATOMIC")	-- taken and never freed
  end
  assert_raises({ "sweep", "run 1", "leaked" }, scenario.sweep,
                { machine = { ram = "64M" }, run = leak })
end

function TestScenario:test_sweep_reports_a_raise()
  assert_raises({ "sweep", "raised", "boom" }, scenario.sweep,
                { machine = { ram = "64M" }, run = function() error("boom") end })
end

function TestScenario:test_soak_is_reproducible()
  local a = scenario.soak{ machine = { ram = "64M" }, run = workload, runs = 10, probability = 20, seed = 4 }
  local b = scenario.soak{ machine = { ram = "64M" }, run = workload, runs = 10, probability = 20, seed = 4 }
  lu.assertEquals(a, b)
  lu.assertTrue(a.injected > 0)
end

-- mremap's move as Linux orders it: the VMA is copied to the new place
-- first, then the entries move.  Each allocation failing in turn -- the
-- copy's vm_area_struct or anon_vma chain, a page table at the new place
-- (then nothing moved, and the new range is unmapped again) -- leaves the
-- old mapping whole, its data there, nothing at the new place, and the
-- machine consistent (a failed move's growth charge stays in
-- Committed_AS, as Linux leaves it).
function TestInject:test_mremap_move_fails_whole_at_each_allocation()
  local OLD, NEW, PAGE = 0x7e0000000000, 0x7f0000000000, 4096
  local failed, kept_charge = 0, 0
  local function committed(m) return tonumber(m:proc("meminfo"):match("Committed_AS:%s+(%d+)")) end
  for n = 1, 64 do
    local m <close> = memlab.new{ ram = "64M" }
    m:inject("fail_page_alloc", attrs{ probability = 0 })
    m:inject("failslab", attrs{ probability = 0 })
    local p = m:spawn{ name = "mover", aslr = false }
    assert(p:mmap(OLD, 8 * PAGE, "rw-", "private|anonymous|fixed"))
    assert(p:write(OLD + 3 * PAGE, "data"))
    local vmas, mapped, as = #p:vmas(), p:mm().total_vm, committed(m)
    p:fail_nth(n)
    local r, err = p:mremap(OLD, 8 * PAGE, 16 * PAGE, "maymove|fixed", NEW)
    local left = p:fail_nth()
    p:fail_nth(0)
    if r then                                    -- absorbed (a NOWAIT retried), or nothing left
      lu.assertEquals(r, NEW)
      lu.assertEquals(p:read(NEW + 3 * PAGE, 4), "data")
      lu.assertTrue(m:check(), n)
      if left > 0 then break end
      goto continue
    end
    failed = failed + 1
    lu.assertEquals(err, "ENOMEM", n)
    lu.assertEquals(p:read(OLD + 3 * PAGE, 4), "data", n)
    local above = p:find_vma(NEW)                -- the first VMA ending above NEW
    lu.assertTrue(above == nil or above.start >= NEW + 16 * PAGE, n)
    lu.assertEquals({ #p:vmas(), p:mm().total_vm }, { vmas, mapped }, n)
    lu.assertTrue(m:check(), n)
    -- the copy failed: the growth's charge given back; a table: kept
    local grew = committed(m) - as
    lu.assertTrue(grew == 0 or grew == 8 * PAGE // 1024, n)
    if grew > 0 then kept_charge = kept_charge + 1 end
    ::continue::
  end
  lu.assertTrue(failed > kept_charge and kept_charge >= 1, failed .. " " .. kept_charge)
end

os.exit(lu.LuaUnit.run())
