-- test_kernel_objects.lua: the kernel objects memlab keeps -- each task's
-- task_struct, each mm_struct, each VMA's vm_area_struct, each anon_vma
-- and anon_vma_chain -- are objects of the kernel's own slab caches
-- (core/slab.c), allocated and freed where Linux 6.18 allocates and frees
-- them: spawn/fork/clone, mmap/split/munmap/merge, a first write, exit.
-- The caches' objects in use follow them one for one; failslab fails them;
-- a memory cgroup is charged for its tasks' objects (SLAB_ACCOUNT).  Not
-- modelled: an idle CPU's lazy-TLB reference keeping an mm_struct past
-- exit, and the RCU grace period before an empty slab of an
-- SLAB_TYPESAFE_BY_RCU cache is freed.  (The anon_vma hierarchy itself:
-- test_anon_vma.lua.)
--
-- SLUB's /proc/slabinfo counts as active every object of a CPU slab, free
-- or not: its active_objs only moves a slab at a time.  The objects in use
-- are info().objects (/sys/kernel/slab/NAME/objects counts them so too).
--
-- Run from the source root:  build/memlab run tests/lua/test_kernel_objects.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE = 4096
local BASE = 0x7e0000000000
local CACHES = { "task_struct", "mm_struct", "vm_area_struct", "anon_vma", "anon_vma_chain" }

local function machine()
  return memlab.new{ ram = "64M", seed = 1 }
end

-- The objects in use of each kernel cache.
local function objects(m)
  local o = {}
  for _, name in ipairs(CACHES) do o[name] = m:slab_cache(name):info().objects end
  return o
end

-- before plus the given changes (names missing: unchanged).
local function plus(before, d)
  local o = {}
  for _, name in ipairs(CACHES) do o[name] = before[name] + (d[name] or 0) end
  return o
end

-- The /proc/slabinfo line of cache name: active_objs, num_objs, active_slabs.
local function slabinfo(m, name)
  for line in m:proc("slabinfo"):gmatch("[^\n]+") do
    local n, active, num, slabs = line:match("^(%S+)%s+(%d+)%s+(%d+) .* : slabdata%s+(%d+)")
    if n == name then return tonumber(active), tonumber(num), tonumber(slabs) end
  end
end

-- The VMAs of p that have an anon_vma.
local function anon_vmas(p)
  local n = 0
  for _, v in ipairs(p:vmas()) do if v.anon_vma then n = n + 1 end end
  return n
end

function test_boot_caches_are_empty()
  local m <close> = machine()
  lu.assertEquals(objects(m), { task_struct = 0, mm_struct = 0, vm_area_struct = 0, anon_vma = 0,
                               anon_vma_chain = 0 })
  for _, name in ipairs(CACHES) do
    lu.assertEquals({ slabinfo(m, name) }, { 0, 0, 0 }, name)
  end
end

function test_spawn_mmap_split_merge_munmap()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  -- a task_struct, an mm_struct, a VMA each, the stack's anon_vma (argv) and its chain to it
  local o = objects(m)
  lu.assertEquals(o, { task_struct = 1, mm_struct = 1, vm_area_struct = #p:vmas(), anon_vma = 1,
                       anon_vma_chain = 1 })
  lu.assertEquals(anon_vmas(p), 1)
  assert(p:mmap(BASE, 3 * PAGE, "rw", "private|anonymous|fixed"))
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 1 }))
  assert(p:mprotect(BASE + PAGE, PAGE, "r--"))         -- split in three: two new VMAs
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 3 }))
  assert(p:mprotect(BASE + PAGE, PAGE, "rw"))          -- merged back: two freed
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 1 }))
  assert(p:write(BASE, "x"))                           -- anon_vma_prepare
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 1, anon_vma = 1, anon_vma_chain = 1 }))
  assert(p:mprotect(BASE + PAGE, PAGE, "r--"))         -- the pieces share the anon_vma,
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 3, anon_vma = 1,
                                        anon_vma_chain = 3 }))  -- a chain to it each
  assert(p:munmap(BASE, 3 * PAGE))                     -- its last VMA gone: the anon_vma too
  lu.assertEquals(objects(m), o)
  lu.assertTrue(m:check())
  p:exit()
  lu.assertEquals(objects(m), { task_struct = 0, mm_struct = 0, vm_area_struct = 0, anon_vma = 0,
                                anon_vma_chain = 0 })
  lu.assertTrue(m:check())
end

-- slabinfo's num_objs grows a slab at a time: 21 vm_area_structs a page.
function test_slabinfo_grows_a_slab_at_a_time()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local active, num, slabs = slabinfo(m, "vm_area_struct")
  lu.assertEquals({ active, num, slabs }, { 21, 21, 1 })  -- the CPU slab: all of it "active"
  local have = #p:vmas()
  for i = 0, 21 - have do                              -- one more VMA than a slab holds
    assert(p:mmap(BASE + 2 * i * PAGE, PAGE, i % 2 == 0 and "r--" or "rw", "private|anonymous|fixed"))
  end
  lu.assertEquals(objects(m).vm_area_struct, 22)
  lu.assertEquals({ slabinfo(m, "vm_area_struct") }, { 42, 42, 2 })
  lu.assertEquals(m:slab_cache("vm_area_struct"):info().active_objs, 42)
  lu.assertTrue(m:check())
end

function test_fork_thread_exit()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 4 * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE, "x"))
  local o = objects(m)
  local c = assert(p:fork())
  -- dup_task_struct, dup_mm, vm_area_dup of each VMA, anon_vma_fork of
  -- each that has an anon_vma: a chain to the parent's, and one to the
  -- child's own anon_vma, whose parent the parent's is
  lu.assertEquals(#c:vmas(), #p:vmas())
  local forked = { task_struct = 1, mm_struct = 1, vm_area_struct = #c:vmas(),
                   anon_vma = anon_vmas(p), anon_vma_chain = 2 * anon_vmas(p) }
  lu.assertEquals(objects(m), plus(o, forked))
  local t = assert(p:thread())                         -- CLONE_VM: a task_struct only
  forked.task_struct = 2
  lu.assertEquals(objects(m), plus(o, forked))
  c:exit()
  lu.assertEquals(objects(m), plus(o, { task_struct = 1 }))
  t:exit()
  lu.assertEquals(objects(m), o)
  lu.assertTrue(m:check())
  p:exit()
  H.shrink_kernel_caches(m)
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, 0)
  lu.assertTrue(m:check())
end

-- failslab (with ignore-gfp-wait off: these are GFP_KERNEL) fails the
-- object, and the call fails with ENOMEM with nothing changed.
function test_failslab_fails_an_mmap_and_changes_nothing()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local o, maps, free = objects(m), p:maps(), m:vmstat().nr_free_pages
  assert(m:inject("failslab", { probability = 100, times = 1, verbose = 0, ignore_gfp_wait = false }))
  lu.assertEquals({ p:mmap(BASE, PAGE, "rw", "private|anonymous|fixed") }, { nil, "ENOMEM", 12 })
  lu.assertEquals(m:injected("failslab").fired, 1)
  lu.assertEquals(objects(m), o)
  lu.assertEquals(p:maps(), maps)
  lu.assertEquals(m:vmstat().nr_free_pages, free)
  lu.assertTrue(m:check())
  -- fail-nth counts each object once: an mmap makes one decision
  assert(m:inject("failslab", { probability = 0, verbose = 0, ignore_gfp_wait = false }))
  p:fail_nth(2)
  assert(p:mmap(BASE, PAGE, "rw", "private|anonymous|fixed"))
  lu.assertEquals(p:fail_nth(), 1)
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 1 }))
  lu.assertEquals({ p:mmap(BASE + 2 * PAGE, PAGE, "r--", "private|anonymous|fixed") },
                  { nil, "ENOMEM", 12 })
  lu.assertEquals(objects(m), plus(o, { vm_area_struct = 1 }))
  lu.assertTrue(m:check())
end

-- A fork that failslab stops at its task_struct, its mm_struct, a VMA, an
-- anon_vma or a chain leaves no object behind.  The links anon_vma_clone
-- makes to the parent's anon_vmas are tried GFP_NOWAIT first: a failure
-- there is retried with GFP_KERNEL, and the fork goes on.
function test_failslab_fails_a_fork_at_each_object()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE, "x"))
  assert(p:fork()):exit()          -- its kernel stack stays in the CPU's cache for the next
  local o, tasks = objects(m), #m:tasks()
  assert(m:inject("failslab", { probability = 0, verbose = 0, ignore_gfp_wait = false }))
  p:fail_nth(1000)
  assert(p:fork()):exit()
  local decisions = 1000 - p:fail_nth()
  -- a task_struct, an mm_struct, each VMA; for each with an anon_vma a link
  -- to the parent's (a chain of one here), the child's anon_vma, its link
  lu.assertEquals(decisions, 1 + 1 + #p:vmas() + 3 * anon_vmas(p))
  local retried = 0
  for n = 1, decisions do
    p:fail_nth(n)
    local c, err = p:fork()
    if c then                        -- the GFP_NOWAIT try of a link failed
      retried = retried + 1
      c:exit()
    else
      lu.assertEquals(err, "ENOMEM", n)
    end
    lu.assertEquals(objects(m), o, n)
    lu.assertEquals(#m:tasks(), tasks, n)
    lu.assertTrue(m:check())
  end
  p:fail_nth(0)
  lu.assertEquals(retried, anon_vmas(p))
end

-- SLAB_ACCOUNT: a task's VMAs are charged to its memory cgroup, 200 bytes
-- each (the 192-byte stride and the object's obj_cgroup pointer).
function test_memcg_is_charged_for_its_tasks_vmas()
  local m <close> = machine()
  local cg = m:cgroup("/box")
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn{ name = "p", aslr = false }
  cg:attach(p)
  local s = cg:stat()
  lu.assertEquals({ s.kernel, s.slab_unreclaimable }, { 0, 0 })
  for i = 0, 99 do
    assert(p:mmap(BASE + 2 * i * PAGE, PAGE, i % 2 == 0 and "r--" or "rw", "private|anonymous|fixed"))
  end
  s = cg:stat()
  -- 100 objects of 200 bytes: 5 whole pages charged (kernel), 480 bytes
  -- left in the CPU's obj stock; slab_unreclaimable is flushed each time
  -- the CPU's pending bytes pass a page (21 objects): 4 times, 84 objects
  lu.assertEquals(s.kernel, 5 * PAGE)
  lu.assertEquals(s.slab_unreclaimable, 84 * 200)
  lu.assertEquals(s.slab, s.slab_unreclaimable)
  lu.assertEquals(s.pagetables, 0)                     -- nothing touched
  for i = 0, 99 do assert(p:munmap(BASE + 2 * i * PAGE, PAGE)) end
  s = cg:stat()
  lu.assertEquals(s.slab_unreclaimable, 0)
  lu.assertEquals(s.kernel, PAGE)    -- the obj stock keeps up to a page of bytes charged
  lu.assertTrue(m:check())
end

-- A spawn is a fork by a task of the root cgroup, then the new process's
-- exec in its own cgroup: the task_struct and the kernel stack are the
-- forking task's (the root's), the exec's mm_struct, VMAs, anon_vmas and
-- their chains and the PGD are charged to the new task's cgroup.
function test_spawn_charges_its_exec_to_the_tasks_cgroup()
  local m <close> = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box", aslr = false }
  local s = cg:stat()
  lu.assertEquals(s.kernel_stack, 0)
  -- the PGD alone: memlab's exec writes no argv page (Linux's copy_strings
  -- faults one in, with the tables down to it)
  lu.assertEquals(s.pagetables, PAGE)
  -- each object charges its slab stride and its obj_cgroup pointer
  local function charge(name) return m:slab_cache(name):info().slab_size + 8 end
  local vmas, anon_vmas = p:vmas(), 0
  for _, v in ipairs(vmas) do
    if v.anon_vma_id then anon_vmas = anon_vmas + 1 end
  end
  lu.assertTrue(anon_vmas >= 1)                -- the stack's, argv and envp written
  local bytes = charge("mm_struct") + #vmas * charge("vm_area_struct") +
                anon_vmas * (charge("anon_vma") + charge("anon_vma_chain"))
  -- whole pages from the page counter, the rest kept in the CPU's obj stock
  lu.assertEquals(s.kernel, s.pagetables + (bytes + PAGE - 1) // PAGE * PAGE)
  lu.assertEquals(cg:current(), 64 * PAGE)     -- one MEMCG_CHARGE_BATCH
  -- the same spawn outside the cgroup, moved in after: nothing
  local other = m:cgroup("/other")
  local q = m:spawn{ name = "q", aslr = false }
  other:attach(q)
  lu.assertEquals({ other:stat().kernel, other:current() }, { 0, 0 })
  -- the exit gives it back, but for the obj stock's bytes (under a page)
  p:exit()
  s = cg:stat()
  lu.assertEquals({ s.pagetables, s.slab_unreclaimable }, { 0, 0 })
  lu.assertTrue(s.kernel <= PAGE, s.kernel)
  lu.assertTrue(m:check())
end

-- A spawn into a cgroup that cannot hold its exec fails with ENOMEM and
-- leaves nothing behind, wherever the exec ran out (the mm_struct, the
-- PGD, a VMA, an anon_vma): no task, the objects back, no page table
-- charged; what stays charged is the CPU's stock, under a batch.
function test_spawn_into_a_full_cgroup_fails_whole()
  local m <close> = machine()
  local cg = m:cgroup("/tiny")
  local o, tasks, failed = objects(m), #m:tasks(), 0
  for max = 0, 64 * PAGE, PAGE do
    assert(cg:write("memory.max", tostring(max)))
    local p, err = m:spawn{ name = "p", cgroup = "/tiny" }
    if p then
      lu.assertTrue(max > 0)
      break
    end
    failed = failed + 1
    lu.assertEquals(err, "ENOMEM", max)
    lu.assertEquals(#m:tasks(), tasks, max)
    lu.assertEquals(objects(m), o, max)
    lu.assertEquals(cg:stat().pagetables, 0, max)
    lu.assertTrue(cg:current() <= 64 * PAGE, max)
    lu.assertTrue(m:check())
  end
  lu.assertTrue(failed >= 2, failed)               -- at the mm_struct, and later
  lu.assertTrue(cg:events().max > 0)
end

-- The core allocates from these caches as long as the machine lives: a
-- handle from m:slab_cache cannot destroy one.
function test_kernel_caches_cannot_be_destroyed()
  local m <close> = machine()
  for _, name in ipairs(CACHES) do
    lu.assertEquals({ m:slab_cache(name):destroy() }, { nil, "EINVAL", 22 }, name)
  end
  local p = m:spawn{ name = "p" }
  lu.assertEquals(objects(m).task_struct, 1)
  lu.assertTrue(m:check())
  p:exit()
end

-- Each task has a kernel stack: 16 KiB vmalloc'd with a guard page, at a
-- 16 KiB boundary (x86-64's THREAD_ALIGN), named as the reference host's
-- /proc/vmallocinfo names them, counted in KernelStack.
function test_each_task_has_a_vmalloc_kernel_stack()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local info = m:proc("vmallocinfo")
  lu.assertStrContains(info, "-0xffffc90000005000   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4\n")
  lu.assertEquals(m:proc("meminfo"):match("KernelStack:%s+(%d+) kB"), "16")
  lu.assertEquals(m:vmstat().nr_kernel_stack, 16)
  local c = assert(p:fork())
  local t = assert(p:thread())
  lu.assertEquals(m:vmstat().nr_kernel_stack, 48)
  local n, starts = 0, {}
  for line in m:proc("vmallocinfo"):gmatch("[^\n]+") do
    if line:find("kernel_clone", 1, true) then
      n = n + 1
      starts[n] = tonumber(line:match("^0x(%x+)"), 16)
    end
  end
  lu.assertEquals(n, 3)
  for _, a in ipairs(starts) do lu.assertEquals(a % 16384, 0) end
  lu.assertTrue(m:check())
  c:exit()
  t:exit()
  lu.assertEquals(m:vmstat().nr_kernel_stack, 16)
  lu.assertTrue(m:check())
end

-- A freed stack waits in its CPU's cache (two places) for the next fork,
-- which takes it without a vmalloc; a third goes back to vmalloc, its
-- address space lazily ("unpurged vm_area").
function test_freed_stacks_are_cached_two_per_cpu()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local kids = { assert(p:fork()), assert(p:fork()), assert(p:fork()) }
  local used = m:vmalloc_stats().used_pages
  lu.assertEquals(used, 16)                       -- four stacks of 4 pages
  for _, c in ipairs(kids) do c:exit() end
  lu.assertEquals(m:vmalloc_stats().used_pages, 12)   -- two cached, one freed
  lu.assertStrContains(m:proc("vmallocinfo"), "unpurged vm_area")
  local before = m:proc("vmallocinfo")
  local c = assert(p:fork())                      -- a cached stack: no new area
  lu.assertEquals(m:proc("vmallocinfo"), before)
  lu.assertEquals(m:vmstat().nr_kernel_stack, 32)
  c:exit()
  lu.assertTrue(m:check())
end

-- A fork charges its child's stack to the forking task's memory cgroup
-- (memcg_charge_kernel_stack), page by page: memory.stat kernel_stack and
-- kernel; the child's exit gives the charge back.
function test_kernel_stack_is_charged_to_the_forking_tasks_cgroup()
  local m <close> = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box", aslr = false }
  lu.assertEquals(cg:stat().kernel_stack, 0)      -- the spawner's (the root's), as a fork's
  local kernel = cg:stat().kernel
  local c = assert(p:fork())
  lu.assertEquals(cg:stat().kernel_stack, 16384)
  lu.assertTrue(cg:stat().kernel - kernel >= 16384)
  c:exit()
  lu.assertEquals(cg:stat().kernel_stack, 0)
  lu.assertTrue(m:check())
end

-- A fork that cannot have its stack fails with ENOMEM and leaves nothing.
-- (vmalloc's pages are __GFP_HIGHMEM, which fail_page_alloc skips by
-- default; a failure of the bulk allocation falls back to single pages.)
function test_a_fork_without_a_stack_fails()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local stack, used = m:vmstat().nr_kernel_stack, m:vmalloc_stats().used_pages
  local o = objects(m)
  assert(m:inject("fail_page_alloc", { probability = 100, times = -1, verbose = 0,
                                       ignore_gfp_highmem = false, ignore_gfp_wait = false, min_order = 0 }))
  lu.assertEquals({ p:fork() }, { nil, "ENOMEM", 12 })
  lu.assertTrue(m:injected("fail_page_alloc").fired > 0)
  lu.assertStrContains(m:dmesg(), "vmalloc error: size 0, failed to allocate pages")
  m:inject("fail_page_alloc", false)
  lu.assertEquals(m:vmstat().nr_kernel_stack, stack)
  lu.assertEquals(m:vmalloc_stats().used_pages, used)
  lu.assertEquals(objects(m), o)
  lu.assertTrue(m:check())
end

-- THREAD_SIZE and THREAD_ALIGN follow the arch and the page size: arm64
-- aligns its stacks to twice their size; with 64K pages a stack is a page.
function test_arm64_stack_sizes()
  for _, c in ipairs{ { 4096, 16, 32768 }, { 16384, 16, 32768 }, { 65536, 64, 131072 } } do
    local m <close> = memlab.new{ arch = "arm64", page_size = c[1], ram = "2G", seed = 1 }
    local p = m:spawn{ name = "p" }
    local q = assert(p:fork())
    lu.assertEquals(m:vmstat().nr_kernel_stack, 2 * c[2], c[1])
    for line in m:proc("vmallocinfo"):gmatch("[^\n]+") do
      if line:find("kernel_clone", 1, true) then
        lu.assertEquals(tonumber(line:match("^0x(%x+)"), 16) % c[3], 0, c[1])
        lu.assertEquals(tonumber(line:match("%s(%d+)%s")), c[2] * 1024 + c[1], c[1])
      end
    end
    lu.assertTrue(m:check())
    q:exit()
  end
end

-- A kernel stack is the core's: m:vfree refuses it, a task's or a cached one.
function test_vfree_of_a_kernel_stack_is_refused()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  local c = assert(p:fork())
  c:exit()                                          -- its stack: cached
  local stacks = {}
  for line in m:proc("vmallocinfo"):gmatch("[^\n]+") do
    if line:find("kernel_clone", 1, true) then stacks[#stacks + 1] = tonumber(line:match("^0x(%x+)"), 16) end
  end
  lu.assertEquals(#stacks, 2)
  lu.assertEquals(m:vmalloc_stats().cached_stack_pages, 4)
  for _, s in ipairs(stacks) do
    H.assert_raises({ "vfree", "a task's kernel stack: refused" }, m.vfree, m, s)
    H.assert_raises({ "vunmap", "a vmalloc area: use vfree()" }, m.vunmap, m, s)
  end
  lu.assertEquals(m:vmstat().nr_kernel_stack, 16)
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
