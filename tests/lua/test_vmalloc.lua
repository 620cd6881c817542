-- test_vmalloc.lua: kernel memory through the Lua API (docs/lua-api.md,
-- "Kernel memory: vmalloc and kernel addresses"): m:vmalloc, m:vfree,
-- m:vmap, m:vunmap, m:vmallocinfo, m:vmalloc_stats, m:proc("vmallocinfo"),
-- m:kread, m:kwrite, m:page_address, m:virt_to_pfn, m:vmalloc_to_pfn.
--
-- Run from the source root:  build/memlab run tests/lua/test_vmalloc.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, NIL = H.NAN, H.INF, H.NIL
local assert_raises, assert_rejects, assert_errno = H.assert_raises, H.assert_rejects, H.assert_errno

local PAGE = 4096
local START = 0xffffc90000000000      -- VMALLOC_START, x86-64 4-level
local DIRECT = 0xffff888000000000     -- PAGE_OFFSET

local function meminfo(m, key)
  return tonumber(m:proc("meminfo"):match(key .. ":%s+(%d+)"))
end

local lines = H.lines

-- ===================================================================
-- vmalloc and vfree
-- ===================================================================

TestVmalloc = {}

function TestVmalloc:test_lowest_first_and_vmallocinfo_lines()
  local m <close> = memlab.new{ ram = "64M" }
  lu.assertEquals(m:vmalloc(PAGE), START)
  lu.assertEquals(m:vmalloc("8K", { caller = "bpf_prog_alloc_no_stats+0x39/0x230" }), START + 2 * PAGE)
  lu.assertEquals(m:vmalloc(1), START + 5 * PAGE)
  local l = lines(m:proc("vmallocinfo"))
  lu.assertEquals(#l, 3)
  lu.assertEquals(l[1], "0xffffc90000000000-0xffffc90000002000    8192 memlab_vmalloc+0x0/0x0 pages=1 vmalloc N0=1")
  lu.assertEquals(l[2], "0xffffc90000002000-0xffffc90000005000   12288 bpf_prog_alloc_no_stats+0x39/0x230 pages=2 vmalloc N0=2")
  lu.assertEquals(l[3], "0xffffc90000005000-0xffffc90000007000    8192 memlab_vmalloc+0x0/0x0 pages=1 vmalloc N0=1")
  lu.assertEquals(meminfo(m, "VmallocUsed"), 4 * 4)
  lu.assertEquals(meminfo(m, "VmallocTotal"), 34359738367)
  lu.assertTrue(m:check())
end

function TestVmalloc:test_vmallocinfo_table()
  local m <close> = memlab.new{ ram = "64M" }
  local a = m:vmalloc("12K", { caller = "" })
  local t = m:vmallocinfo()
  lu.assertEquals(#t, 1)
  lu.assertEquals(t[1], { addr = a, ["end"] = a + 4 * PAGE, size = 4 * PAGE, kind = "busy",
                          node = 0, pages = 3, flags = "vmalloc" })
  lu.assertEquals(lines(m:proc("vmallocinfo"))[1],
                  "0xffffc90000000000-0xffffc90000004000   16384 pages=3 vmalloc N0=3")
  m:vfree(a)
  t = m:vmallocinfo()
  lu.assertEquals(t[1], { addr = a, ["end"] = a + 4 * PAGE, size = 4 * PAGE, kind = "unpurged", node = 0 })
end

function TestVmalloc:test_vfree_is_lazy()
  local m <close> = memlab.new{ ram = "64M" }
  local a = m:vmalloc("16K")
  lu.assertEquals(meminfo(m, "VmallocUsed"), 16)
  lu.assertTrue(m:vfree(a))
  lu.assertEquals(meminfo(m, "VmallocUsed"), 0)
  lu.assertEquals(m:proc("vmallocinfo"), "0xffffc90000000000-0xffffc90000005000   20480 unpurged vm_area\n")
  local s = m:vmalloc_stats()
  lu.assertEquals(s.lazy_pages, 5)
  lu.assertEquals(s.lazy_max_pages, 8192)
  lu.assertEquals(m:vmalloc(PAGE), START + 5 * PAGE)   -- the freed space waits for the purge
  lu.assertTrue(m:vfree(0))
  lu.assertTrue(m:check())
end

function TestVmalloc:test_purge_past_lazy_max_pages()
  local m <close> = memlab.new{ ram = "64M", cpus = 2 }
  lu.assertEquals(m:vmalloc_stats().lazy_max_pages, 16384)    -- fls(2) * 32M
  local frees = 0
  repeat
    m:vfree(assert(m:vmalloc("4M")))   -- 1025 pages and the 3 of its page array
    frees = frees + 1
  until m:vmalloc_stats().purges > 0
  lu.assertEquals(frees, 16)           -- 16 * 1028 = 16448 > 16384
  lu.assertEquals(m:vmalloc_stats().lazy_pages, 0)
  lu.assertEquals(m:vmalloc_stats().tlb_flush_all, 1)
  lu.assertEquals(m:vmalloc("4M"), START)
  lu.assertTrue(m:check())
end

function TestVmalloc:test_tracepoints()
  local m <close> = memlab.new{ ram = "64M" }
  m:trace{ events = { "alloc_vmap_area", "free_vmap_area_noflush", "purge_vmap_area_lazy" } }
  m:vfree(m:vmalloc("8K"))
  local l = lines(m:trace_dump())
  lu.assertStrContains(l[1], "alloc_vmap_area: va_start=18446683600570023936 size=12288 align=1 vstart=0xffffc90000000000 vend=0xffffe8ffffffffff failed=0")
  lu.assertStrContains(l[2], "free_vmap_area_noflush: va_start=0xffffc90000000000 nr_lazy=3 nr_lazy_max=8192")
  -- 16M: 4097 pages and its page array's 9; the second such vfree passes 8192
  repeat m:vfree(m:vmalloc("16M")) until m:vmalloc_stats().purges > 0
  lu.assertStrContains(m:trace_dump(), "purge_vmap_area_lazy: start=0xffffc90000000000 end=0xffffc90002017000 num_purged=5")
end

function TestVmalloc:test_errors_as_linux_returns_null()
  local m <close> = memlab.new{ ram = "64M" }
  assert_errno("EINVAL", 22, m:vmalloc(0))
  assert_errno("ENOMEM", 12, m:vmalloc("65M"))        -- more pages than RAM
  lu.assertStrContains(m:dmesg(), "vmalloc error: size 68157440, exceeds total pages, mode:0xcc0(GFP_KERNEL), nodemask=(null)")
  assert_errno("ENOMEM", 12, m:vmalloc("65M", { gfp = "GFP_KERNEL|__GFP_NOWARN" }))
  lu.assertEquals(select(2, m:dmesg():gsub("exceeds total pages", "")), 1)
end

function TestVmalloc:test_fail_page_alloc_frees_everything()
  local m <close> = memlab.new{ ram = "64M" }
  m:vfree(m:vmalloc(PAGE))             -- the kernel page tables exist from here
  local free0, tables0 = meminfo(m, "MemFree"), meminfo(m, "PageTables")
  m:inject("fail_page_alloc", { probability = 100, interval = 4, times = 1, min_order = 0,
                                 ignore_gfp_wait = 0, ignore_gfp_highmem = 0, verbose = 0 })
  assert_errno("ENOMEM", 12, m:vmalloc("32K"))
  lu.assertStrContains(m:dmesg(), "vmalloc error: size 12288, failed to allocate pages, mode:0xcc2(GFP_KERNEL|__GFP_HIGHMEM), nodemask=(null)")
  lu.assertEquals(meminfo(m, "VmallocUsed"), 0)
  lu.assertEquals(meminfo(m, "PageTables"), tables0)
  lu.assertTrue(math.abs(meminfo(m, "MemFree") - free0) <= 4 * 64)   -- per-CPU lists aside
  lu.assertStrContains(m:proc("vmallocinfo"), "0xffffc90000002000-0xffffc9000000b000   36864 unpurged vm_area\n")
  lu.assertTrue(m:check())
end

function TestVmalloc:test_options()
  local m <close> = memlab.new{ ram = "64M" }
  m:vmalloc(PAGE)
  lu.assertEquals(m:vmalloc(PAGE, { align = "64K" }), START + 0x10000)
  local a = m:vmalloc(PAGE, { no_guard = true })
  lu.assertEquals(a, START + 2 * PAGE)
  lu.assertEquals(m:vmalloc(PAGE), START + 3 * PAGE)     -- right after: no guard page
  lu.assertTrue(m:check())
end

function TestVmalloc:test_gfp_kernel_account_charges_the_task_memcg()
  local m <close> = memlab.new{ ram = "64M" }
  local cg = m:cgroup("/a")
  -- spawned in the root, then moved: the exec's charges stay behind
  local p = m:spawn()
  cg:attach(p)
  local function stat(key) return tonumber(cg:read("memory.stat"):match(key .. " (%d+)")) end
  local a = m:vmalloc("64K", { task = p })               -- GFP_KERNEL: not accounted
  lu.assertEquals(stat("vmalloc"), 0)
  local b = m:vmalloc("64K", { gfp = "GFP_KERNEL_ACCOUNT", task = p })
  lu.assertEquals(stat("vmalloc"), 65536)
  lu.assertEquals(stat("kernel"), 65536)
  m:vfree(b)
  lu.assertEquals(stat("vmalloc"), 0)
  lu.assertEquals(stat("kernel"), 0)
  m:vfree(a)
  -- past memory.max the charge fails (nothing to kill here): every page goes back
  cg:write("memory.max", "1M")
  assert_errno("ENOMEM", 12, m:vmalloc("4M", { gfp = "GFP_KERNEL_ACCOUNT", task = p }))
  lu.assertStrContains(m:dmesg(), "a.out: vmalloc error: size 1048576, failed to allocate pages, mode:0x400cc2(GFP_KERNEL_ACCOUNT|__GFP_HIGHMEM), nodemask=(null)")
  lu.assertEquals(stat("vmalloc"), 0)
  lu.assertEquals(meminfo(m, "VmallocUsed"), 16)          -- p's kernel stack
  lu.assertTrue(m:check())
end

function TestVmalloc:test_huge()
  local m <close> = memlab.new{ ram = "64M", pcp = false }
  m:vmalloc(PAGE)
  local a = m:vmalloc("2M", { huge = true, caller = "bpf_prog_pack_alloc+0x1/0x2" })
  lu.assertEquals(a, START + 0x200000)
  lu.assertEquals(m:vmalloc_to_pfn(a + 3 * PAGE), m:vmalloc_to_pfn(a) + 3)
  lu.assertEquals(lines(m:proc("vmallocinfo"))[2],
                  "0xffffc90000200000-0xffffc90000401000 2101248 bpf_prog_pack_alloc+0x1/0x2 pages=512 vmalloc N0=512")
  lu.assertEquals(m:vmalloc_stats().kernel_pgtables, 3)   -- a PMD leaf: no PTE table
  lu.assertTrue(m:check())
  local arm <close> = memlab.new{ arch = "arm64", ram = "64M" }
  lu.assertNotNil(arm:vmalloc("2M", { huge = true }))        -- mapped with pages: not modelled
  lu.assertTrue(arm:check())
end

function TestVmalloc:test_bad_arguments_raise()
  local m <close> = memlab.new{ ram = "64M" }
  assert_rejects(m, "vmalloc", { PAGE }, 1, { NIL, -1, 1.5, NAN, INF, "x", {}, true })
  assert_rejects(m, "vmalloc", { PAGE, {} }, 2, { 1, "caller", true })
  assert_raises({ "vmalloc", "unknown option 'hug'" }, m.vmalloc, m, PAGE, { hug = true })
  assert_raises({ "vmalloc", "huge" }, m.vmalloc, m, PAGE, { huge = "yes" })
  assert_raises({ "vmalloc", "caller" }, m.vmalloc, m, PAGE, { caller = "with space" })
  assert_raises({ "vmalloc", "caller" }, m.vmalloc, m, PAGE, { caller = "caf\xc3\xa9" })
  assert_raises({ "vmalloc", "caller" }, m.vmalloc, m, PAGE, { caller = string.rep("x", 64) })
  assert_raises({ "kread", "negative" }, m.kread, m, 0xffff888000000000, -1)
  assert_raises({ "vmalloc", "caller" }, m.vmalloc, m, PAGE, { caller = string.rep("x", 64) })
  assert_raises({ "kread", "negative" }, m.kread, m, 0xffff888000000000, -1)
  assert_raises({ "vmalloc", "power of two" }, m.vmalloc, m, PAGE, { align = 3 * PAGE })
  assert_raises({ "vmalloc", "no_guard" }, m.vmalloc, m, PAGE, { no_guard = 1 })
  assert_raises({ "vmalloc" }, m.vmalloc, m, PAGE, { gfp = "GFP_NOPE" })
  assert_rejects(m, "vfree", { START }, 1, { NIL, 1.5, "x", {} })
  assert_rejects(m, "kread", { START, 1 }, 1, { NIL, 1.5, {} })
  assert_rejects(m, "kread", { START, 1 }, 2, { NIL, -1, 1.5, {} })
  assert_rejects(m, "kwrite", { START, "x" }, 2, { NIL, 1, {} })
  assert_rejects(m, "page_address", { 0 }, 1, { NIL, -1, 1 << 40, 1.5 })
  assert_rejects(m, "vmap", { { 1 } }, 1, { NIL, 1, {}, { -1 }, { 1.5 }, { "x" } })
  lu.assertEquals(#m:vmallocinfo(), 0)    -- nothing changed
  lu.assertTrue(m:check())
end

function TestVmalloc:test_bad_vfree_raises_linux_warning()
  local m <close> = memlab.new{ ram = "64M" }
  local a = m:vmalloc("8K")
  assert_raises({ "vfree", "Trying to vfree() nonexistent vm area (ffffc90000010000)" }, m.vfree, m, START + 0x10000)
  assert_raises({ "vfree", "Trying to vfree() bad address (ffffc90000000010)" }, m.vfree, m, a + 16)
  assert_raises({ "vunmap", "Trying to vunmap() nonexistent vm area" }, m.vunmap, m, DIRECT)
  lu.assertEquals(m:vmallocinfo()[1].kind, "busy")     -- nothing changed
  lu.assertTrue(m:vfree(a + PAGE))                      -- any page of the area frees it
  lu.assertTrue(m:check())
end

-- ===================================================================
-- vmap and kernel addresses
-- ===================================================================

TestKernelAddresses = {}

function TestKernelAddresses:test_kread_kwrite_vmalloc_and_direct_map()
  local m <close> = memlab.new{ ram = "64M" }
  local a = m:vmalloc("8K")
  lu.assertTrue(m:kwrite(a + PAGE - 2, "span"))
  lu.assertEquals(m:kread(a + PAGE - 2, 4), "span")
  local pfn = m:vmalloc_to_pfn(a + PAGE)
  lu.assertEquals(m:virt_to_pfn(a + PAGE + 1), pfn)
  local k = m:page_address(pfn)
  lu.assertEquals(k, DIRECT + pfn * PAGE)
  lu.assertEquals(m:kread(k, 2), "an")
  lu.assertEquals(m:virt_to_pfn(k + 100), pfn)
  lu.assertEquals(m:read_phys(pfn * PAGE, 2), "an")
  lu.assertTrue(m:kwrite(k, "AN"))
  lu.assertEquals(m:kread(a + PAGE - 2, 4), "spAN")
  assert_errno("EFAULT", 14, m:kread(a + 2 * PAGE, 1))        -- the guard page
  assert_errno("EFAULT", 14, m:kwrite(a + 2 * PAGE - 1, "xy"))
  lu.assertEquals(m:kread(a + 2 * PAGE - 1, 1), "\0")          -- nothing written
  assert_errno("EFAULT", 14, m:kread(0x400000, 1))             -- a user address
  assert_errno("EFAULT", 14, m:kread(DIRECT + 64 * 1024 * 1024, 1))  -- past RAM
  assert_errno("EFAULT", 14, m:virt_to_pfn(START + 0x100000))
  m:vfree(a)
  assert_errno("EFAULT", 14, m:kread(a, 1))
  assert_errno("EFAULT", 14, m:vmalloc_to_pfn(a))
  lu.assertEquals(m:kread(a, 0), "")
end

function TestKernelAddresses:test_vmap()
  local m <close> = memlab.new{ ram = "64M" }
  local p1, p2 = m:alloc_pages(0), m:alloc_pages(0)
  m:write_phys(p2 * PAGE, "second")
  local a = m:vmap({ p1, p2 }, "vmap_test+0x1/0x2")
  lu.assertEquals(a, START)
  lu.assertEquals(m:kread(a + PAGE, 6), "second")
  lu.assertEquals(m:proc("vmallocinfo"), "0xffffc90000000000-0xffffc90000003000   12288 vmap_test+0x1/0x2 vmap\n")
  lu.assertEquals(meminfo(m, "VmallocUsed"), 0)
  lu.assertTrue(m:vunmap(a))
  lu.assertEquals(m:kread(DIRECT + p2 * PAGE, 6), "second")   -- the frames stay
  assert_raises({ "vmap", "pfn 0x10000000000 is not a valid page" }, m.vmap, m, { 1 << 40 })
  lu.assertTrue(m:check())
end

function TestKernelAddresses:test_vm_map_ram()
  local m <close> = memlab.new{ ram = "64M" }
  local p1 = m:alloc_pages(0)
  m:write_phys(p1 * PAGE, "ram")
  local a = m:vm_map_ram({ p1 })
  lu.assertEquals(a, START)
  lu.assertEquals(m:kread(a, 3), "ram")
  lu.assertEquals(m:vm_map_ram({ p1, p1 }), START + PAGE)    -- the same 1M vmap block
  lu.assertEquals(m:proc("vmallocinfo"), "0xffffc90000000000-0xffffc90000100000 1048576 vm_map_ram\n")
  lu.assertEquals(m:vmallocinfo()[1].kind, "vm_map_ram")
  lu.assertTrue(m:vm_unmap_ram(a, 1))
  assert_errno("EFAULT", 14, m:kread(a, 1))
  assert_raises({ "vm_unmap_ram", "no vmap block holds" }, m.vm_unmap_ram, m, START + 0x200000, 1)
  assert_rejects(m, "vm_unmap_ram", { START, 1 }, 2, { NIL, 0, -1, 1.5 })
  assert_rejects(m, "vm_map_ram", { { 1 } }, 1, { NIL, {}, { -1 } })
  lu.assertTrue(m:check())
end

function TestKernelAddresses:test_other_layouts()
  for _, c in ipairs{
    { arch = "x86_64", va_bits = 57, start = 0xffa0000000000000, direct = 0xff11000000000000 },
    { arch = "arm64", va_bits = 48, start = 0xffff800080000000, direct = 0xffff000000000000 },
    { arch = "arm64", va_bits = 39, start = 0xffffffc080000000, direct = 0xffffff8000000000 },
  } do
    local m <close> = memlab.new{ arch = c.arch, va_bits = c.va_bits, ram = "64M" }
    local s = m:vmalloc_stats()
    lu.assertEquals(s.vmalloc_start, c.start)
    lu.assertEquals(s.page_offset, c.direct)
    lu.assertEquals(meminfo(m, "VmallocTotal"), (s.vmalloc_end - s.vmalloc_start) >> 10)
    local a = m:vmalloc(PAGE)
    lu.assertEquals(a, c.start)
    m:kwrite(a, "arch")
    lu.assertEquals(m:kread(m:page_address(m:vmalloc_to_pfn(a)), 4), "arch")
    lu.assertTrue(m:check())
  end
end

-- ===================================================================
-- the checker and the page tables
-- ===================================================================

TestVmallocCheck = {}

function TestVmallocCheck:test_kernel_page_tables_in_pagetables()
  local m <close> = memlab.new{ ram = "64M" }
  local before = meminfo(m, "PageTables")
  local a = m:vmalloc(PAGE)
  lu.assertEquals(m:vmalloc_stats().kernel_pgtables, 3)
  lu.assertEquals(meminfo(m, "PageTables"), before + 12)
  m:vfree(a)
  lu.assertEquals(meminfo(m, "PageTables"), before + 12)   -- Linux keeps them
  lu.assertTrue(m:check())
end

function TestVmallocCheck:test_check_sees_a_page_freed_under_vmalloc()
  local m <close> = memlab.new{ ram = "64M", pcp = false }
  local a = m:vmalloc("8K")
  m:free_pages(m:vmalloc_to_pfn(a + PAGE), 0)
  assert_raises({ "check", "vmalloc", "(free)" }, m.check, m)
end

os.exit(lu.LuaUnit.run(), true)
