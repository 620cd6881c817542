-- test_slab.lua: the slab allocator (core/slab.c), SLUB as Linux 6.18 has
-- it for caches without sheaves: layouts and merging, the CPU slab and
-- its freelist, the CPU and node partial lists, /proc/slabinfo's counts,
-- kmalloc's caches and large allocations, shrink and destroy, bad frees,
-- failslab, and the accounting in meminfo.  (Layouts are also compared
-- with the host kernel's, cache by cache: tests/diff/diff_slab.c.)
--
-- Run from the source root:  build/memlab run tests/lua/test_slab.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local function machine(cpus)
  return memlab.new{ ram = "128M", seed = 1, cpus = cpus or 1 }
end

-- The /proc/slabinfo line of cache name, as numbers.
local function slabinfo(m, name)
  for line in m:proc("slabinfo"):gmatch("[^\n]+") do
    local n, active, num, size, per, pages, slabs =
      line:match("^(%S+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+) : tunables%s+0%s+0%s+0 : slabdata%s+(%d+)")
    if n == name then
      return { active = tonumber(active), num = tonumber(num), size = tonumber(size),
               per = tonumber(per), pages = tonumber(pages), slabs = tonumber(slabs) }
    end
  end
end

local function meminfo_kb(m, field)
  return tonumber(m:proc("meminfo"):match(field .. ":%s+(%d+) kB"))
end

-- ===================== layouts and merging =====================

function test_kmalloc_caches_as_linux_creates_them()
  local m = machine(2)
  local text = m:proc("slabinfo")
  local l
  lu.assertStrContains(text, "slabinfo - version: 2.1\n# name            <active_objs> <num_objs>")
  -- newest first: the kernel objects' caches (anon_vma_init, fork_init,
  -- proc_caches_init) after the kmalloc caches, kmalloc-96 the first made
  local names = {}
  for n in text:gmatch("\n(%S+) ") do names[#names + 1] = n end
  lu.assertEquals({ names[2], names[3], names[4], names[5], names[6], names[7] },
                  { "vm_area_struct", "mm_struct", "task_struct", "anon_vma_chain", "anon_vma",
                    "kmalloc-cg-8k" })
  lu.assertEquals(names[#names], "kmalloc-96")
  lu.assertEquals(names[#names - 1], "kmalloc-192")
  lu.assertEquals(names[#names - 2], "kmalloc-8")
  lu.assertEquals(#names - 1, 52 + 5)
  -- the host's layouts of those
  l = slabinfo(m, "task_struct")
  lu.assertEquals({ l.size, l.per, l.pages }, { 5888, 5, 8 })
  l = slabinfo(m, "vm_area_struct")
  lu.assertEquals({ l.size, l.per, l.pages }, { 192, 21, 1 })
  lu.assertEquals(m:slab_cache("anon_vma_chain"):info().sysfs_name, ":A-0000064")
  -- what the host's kernel (2 CPUs) shows for these
  l = slabinfo(m, "kmalloc-512")
  lu.assertEquals({ l.size, l.per, l.pages }, { 512, 16, 2 })
  l = slabinfo(m, "kmalloc-96")
  lu.assertEquals({ l.size, l.per, l.pages }, { 96, 42, 1 })
  lu.assertEquals(m:slab_cache("kmalloc-96"):info().align, 32)
  lu.assertEquals(m:slab_cache("kmalloc-8k"):info().align, 8192)
  lu.assertEquals(m:slab_cache("kmalloc-8k"):info().cpu_partial, 6)
  lu.assertEquals(m:slab_cache("kmalloc-rcl-64"):info().flags & 0x8000, 0x8000)
end

function test_min_objects_follow_the_cpus()
  -- 4 * (fls(cpus) + 1) objects at least: 8 with one CPU, 12 with two
  lu.assertEquals(machine(1):slab_cache("kmalloc-512"):info().order, 0)
  lu.assertEquals(machine(2):slab_cache("kmalloc-512"):info().order, 1)
  lu.assertEquals(machine(4):slab_cache("kmalloc-1k"):info().order, 2)
end

function test_layout_rules()
  local m = machine(2)
  -- the free pointer in the middle; with a constructor after the object
  local a = assert(m:kmem_cache_create("a", 100, { flags = "NO_MERGE" })):info()
  lu.assertEquals({ a.slab_size, a.offset, a.inuse }, { 104, 48, 104 })
  local b = assert(m:kmem_cache_create("b", 96, { ctor = true })):info()
  lu.assertEquals({ b.slab_size, b.offset }, { 104, 96 })
  local r = assert(m:kmem_cache_create("r", 96, { flags = "SLAB_TYPESAFE_BY_RCU", freeptr_offset = 16 })):info()
  lu.assertEquals({ r.slab_size, r.offset }, { 96, 16 })
  -- SLAB_HWCACHE_ALIGN: a cache line, halved while the object fits in half
  local h = assert(m:kmem_cache_create("h", 20, { flags = "SLAB_HWCACHE_ALIGN|NO_MERGE" })):info()
  lu.assertEquals({ h.align, h.slab_size }, { 32, 32 })
  h = assert(m:kmem_cache_create("h2", 40, { flags = "HWCACHE_ALIGN|NO_MERGE" })):info()
  lu.assertEquals({ h.align, h.slab_size }, { 64, 64 })
  -- min_partial = ilog2(size) / 2 within 5..10
  lu.assertEquals(assert(m:kmem_cache_create("big", 3000, { flags = "NO_MERGE" })):info().min_partial, 5)
  lu.assertEquals(assert(m:kmem_cache_create("huge", 100000, { flags = "NO_MERGE" })):info().min_partial, 8)
  -- too big for any slab order
  H.assert_errno("EINVAL", 22, m:kmem_cache_create("x", 64 * 1024 * 1024))
end

function test_compatible_caches_merge()
  local m = machine(1)
  local foo = assert(m:kmem_cache_create("foo", 200))
  local bar = assert(m:kmem_cache_create("bar", 196))          -- within a word of 200: foo
  lu.assertEquals(bar:info().name, "foo")
  lu.assertEquals(foo:info().aliases, 1)
  lu.assertEquals(foo:info().sysfs_name, ":0000200")
  lu.assertIsNil(slabinfo(m, "bar"))
  -- flags that must match, flags that forbid merging, a constructor
  lu.assertEquals(assert(m:kmem_cache_create("acct", 200, { flags = "SLAB_ACCOUNT" })):info().name, "acct")
  lu.assertEquals(m:slab_cache("acct"):info().sysfs_name, ":A-0000200")
  lu.assertEquals(assert(m:kmem_cache_create("rcu", 200, { flags = "TYPESAFE_BY_RCU" })):info().name, "rcu")
  lu.assertEquals(assert(m:kmem_cache_create("ct", 200, { ctor = true })):info().name, "ct")
  lu.assertEquals(assert(m:kmem_cache_create("small", 192)):info().name, "small")   -- a word smaller
  -- the oldest compatible cache is taken
  assert(m:kmem_cache_create("foo2", 200, { flags = "NO_MERGE" }))
  lu.assertEquals(assert(m:kmem_cache_create("baz", 200)):info().name, "foo")
  -- a usercopy region keeps a cache apart, and kmalloc caches have one
  lu.assertEquals(assert(m:kmem_cache_create("u", 200, { usersize = 8 })):info().name, "u")
  lu.assertEquals(assert(m:kmem_cache_create("k", 64)):info().name, "k")
  -- the alias's name finds the cache it was merged into (sysfs keeps a link)
  lu.assertEquals(m:slab_cache("bar"):info().name, "foo")
  -- ksize: a constructor cache's whole stride, an RCU cache's up to its free pointer
  local ct = m:slab_cache("ct")
  local o = assert(ct:alloc())
  lu.assertEquals(m:ksize(o), ct:info().slab_size)
  local rcu = m:slab_cache("rcu")
  lu.assertEquals(m:ksize(assert(rcu:alloc())), rcu:info().inuse)
  -- an alias's destroy drops a reference
  assert(bar:destroy())
  lu.assertEquals(foo:info().aliases, 1)
  lu.assertTrue(m:check())
end

-- ===================== the CPU slab, the partial lists =====================

function test_objects_come_in_address_order_from_the_cpu_slab()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("obj", 256, { flags = "NO_MERGE" }))
  local per = c:info().objs_per_slab
  local first = assert(c:alloc())
  lu.assertEquals(first % 4096, 0)
  for i = 1, per - 1 do lu.assertEquals(assert(c:alloc()), first + i * 256) end
  local nxt = assert(c:alloc())                  -- the next slab
  lu.assertNotEquals(nxt // 4096, first // 4096)
  lu.assertEquals(c:info().slabs, 2)
  -- LIFO: the object freed last comes back first (this CPU's freelist)
  c:free(nxt)
  lu.assertEquals(assert(c:alloc()), nxt)
  lu.assertTrue(m:page((first - 0xffff888000000000) // 4096).slab)
  lu.assertTrue(m:check())
end

function test_free_into_a_full_slab_goes_to_the_cpu_partial_list()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("p", 512, { flags = "NO_MERGE" }))
  local per = c:info().objs_per_slab
  local objs = {}
  for i = 1, 3 * per do objs[i] = assert(c:alloc()) end   -- 3 full slabs, the last the CPU's
  lu.assertEquals(c:info().partial, 0)
  c:free(objs[1])                                          -- slab 1 was full: to c->partial
  local i = c:info()
  lu.assertEquals(i.partial, 0)
  lu.assertEquals(i.cpu_slabs, 2)                          -- the CPU slab and one partial
  -- /proc/slabinfo counts free objects of CPU partial slabs as active
  lu.assertEquals(slabinfo(m, "p").active, 3 * per)
  lu.assertEquals(i.objects, 3 * per - 1)
  -- the CPU slab runs dry: the next allocation takes the partial slab's free object
  local o = assert(c:alloc())
  lu.assertEquals(o, objs[1])
  lu.assertTrue(m:check())
end

function test_cpu_partial_list_drains_to_the_node_when_full()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("d", 1024, { flags = "NO_MERGE" }))
  local info = c:info()
  local per, limit = info.objs_per_slab, info.cpu_partial_slabs
  local objs = {}
  local nslabs = limit + 3
  for i = 1, nslabs * per do objs[i] = assert(c:alloc()) end
  -- one free in each full slab but the CPU's: the first `limit` fill c->partial,
  -- the next moves them all to the node's list
  for s = 0, limit do c:free(objs[s * per + 1]) end
  info = c:info()
  lu.assertEquals(info.partial, limit)
  lu.assertEquals(info.cpu_slabs, 2)
  -- now slabinfo leaves the node's free objects out
  lu.assertEquals(slabinfo(m, "d").active, nslabs * per - limit)
  lu.assertTrue(m:check())
end

function test_empty_slabs_freed_beyond_min_partial()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("e", 2048, { flags = "NO_MERGE" }))
  local info = c:info()
  local per = info.objs_per_slab
  local objs = {}
  local nslabs = 12
  for i = 1, nslabs * per do objs[i] = assert(c:alloc()) end
  local slab_kb = meminfo_kb(m, "SUnreclaim")
  lu.assertEquals(slab_kb, nslabs * (4096 << info.order) // 1024)
  for i = 1, nslabs * per do c:free(objs[i]) end
  c:shrink()
  info = c:info()
  lu.assertEquals(info.slabs, 0)
  lu.assertEquals(meminfo_kb(m, "SUnreclaim"), 0)
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, 0)
  lu.assertTrue(m:check())
end

function test_frees_from_another_cpu_go_to_the_slab_not_the_cpu_freelist()
  local m = machine(2)
  local p0 = m:spawn{ name = "p0", aslr = false }
  local p1 = m:spawn{ name = "p1", aslr = false }
  p1:run_on(1)
  local c = assert(m:kmem_cache_create("x", 128, { flags = "NO_MERGE" }))
  local a = assert(c:alloc(nil, p0))
  local b = assert(c:alloc(nil, p0))
  assert(c:free(a, p1))                    -- remote: onto the frozen slab's freelist
  -- CPU 0 keeps handing out its own freelist first
  lu.assertEquals(assert(c:alloc(nil, p0)), b + 128)
  -- CPU 1 has no slab of its own: it gets a new one
  local d = assert(c:alloc(nil, p1))
  lu.assertNotEquals(d // 4096, a // 4096)
  lu.assertEquals(c:info().cpu_slabs, 2)
  lu.assertTrue(m:check())
end

function test_shrink_puts_the_fullest_slabs_first_as_list_move_does()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("s", 512, { flags = "NO_MERGE" }))
  local per = c:info().objs_per_slab
  local objs = {}
  for i = 1, 6 * per do objs[i] = assert(c:alloc()) end     -- slabs A..E full, F the CPU's
  for s = 0, 4 do assert(c:free(objs[s * per + 1])) end      -- A..E on the CPU partial list, E first
  c:shrink()
  -- one free object each: promote[0] gets them head first, so the node's list is A..E again
  lu.assertEquals(assert(c:alloc()), objs[1])
  lu.assertTrue(m:check())
end

function test_flush_runs_on_each_cpu()
  local m = memlab.new{ ram = "64M", seed = 1, cpus = 2 }
  local p1 = m:spawn{ name = "p1", aslr = false }
  p1:run_on(1)
  local c = assert(m:kmem_cache_create("f", 512, { flags = "NO_MERGE" }))
  local per, lim = c:info().objs_per_slab, c:info().cpu_partial_slabs
  local x = assert(c:alloc(nil, p1))                          -- CPU 1's own slab
  local o = {}
  for i = 1, (lim + 2) * per do o[i] = assert(c:alloc()) end
  for s = 0, lim do assert(c:free(o[s * per + 1])) end         -- the node gets min_partial and more
  lu.assertTrue(c:info().partial >= c:info().min_partial)
  assert(c:free(x, p1))
  c:shrink()               -- CPU 1's flush work frees its empty slab: to CPU 1's pageset
  local pg = m:page((x - 0xffff888000000000) // 4096)
  lu.assertTrue(pg.pcp)
  lu.assertEquals(pg.pcp_cpu, 1)
  lu.assertTrue(m:check())
end

function test_oom_report_lists_unreclaimable_slab()
  local m = memlab.new{ ram = "32M", seed = 1 }
  m:sysctl{ overcommit_memory = 1 }
  local init = m:spawn{ name = "init", aslr = false }
  local hog = m:spawn{ name = "hog", aslr = false }
  local a = assert(hog:mmap(nil, 2 << 20, "rw", "private|anonymous"))
  assert(hog:touch(a, 2 << 20, "w"))
  local c = assert(m:kmem_cache_create("big_obj", 2048, { flags = "NO_MERGE" }))
  local n = 0
  while c:alloc("GFP_KERNEL", init) do n = n + 1; assert(n < 20000) end
  local d = m:dmesg()
  lu.assertStrContains(d, "Killed process")
  -- more unreclaimable slab than LRU pages: dump_unreclaimable_slab()
  lu.assertStrContains(d, "Unreclaimable slab info:\nName                      Used          Total\n")
  lu.assertNotNil(d:match("\nbig_obj +%d+KB +%d+KB\n"))
  lu.assertTrue(m:check())
end

-- ===================== kmalloc =====================

function test_kmalloc_picks_the_cache_by_size_and_gfp()
  local m = machine(2)
  local function cache_of(size, gfp)
    local a = assert(m:kmalloc(size, gfp))
    local before = {}
    for _, i in ipairs(m:slabinfo()) do before[i.name] = i.objects end
    m:kfree(a)
    for _, i in ipairs(m:slabinfo()) do
      if i.objects ~= before[i.name] then return i.name, m:ksize(a) end
    end
  end
  lu.assertEquals(cache_of(1), "kmalloc-8")
  lu.assertEquals(cache_of(9), "kmalloc-16")
  lu.assertEquals(cache_of(65), "kmalloc-96")
  lu.assertEquals(cache_of(97), "kmalloc-128")
  lu.assertEquals(cache_of(129), "kmalloc-192")
  lu.assertEquals(cache_of(193), "kmalloc-256")
  lu.assertEquals(cache_of(4097), "kmalloc-8k")
  lu.assertEquals(cache_of(100, "GFP_KERNEL_ACCOUNT"), "kmalloc-cg-128")
  lu.assertEquals(cache_of(100, "GFP_KERNEL|__GFP_RECLAIMABLE"), "kmalloc-rcl-128")
  lu.assertEquals(cache_of(100, "GFP_KERNEL|__GFP_DMA"), "dma-kmalloc-128")
  local a = assert(m:kmalloc(100))
  lu.assertEquals(m:ksize(a), 128)
  lu.assertEquals(m:kmalloc(0), 16)                -- ZERO_SIZE_PTR
  lu.assertTrue(m:kfree(16))
  lu.assertTrue(m:kfree(0))
  lu.assertTrue(m:check())
end

function test_large_kmalloc_comes_from_the_page_allocator()
  local m = machine(1)
  local free0 = m:vmstat().nr_free_pages
  local a = assert(m:kmalloc(8193))
  lu.assertEquals(m:ksize(a), 16384)
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, 4)
  lu.assertEquals(meminfo_kb(m, "SUnreclaim"), 16)
  local pfn = (a - 0xffff888000000000) // 4096
  lu.assertTrue(m:page(pfn).large_kmalloc)
  lu.assertFalse(m:page(pfn).slab)
  lu.assertTrue(m:check())
  lu.assertEquals(m:ksize(a + 8), 0)       -- __ksize(): WARN_ON(object != folio_address())
  lu.assertStrContains(m:dmesg(), "__ksize")
  assert(m:kfree(a + 5000))                -- any address inside frees it, as Linux
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, 0)
  lu.assertTrue(m:vmstat().nr_free_pages >= free0 - 64)
  -- beyond KMALLOC_MAX_SIZE (4 MiB)
  H.assert_errno("ENOMEM", 12, m:kmalloc(8 * 1024 * 1024))
  lu.assertTrue(m:check())
end

function test_gfp_zero_clears_the_object()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("z", 64, { flags = "NO_MERGE" }))
  local a = assert(c:alloc())
  local pa = a - 0xffff888000000000
  m:write_phys(pa, string.rep("\xaa", 64))
  c:free(a)
  lu.assertEquals(assert(c:alloc()), a)
  lu.assertEquals(m:read_phys(pa, 64), string.rep("\xaa", 64))   -- not cleared without __GFP_ZERO
  c:free(a)
  lu.assertEquals(assert(c:alloc("GFP_KERNEL|__GFP_ZERO")), a)
  lu.assertEquals(m:read_phys(pa, 64), string.rep("\0", 64))
end

function test_zone_modifiers_slab_cannot_take_are_fixed_up()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("g", 64, { flags = "NO_MERGE" }))
  -- kmalloc_fix_flags(): a warning, and the slab comes from a normal zone
  local a = assert(c:alloc("GFP_KERNEL|__GFP_DMA32|__GFP_HIGHMEM"))
  lu.assertStrContains(m:dmesg(), "Unexpected gfp: ")
  lu.assertStrContains(m:dmesg(), "Fix your code!")
  local pfn = (a - 0xffff888000000000) // 4096
  lu.assertEquals(m:page(pfn).migratetype, "Unmovable")
  -- the caller's mobility does not reach the slab page: the cache's does
  local r = assert(m:kmem_cache_create("rcl", 64, { flags = "NO_MERGE|RECLAIM_ACCOUNT" }))
  local b = assert(r:alloc("GFP_HIGHUSER_MOVABLE"))
  lu.assertEquals(m:page((b - 0xffff888000000000) // 4096).migratetype, "Reclaimable")
  lu.assertEquals(m:vmstat().nr_slab_reclaimable, 1)
  lu.assertTrue(m:check())
end

-- ===================== memory cgroups =====================

-- A machine with a task p in cgroup /box (and an init in the root).
local function boxed(opts)
  local m = memlab.new{ ram = "128M", seed = 1 }
  m:spawn{ name = "init", aslr = false }
  local cg = m:cgroup("/box")
  if opts and opts.max then cg:write("memory.max", opts.max) end
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn{ name = "p", aslr = false }
  cg:attach(p)
  return m, cg, p
end

function test_accounted_objects_are_charged_in_bytes()
  local m, cg, p = boxed()
  local c = assert(m:kmem_cache_create("acct", 200, { flags = "SLAB_ACCOUNT" }))
  local kernel0 = cg:stat().kernel
  local objs = {}
  -- 200-byte objects charge 208 bytes each (the obj_cgroup pointer beside them):
  -- the first takes a page, the next ones the stock's rest
  for i = 1, 19 do objs[i] = assert(c:alloc(nil, p)) end
  lu.assertEquals(cg:stat().kernel - kernel0, 4096)
  -- the slab statistics wait in the CPU's stock until they pass a page
  lu.assertEquals(cg:stat().slab_unreclaimable, 0)
  objs[20] = assert(c:alloc(nil, p))
  lu.assertEquals(cg:stat().kernel - kernel0, 8192)
  lu.assertEquals(cg:stat().slab_unreclaimable, 20 * 208)
  lu.assertEquals(cg:stat().slab, 20 * 208)
  lu.assertTrue(m:check())
  -- not charged: a kernel thread's allocation, a cache without SLAB_ACCOUNT
  local k = assert(c:alloc())
  local plain = assert(m:kmem_cache_create("plain", 200, { flags = "NO_MERGE" }))
  local q = assert(plain:alloc(nil, p))
  lu.assertEquals(cg:stat().kernel - kernel0, 8192)
  -- __GFP_ACCOUNT charges any cache's object: kmalloc-cg-128, 136 bytes
  local a = assert(m:kmalloc(100, "GFP_KERNEL_ACCOUNT", p))
  lu.assertTrue(m:check())
  for i = 1, 20 do assert(c:free(objs[i], p)) end
  assert(c:free(k)); assert(plain:free(q, p)); assert(m:kfree(a, p))
  lu.assertTrue(m:check())
  -- all freed: the stock gives back whole pages as it passes one
  lu.assertTrue(cg:stat().kernel - kernel0 <= 4096)
end

function test_large_accounted_kmalloc_charges_pages()
  local m, cg, p = boxed({ max = "1M" })
  local got = 0
  for _ = 1, 64 do
    local a = m:kmalloc(65536, "GFP_KERNEL_ACCOUNT|__GFP_NORETRY", p)
    if not a then break end
    got = got + 1
  end
  lu.assertTrue(got >= 14 and got <= 16, tostring(got))
  lu.assertEquals(cg:stat().slab_unreclaimable, got * 65536)
  lu.assertTrue(cg:current() <= 1024 * 1024)
  lu.assertTrue(m:check())
end

function test_accounted_allocation_fails_at_memory_max()
  local m, cg, p = boxed({ max = "256K" })
  local c = assert(m:kmem_cache_create("big", 2048, { flags = "SLAB_ACCOUNT" }))
  local n = 0
  while c:alloc("GFP_NOWAIT", p) do n = n + 1; assert(n < 1000) end
  -- 2056 bytes each (2048 + the obj_cgroup pointer) in 64 pages
  lu.assertEquals(n, 262144 // 2056)
  lu.assertEquals(cg:current(), 262144)
  -- a charge that may not block fails before try_charge_memcg counts "max"
  lu.assertEquals(cg:events().max, 0)
  lu.assertTrue(m:check())
end

function test_removed_cgroup_lives_while_objects_are_charged()
  local m, cg, p = boxed()
  local c = assert(m:kmem_cache_create("keep", 64, { flags = "SLAB_ACCOUNT" }))
  local a = assert(c:alloc(nil, p))
  p:exit()
  lu.assertTrue(cg:rmdir())
  lu.assertTrue(m:check())
  assert(c:free(a))
  lu.assertTrue(m:check())
end

function test_a_charge_that_fails_gives_the_object_back_to_the_cpu_freelist()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local c = assert(m:kmem_cache_create("acct", 1000, { flags = "ACCOUNT|NO_MERGE" }))
  local root = m:spawn{ name = "init" }
  local cg = m:cgroup("/tiny")
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn{ name = "p" }
  cg:attach(p)
  assert(cg:write("memory.max", "0"))
  local x = assert(c:alloc("GFP_KERNEL", root))
  assert(c:alloc("GFP_KERNEL", root))
  assert(c:free(x, root))
  lu.assertIsNil(c:alloc("GFP_KERNEL", p))           -- took x; memcg_alloc_abort_single
  lu.assertEquals(assert(c:alloc("GFP_KERNEL", root)), x)
  lu.assertTrue(m:check())
end

function test_a_freed_cgroups_pending_slab_bytes_stay_its_own()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local huge = assert(m:kmem_cache_create("huge", 8184, { flags = "ACCOUNT|NO_MERGE" }))
  local P = m:cgroup("/p")
  local g1, g2 = m:cgroup("/p/g1"), m:cgroup("/p/g2")
  local Q = m:cgroup("/q")
  -- spawned in the root, then moved: the exec's charges stay behind
  local a = m:spawn{ name = "a" }
  g1:attach(a)
  local o = assert(huge:alloc("GFP_KERNEL", a))
  g2:attach(a)
  assert(g1:rmdir())
  assert(huge:free(o, a))          -- -8192 slab bytes wait in CPU 0's obj stock for g1
  assert(m:cgroup("/tmp"):rmdir()) -- a reap frees g1: its pending bytes are flushed first
  local b = m:spawn{ name = "b" }
  Q:attach(b)
  assert(huge:alloc("GFP_KERNEL", b))
  lu.assertEquals(P:stat().slab, 0)
  lu.assertTrue(m:check())
end

function test_munmap_that_oom_kills_its_caller_returns_sigkill()
  -- a split makes a VMA, whose vm_area_struct is charged to the cgroup
  local PAGE, BASE = 4096, 0x7e0000000000
  local m = memlab.new{ ram = "64M", seed = 1 }
  m:spawn{ name = "init" }
  local cg = m:cgroup("/box")
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn{ name = "p", aslr = false }
  cg:attach(p)
  assert(p:mmap(BASE, 256 * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:touch(BASE, 256 * PAGE, "w"))
  for i = 0, 40 do
    assert(p:mmap(BASE + (300 + 2 * i) * PAGE, PAGE, i % 2 == 0 and "rw" or "r--",
                  "private|anonymous|fixed"))
  end
  cg:write("memory.max", tostring(cg:current() - 58 * PAGE))
  local r
  for k = 1, 60 do
    r = { p:munmap(BASE + (10 + 3 * k) * PAGE, PAGE) }
    if r[1] == nil then break end
  end
  lu.assertEquals(r, { nil, "SIGKILL", 9 })
  lu.assertEquals(cg:events().oom_kill, 1)
  lu.assertTrue(m:check())
end

function test_the_kernel_objects_caches_are_the_cores()
  local m = machine(1)
  local p = m:spawn{ name = "p", aslr = false }
  for _, name in ipairs{ "vm_area_struct", "task_struct", "mm_struct", "anon_vma" } do
    local c = m:slab_cache(name)
    H.assert_raises({ "alloc", "belong to memlab's own" }, c.alloc, c, "GFP_KERNEL", p)
  end
  -- a VMA's object cannot be freed from outside
  local vma_obj = nil
  for _, v in ipairs(m:slabinfo()) do if v.name == "vm_area_struct" then vma_obj = v end end
  lu.assertTrue(vma_obj.objects > 0)
  lu.assertTrue(m:check())
end

function test_a_whole_page_charge_takes_over_the_obj_stock()
  -- 6.18's obj_cgroup_charge_account: after charging whole pages it still
  -- calls refill_obj_stock(), whose takeover of the stock allows uncharging
  -- what the stock holds beyond a page.
  local m = memlab.new{ ram = "64M", seed = 1, cpus = 2 }
  local small = assert(m:kmem_cache_create("small", 88, { flags = "ACCOUNT|NO_MERGE" }))  -- 96 charged
  local big = assert(m:kmem_cache_create("big", 4088, { flags = "ACCOUNT|NO_MERGE" }))    -- 4096 charged
  local g = m:cgroup("/g")
  -- spawned in the root, then moved: the exec's charges stay behind
  local a = m:spawn{ name = "a" }
  g:attach(a)
  for cpu = 0, 1 do a:run_on(cpu); assert(small:alloc("GFP_KERNEL", a)) end
  assert(g:write("memory.max", "16K"))      -- drains both stocks: 8000 bytes to nr_charged_bytes
  lu.assertEquals(g:stat().kernel, 8192)
  a:run_on(0)
  assert(big:alloc("GFP_KERNEL", a))        -- +1 page, then the 8000 taken in: 1 page back
  lu.assertEquals(g:stat().kernel, 8192)
  lu.assertTrue(m:check())
end

-- A task_struct holds the CPU's FPU state (x86's arch_task_struct_size):
-- its size, and the cache's layout, follow the machine's xstate_size.
function test_task_struct_holds_the_fpu_state()
  local m <close> = memlab.new{ ram = "64M" }
  lu.assertEquals(m:info().xstate_size, 2496)
  local i = m:slab_cache("task_struct"):info()
  lu.assertEquals({ i.object_size, i.slab_size, i.order, i.objs_per_slab }, { 5888, 5888, 3, 5 })
  -- no AVX-512: x87, SSE, AVX in the compacted format, 832 bytes
  local small <close> = memlab.new{ ram = "64M", xstate_size = 832 }
  lu.assertEquals(small:info().xstate_size, 832)
  i = small:slab_cache("task_struct"):info()
  lu.assertEquals({ i.object_size, i.slab_size, i.order, i.objs_per_slab }, { 4224, 4224, 3, 7 })
  local p = small:spawn{ name = "p" }
  p:exit()
  lu.assertTrue(small:check())
  local arm = memlab.new{ arch = "arm64", ram = "64M" }
  lu.assertNil(arm:info().xstate_size)
  lu.assertEquals(arm:slab_cache("task_struct"):info().object_size, 5888)
end

function test_slabinfo_estimates_a_long_partial_list()
  -- count_partial_free_approx() (6.10+): past 10000 node partial slabs only
  -- the first and the last 5000 are counted, and scaled
  local m = memlab.new{ ram = "256M", seed = 1 }
  local c = assert(m:kmem_cache_create("ap", 512, { flags = "NO_MERGE" }))
  local per, lim = c:info().objs_per_slab, c:info().cpu_partial_slabs
  local N, objs, middle = 10020, {}, {}
  for s = 1, N + 1 do
    objs[s] = {}
    for i = 1, per do objs[s][i] = assert(c:alloc()) end
  end
  -- the node list takes each CPU list whole, newest first: slab 13b + 13 - o is the
  -- (13b + o)th on it; make the 10 slabs in its middle hold 7 free objects
  for p = 5000, 5009 do middle[lim * (p // lim) + lim - p % lim] = true end
  for s = 1, N do
    for i = 1, middle[s] and 7 or 1 do assert(c:free(objs[s][i])) end
  end
  local info = c:info()
  lu.assertTrue(info.partial > 10000)
  -- exactly: one free object in each slab freed into, six more in the middle ten
  lu.assertEquals(info.total_objects - info.objects, N + 60)
  -- the middle's 60 extra free objects go uncounted: one free object a slab, scaled
  lu.assertEquals(info.active_objs, info.total_objects - info.partial)
  lu.assertTrue(m:check())
end

-- ===================== tracepoints =====================

function test_kmem_events()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("tr", 100, { flags = "NO_MERGE|SLAB_ACCOUNT" }))
  m:trace{ events = { "kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free" } }
  local a = assert(m:kmalloc(100, "GFP_KERNEL_ACCOUNT"))
  local b = assert(c:alloc())
  assert(c:free(b))
  assert(m:kfree(a))
  assert(m:kmalloc(0))                     -- no event for ZERO_SIZE_PTR
  local ev = m:trace_events()
  m:trace(false)
  lu.assertEquals(#ev, 4)
  lu.assertEquals({ ev[1].event, ev[1].ptr, ev[1].bytes_req, ev[1].bytes_alloc, ev[1].node,
                    ev[1].accounted },
                  { "kmalloc", a, 100, 128, -1, 1 })
  lu.assertEquals({ ev[2].event, ev[2].ptr, ev[2].bytes_req, ev[2].bytes_alloc, ev[2].accounted },
                  { "kmem_cache_alloc", b, 100, 104, 1 })
  lu.assertEquals({ ev[3].event, ev[3].ptr }, { "kmem_cache_free", b })
  lu.assertEquals({ ev[4].event, ev[4].ptr }, { "kfree", a })
end

function test_kmem_events_text()
  local m = machine(1)
  m:trace{ events = { "kmalloc" } }
  local a = assert(m:kmalloc(20000))
  local text = m:trace_dump("text")
  lu.assertStrContains(text, string.format(
    " kmalloc: call_site=0000000000000000 ptr=%016x bytes_req=20000 bytes_alloc=32768 "
    .. "gfp_flags=GFP_KERNEL node=-1 accounted=false\n", a))
end

-- ===================== bad frees, destroy, failure =====================

function test_bad_frees_raise_and_change_nothing()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("bad", 100, { flags = "NO_MERGE" }))
  local a = assert(c:alloc())
  local b = assert(c:alloc())
  H.assert_raises({ "kfree", "Invalid object pointer" }, m.kfree, m, a + 8)
  H.assert_raises({ "kfree", "no kmalloc allocation" }, m.kfree, m, 0xffff888000000000 + 4096 * 100)
  H.assert_raises({ "kfree", "no kmalloc allocation" }, m.kfree, m, 0x1000)
  assert(c:free(a))
  -- a double free of an object not at the head of its freelist: refused
  assert(c:free(b))
  H.assert_raises({ "free", "Object already free" }, c.free, c, a)
  lu.assertTrue(m:check())
  -- a free into the wrong cache: Linux warns and frees into the object's own
  local k = assert(m:kmalloc(100))
  assert(c:free(k))
  lu.assertTrue(m:check())
end

function test_double_free_at_the_freelist_head_is_a_kernel_bug()
  local m = machine(1)
  local a = assert(m:kmalloc(64))
  assert(m:kfree(a))
  -- CONFIG_SLAB_FREELIST_HARDENED's BUG_ON(object == fp): the machine stops
  H.assert_errno("EIO", 5, m:kfree(a))
  lu.assertStrContains(m:dmesg(), "kernel BUG at mm/slub.c")
  H.assert_errno("EIO", 5, m:kmalloc(64))
end

function test_destroy_with_objects_left_leaks_the_cache()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("leak", 300, { flags = "NO_MERGE" }))
  local a = assert(c:alloc())
  local b = assert(c:alloc())
  local slab0 = m:vmstat().nr_slab_unreclaimable
  H.assert_errno("EBUSY", 16, c:destroy())
  lu.assertStrContains(m:dmesg(), "kmem_cache_destroy leak: Slab cache still has objects")
  -- 6.18 takes it off slab_caches anyway: gone from slabinfo, its slabs leaked
  lu.assertIsNil(slabinfo(m, "leak"))
  lu.assertIsNil(m:slab_cache("leak"))
  H.assert_raises({ "alloc", "destroyed cache" }, c.alloc, c)
  -- its objects can still be freed (kfree finds their cache), the pages stay
  assert(m:kfree(a))
  assert(m:kfree(b))
  lu.assertEquals(m:vmstat().nr_slab_unreclaimable, slab0)
  lu.assertTrue(m:check())
  H.assert_raises({ "destroy", "kmalloc cache" }, function() return m:slab_cache("kmalloc-64"):destroy() end)
  -- a handle of a destroyed cache does not act on a new one at the same address
  local d = assert(m:kmem_cache_create("d1", 100, { flags = "NO_MERGE" }))
  local h = m:slab_cache("d1")
  assert(d:destroy())
  assert(m:kmem_cache_create("d2", 100, { flags = "NO_MERGE" }))
  H.assert_raises({ "info", "destroyed cache" }, h.info, h)
  lu.assertTrue(m:check())
end

function test_failslab_fails_allocations_that_may_not_sleep()
  local m = machine(1)
  local c = assert(m:kmem_cache_create("f", 64, { flags = "NO_MERGE" }))
  m:inject("failslab", { probability = 100, times = 2 })
  lu.assertNotNil(c:alloc())                               -- GFP_KERNEL: ignore-gfp-wait
  H.assert_errno("ENOMEM", 12, c:alloc("GFP_ATOMIC"))
  H.assert_errno("ENOMEM", 12, m:kmalloc(10, "GFP_NOWAIT"))
  lu.assertNotNil(m:kmalloc(10, "GFP_NOWAIT"))             -- times used up
  lu.assertTrue(m:check())
end

function test_out_of_memory_fails_without_leaving_state()
  local m = memlab.new{ ram = "32M", seed = 1 }
  local c = assert(m:kmem_cache_create("oom", 4000, { flags = "NO_MERGE" }))
  local n = 0
  while true do
    local a = c:alloc("GFP_NOWAIT")
    if not a then break end
    n = n + 1
  end
  lu.assertTrue(n > 1000)
  lu.assertTrue(m:check())
end

function test_bad_arguments_raise()
  local m = machine(1)
  H.assert_raises({ "kmem_cache_create", "size" }, m.kmem_cache_create, m, "x", 0)
  H.assert_raises({ "kmem_cache_create", "name" }, m.kmem_cache_create, m, "", 8)
  H.assert_raises({ "kmem_cache_create", "not modelled" }, m.kmem_cache_create, m, "x", 8, { flags = "SLAB_POISON" })
  H.assert_raises({ "kmem_cache_create", "slab flag" }, m.kmem_cache_create, m, "x", 8, { flags = "SLAB_BOGUS" })
  H.assert_raises({ "kmem_cache_create", "power of two" }, m.kmem_cache_create, m, "x", 8, { align = 24 })
  H.assert_errno("EINVAL", 22, m:kmem_cache_create("x", 64, { freeptr_offset = 8 }))   -- not RCU
  H.assert_errno("EINVAL", 22, m:kmem_cache_create("x", 64, { ctor = true, freeptr_offset = 8 }))  -- 6.18: RCU only
  H.assert_raises({ "kmalloc" }, m.kmalloc, m, -5)
  H.assert_raises({ "alloc" }, m.slab_cache(m, "kmalloc-8").alloc, m, "bogus")
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run(), true)
