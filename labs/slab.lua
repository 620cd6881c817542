-- The slab allocator: kmalloc's size classes, merged caches, per-CPU slabs and slab fragmentation
--
-- The kernel allocates its own small objects from slab caches (SLUB):
-- each cache cuts slabs -- runs of pages from the buddy allocator -- into
-- objects of one size.  This lab shows, with every claim checked by
-- assert():
--   1. kmalloc rounds a request up to one of its size classes: the waste;
--   2. kmem_cache_create() often makes no cache at all but an alias of a
--      compatible one, and /proc/slabinfo then shows only the older name;
--   3. each CPU allocates from its own slab, and frees to full slabs park
--      them on that CPU's partial list -- where /proc/slabinfo still counts
--      their free objects as active;
--   4. a slab goes back to the page allocator only when all its objects
--      are free: freeing 90% of the objects at random frees few pages;
--   5. the kernel's own objects come from slab caches too: every VMA is a
--      vm_area_struct, charged to the memory cgroup of the task that made it.

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local PAGE_OFFSET = 0xffff888000000000

local m = memlab.new{ arch = "x86_64", ram = "256M", cpus = 2, seed = 1 }
local rng = 12345
local function random(n)          -- a small LCG: the same numbers on every run
  rng = (rng * 1103515245 + 12345) % 2147483648
  return rng % n + 1
end

local function meminfo_kb(field)
  return tonumber(m:proc("meminfo"):match(field .. ":%s+(%d+) kB"))
end
local function slabinfo_line(name)
  for line in m:proc("slabinfo"):gmatch("[^\n]+") do
    if line:match("^(%S+)") == name then return line end
  end
end

------------------------------------------------------------------------------
section("1. kmalloc's size classes")

local classes, order = {}, {}
local asked, got = 0, 0
for _ = 1, 2000 do
  local size = random(600)
  local a = assert(m:kmalloc(size))
  local k = m:ksize(a)
  asked, got = asked + size, got + k
  if not classes[k] then classes[k] = { n = 0, asked = 0 }; order[#order + 1] = k end
  classes[k].n = classes[k].n + 1
  classes[k].asked = classes[k].asked + size
  assert(m:kfree(a))
end
table.sort(order)
say("  %-13s %6s %12s %8s", "cache", "allocs", "mean asked", "waste")
for _, k in ipairs(order) do
  local c = classes[k]
  say("  kmalloc-%-5s %6d %12.1f %7.1f%%", k >= 1024 and (k // 1024) .. "k" or tostring(k),
      c.n, c.asked / c.n, 100 * (k * c.n - c.asked) / (k * c.n))
end
say("2000 requests of 1..600 bytes asked %d bytes and got %d: %.1f%% lost to rounding.",
    asked, got, 100 * (got - asked) / got)
assert(got > asked and (got - asked) / got > 0.1)
assert(classes[96] and classes[192], "the two caches that are no power of two")

------------------------------------------------------------------------------
section("2. Merged caches")

local foo = assert(m:kmem_cache_create("foo_cache", 200))
local bar = assert(m:kmem_cache_create("bar_cache", 196))
local acct = assert(m:kmem_cache_create("acct_cache", 200, { flags = "SLAB_ACCOUNT" }))
say("kmem_cache_create(\"bar_cache\", 196) gave: %s", bar:info().name)
say("sysfs names: foo_cache %s (aliases %d), acct_cache %s", foo:info().sysfs_name,
    foo:info().aliases, acct:info().sysfs_name)
assert(bar:info().name == "foo_cache" and foo:info().aliases == 1)
assert(acct:info().name == "acct_cache")     -- SLAB_ACCOUNT must match to merge
assert(slabinfo_line("foo_cache") and not slabinfo_line("bar_cache"))
say("/proc/slabinfo lists foo_cache and acct_cache; bar_cache is an alias only.")

------------------------------------------------------------------------------
section("3. Per-CPU slabs and /proc/slabinfo's active objects")

local c = assert(m:kmem_cache_create("lab_obj", 512, { flags = "SLAB_NO_MERGE" }))
local per = c:info().objs_per_slab
local cpu0 = m:spawn{ name = "cpu0", aslr = false }
local cpu1 = m:spawn{ name = "cpu1", aslr = false }
cpu1:run_on(1)
local objs = {}
for i = 1, 20 * per do objs[i] = assert(c:alloc(nil, cpu0)) end
io.write("  ", slabinfo_line("lab_obj"), "\n")
-- CPU 1 frees one object in each of the first slabs: each was full, so
-- each goes on CPU 1's partial list, up to cpu_partial_slabs of them
local limit = c:info().cpu_partial_slabs
for s = 0, limit - 1 do assert(c:free(objs[s * per + 1], cpu1)) end
local info = c:info()
io.write("  ", slabinfo_line("lab_obj"), "\n")
say("%d objects freed, one per slab: in use %d, but slabinfo's active_objs is still %d:",
    limit, info.objects, info.active_objs)
say("the %d slabs sit on CPU 1's partial list, and free objects of CPU slabs count as active.",
    info.cpu_slabs - 1)
assert(info.objects == 20 * per - limit and info.active_objs == 20 * per and info.partial == 0)
-- one more: the list is full, so it goes to the node's partial list first
assert(c:free(objs[limit * per + 1], cpu1))
info = c:info()
io.write("  ", slabinfo_line("lab_obj"), "\n")
say("one more free: CPU 1's full list moved to the node (partial %d); now active_objs %d.",
    info.partial, info.active_objs)
assert(info.partial == limit and info.active_objs == 20 * per - limit)
assert(c:shrink())
info = c:info()
io.write("  ", slabinfo_line("lab_obj"), "\n")
say("after kmem_cache_shrink (slabs flushed to the node): active_objs %d", info.active_objs)
assert(info.active_objs == info.objects)
-- CPU 1 now allocates: it takes the node's partial slabs, not a new one
local slabs_before, nfree = info.slabs, info.total_objects - info.objects
for _ = 1, nfree do assert(c:alloc(nil, cpu1)) end
assert(c:info().slabs == slabs_before)
say("CPU 1's next %d allocations reuse those free objects: still %d slabs.", nfree, slabs_before)
assert(c:alloc(nil, cpu1) and c:info().slabs == slabs_before + 1)
say("The one after needs a new slab: %d.", slabs_before + 1)

------------------------------------------------------------------------------
section("4. Slab fragmentation")

local d = assert(m:kmem_cache_create("frag_obj", 256, { flags = "SLAB_NO_MERGE" }))
local N = 16384
local live = {}
for i = 1, N do live[i] = assert(d:alloc()) end
local kb_full = meminfo_kb("SUnreclaim")
-- free 90% of the objects, at random
local idx = {}
for i = 1, N do idx[i] = i end
for i = N, 2, -1 do local j = random(i); idx[i], idx[j] = idx[j], idx[i] end
for i = 1, N * 9 // 10 do assert(d:free(live[idx[i]])); live[idx[i]] = nil end
assert(d:shrink())
local kb_after = meminfo_kb("SUnreclaim")
local di = d:info()
say("%d objects of 256 bytes: SUnreclaim %d kB.", N, kb_full)
say("90%% freed at random, then shrunk: %d objects (%d kB) in use hold %d slabs, SUnreclaim %d kB.",
    di.objects, di.objects * 256 // 1024, di.slabs, kb_after)
assert(di.objects == N - N * 9 // 10)
assert(kb_after > 3 * (di.objects * 256 // 1024), "most slabs still hold an object")
say("A slab is freed only when all its %d objects are: memory stays %.1fx what is used.",
    di.objs_per_slab, kb_after / (di.objects * 256 / 1024))

------------------------------------------------------------------------------
section("5. The kernel's own objects: a VMA costs a vm_area_struct, charged to its cgroup")

local cg = m:cgroup("/vmas")
local parent = m:spawn{ name = "parent", aslr = false }
assert(cg:attach(parent))
local vc = m:slab_cache("vm_area_struct")
local before, kernel0, slab0 = vc:info().objects, cg:stat().kernel, cg:stat().slab_unreclaimable
local addrs = {}
for i = 1, 500 do     -- alternate protections: no two neighbours merge
  addrs[i] = assert(parent:mmap(nil, 4096, i % 2 == 0 and "r" or "rw", "private|anonymous"))
end
local vi = vc:info()
say("500 mmaps that cannot merge: vm_area_struct objects %d -> %d (%d per slab, %d slabs).",
    before, vi.objects, vi.objs_per_slab, vi.slabs)
assert(vi.objects == before + 500)
say("The cgroup pays %d bytes a VMA (%d-byte objects and an 8-byte obj_cgroup pointer):",
    vi.slab_size + 8, vi.slab_size)
say("  memory.stat kernel %+d bytes, slab_unreclaimable %+d bytes (pending bytes wait in the CPU's stock).",
    cg:stat().kernel - kernel0, cg:stat().slab_unreclaimable - slab0)
assert(cg:stat().slab_unreclaimable - slab0 <= 500 * (vi.slab_size + 8))
assert(cg:stat().slab_unreclaimable - slab0 > 500 * (vi.slab_size + 8) - 4096)
for i = 1, 500 do assert(parent:munmap(addrs[i], 4096)) end
say("munmap of them all: vm_area_struct objects back to %d.", vc:info().objects)
assert(vc:info().objects == before)

assert(m:check())
print()
print("m:check(): all invariants hold.")
