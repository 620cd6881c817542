-- test_show_mem.lua: m:show_mem(), the Mem-Info block of mm/show_mem.c
-- (Linux 6.18) that sysrq-m prints and a global OOM report carries: its
-- lines in the kernel's order and formats, every number the same as
-- /proc/meminfo, /proc/vmstat and the zones (m:zones()) say.
--
-- Run from the source root:  build/memlab run tests/lua/test_show_mem.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096

local function lines_of(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- /proc/meminfo as { key = kB }.
local function meminfo(m)
  local t = {}
  for k, v in m:proc("meminfo"):gmatch("([%w_()]+):%s+(%d+)") do t[k] = tonumber(v) end
  return t
end

-- "key:N" (or "key:NkB") pairs of a line as { key = N }.
local function fields(line)
  local t = {}
  for k, v in line:gmatch("([%w_()]+):(%d+)") do t[k] = tonumber(v) end
  return t
end

-- A machine with something of everything: anonymous and file pages, dirty
-- ones, page tables, slab, swap in use, a THP, pages on the CPU lists.
local function busy_machine(opts)
  local m = memlab.new(opts or { ram = "128M", seed = 3, swap = "16M" })
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 8 << 20, "rw", "private|anonymous"))
  assert(p:touch(a, 8 << 20, "w"))
  local f = assert(m:file{ path = "/data/f", size = 1 << 20, writable = true })
  local b = assert(p:mmap(nil, 1 << 20, "rw", "shared", f, 0))
  assert(p:touch(b, 1 << 20, "w"))
  return m, p
end

function test_lines_follow_the_kernels_order()
  local m = busy_machine()
  local l = lines_of(m:show_mem())
  lu.assertEquals(l[1], "Mem-Info:")
  lu.assertStrMatches(l[2], "active_anon:%d+ inactive_anon:%d+ isolated_anon:%d+")
  lu.assertStrMatches(l[3], " active_file:%d+ inactive_file:%d+ isolated_file:%d+")
  lu.assertStrMatches(l[4], " unevictable:%d+ dirty:%d+ writeback:%d+")
  lu.assertStrMatches(l[5], " slab_reclaimable:%d+ slab_unreclaimable:%d+")
  lu.assertStrMatches(l[6], " mapped:%d+ shmem:%d+ pagetables:%d+")
  lu.assertEquals(l[7], " sec_pagetables:0 bounce:0")
  lu.assertEquals(l[8], " kernel_misc_reclaimable:0")
  lu.assertStrMatches(l[9], " free:%d+ free_pcp:%d+ free_cma:0")
  lu.assertStrMatches(l[10], "Node 0 active_anon:%d+kB inactive_anon:%d+kB active_file:%d+kB "
    .. "inactive_file:%d+kB unevictable:%d+kB isolated%(anon%):%d+kB isolated%(file%):%d+kB "
    .. "mapped:%d+kB dirty:%d+kB writeback:%d+kB shmem:%d+kB shmem_thp:%d+kB "
    .. "shmem_pmdmapped:%d+kB anon_thp:%d+kB kernel_stack:%d+kB "
    .. "pagetables:%d+kB sec_pagetables:0kB all_unreclaimable%? no Balloon:0kB")
  -- 128 MiB: DMA and DMA32 populated, each a line and its lowmem_reserve[]
  lu.assertStrMatches(l[11], "Node 0 DMA free:%d+kB boost:%d+kB min:%d+kB low:%d+kB high:%d+kB "
    .. "reserved_highatomic:%d+KB free_highatomic:%d+KB active_anon:%d+kB inactive_anon:%d+kB "
    .. "active_file:%d+kB inactive_file:%d+kB unevictable:%d+kB writepending:%d+kB "
    .. "zspages:0kB present:%d+kB managed:%d+kB mlocked:%d+kB bounce:0kB free_pcp:%d+kB "
    .. "local_pcp:%d+kB free_cma:0kB")
  lu.assertStrMatches(l[12], "lowmem_reserve%[%]: %d+ %d+ %d+ %d+ %d+")
  lu.assertStrMatches(l[13], "Node 0 DMA32 free:.*")
  lu.assertStrMatches(l[15], "Node 0 DMA: 0?[%d]+%*4kB .* %d+%*4096kB .*= %d+kB")
  lu.assertStrMatches(l[16], "Node 0 DMA32: %d+%*4kB .*= %d+kB")
  lu.assertEquals(l[17], "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 "
                  .. "hugepages_size=1048576kB")
  lu.assertEquals(l[18], "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 "
                  .. "hugepages_size=2048kB")
  lu.assertStrMatches(l[19], "%d+ total pagecache pages")
  lu.assertStrMatches(l[20], "%d+ pages in swap cache")
  lu.assertStrMatches(l[21], "Free swap  = %d+kB")
  lu.assertStrMatches(l[22], "Total swap = %d+kB")
  lu.assertStrMatches(l[23], "%d+ pages RAM")
  lu.assertEquals(l[24], "0 pages HighMem/MovableOnly")
  lu.assertStrMatches(l[25], "%d+ pages reserved")
  lu.assertEquals(#l, 25)
end

-- The summary and the node line are meminfo's and vmstat's numbers.
function test_numbers_are_meminfos()
  local m = busy_machine()
  local text = m:show_mem()
  local l, mi, vs = lines_of(text), meminfo(m), m:vmstat()
  local g = {}
  for i = 2, 9 do for k, v in pairs(fields(l[i])) do g[k] = v end end
  local kb = PAGE // 1024
  lu.assertEquals(g.active_anon * kb, mi["Active(anon)"])
  lu.assertEquals(g.inactive_anon * kb, mi["Inactive(anon)"])
  lu.assertEquals(g.active_file * kb, mi["Active(file)"])
  lu.assertEquals(g.inactive_file * kb, mi["Inactive(file)"])
  lu.assertEquals(g.unevictable * kb, mi.Unevictable)
  lu.assertEquals(g.dirty * kb, mi.Dirty)
  lu.assertEquals(g.slab_reclaimable * kb, mi.SReclaimable)
  lu.assertEquals(g.slab_unreclaimable * kb, mi.SUnreclaim)
  lu.assertEquals(g.mapped * kb, mi.Mapped)
  lu.assertEquals(g.shmem * kb, mi.Shmem)
  lu.assertEquals(g.pagetables * kb, mi.PageTables)
  lu.assertEquals(g.free * kb, mi.MemFree)
  lu.assertTrue(g.inactive_anon + g.active_anon > 0 and g.dirty > 0 and g.pagetables > 0)
  local pcp = 0
  for _, z in ipairs(m:zones()) do if z.populated then pcp = pcp + z.pcp_total end end
  lu.assertEquals(g.free_pcp, pcp)
  local n = fields(l[10])
  lu.assertEquals(n.kernel_stack, mi.KernelStack)
  lu.assertEquals(n.anon_thp, mi.AnonHugePages)
  lu.assertEquals(n.pagetables, mi.PageTables)
  lu.assertEquals(n.dirty, mi.Dirty)
  lu.assertEquals(tonumber(text:match("\n(%d+) total pagecache pages")), vs.nr_file_pages)
  lu.assertEquals(tonumber(text:match("\n(%d+) pages in swap cache")), vs.nr_swapcached)
  lu.assertEquals(tonumber(text:match("Free swap  = (%d+)kB")), mi.SwapFree)
  lu.assertEquals(tonumber(text:match("Total swap = (%d+)kB")), mi.SwapTotal)
  lu.assertEquals(mi.SwapTotal, 16380)                  -- the header takes a page
end

-- Each populated zone: its line is m:zones()'s, its free blocks buddyinfo's,
-- with the letters of the migrate types whose lists hold blocks.
function test_zones_are_the_zones()
  local m = busy_machine()
  local text = m:show_mem()
  local present, reserved = 0, 0
  local letters = { Unmovable = "U", Movable = "M", Reclaimable = "E", HighAtomic = "H",
                    Isolate = "I" }
  local order = { "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate" }
  for _, z in ipairs(m:zones()) do
    if z.populated then
      present, reserved = present + z.present, reserved + z.present - z.managed
      local line = text:match("\nNode 0 " .. z.name .. " (free:[^\n]*)")
      local f = fields(line)
      lu.assertEquals({ f.free, f.min, f.low, f.high, f.present, f.managed, f.boost },
                      { z.free * 4, z.min * 4, z.low * 4, z.high * 4, z.present * 4,
                        z.managed * 4, z.boost * 4 }, z.name)
      lu.assertEquals(f.free_pcp, z.pcp_total * 4)
      lu.assertEquals(text:match("\nNode 0 " .. z.name .. " free:[^\n]*\nlowmem_reserve%[%]:([^\n]*)"),
                      " " .. table.concat(z.protection, " "))
      local want, total = {}, 0
      for o = 0, #z.nr_free - 1 do
        local n = z.nr_free[o + 1]
        total = total + n * (1 << o)
        want[#want + 1] = string.format("%d*%dkB ", n, 4 << o)
        if n > 0 then
          local s = ""
          for _, t in ipairs(order) do
            if z.free_by_type[t][o + 1] > 0 then s = s .. letters[t] end
          end
          want[#want + 1] = "(" .. s .. ") "
        end
      end
      lu.assertEquals(text:match("\nNode 0 " .. z.name .. ": ([^\n]*)"),
                      table.concat(want) .. "= " .. (total * 4) .. "kB")
      lu.assertEquals(total, z.free)
    else
      lu.assertNil(text:find("Node 0 " .. z.name .. " free:", 1, true), z.name)
    end
  end
  lu.assertEquals(tonumber(text:match("\n(%d+) pages RAM")), present)
  lu.assertEquals(tonumber(text:match("\n(%d+) pages reserved")), reserved)
end

-- A THP counts in anon_thp; every CPU's list in free_pcp, the current
-- CPU's (0 outside a task's call) in local_pcp.
function test_thp_and_pcp()
  local m = memlab.new{ ram = "128M", seed = 1, cpus = 2 }
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "p" }
  p:run_on(1)
  local a = assert(p:mmap(nil, 4 << 20, "rw", "private|anonymous"))
  assert(p:touch(a, 4 << 20, "w"))
  local b = assert(p:mmap(nil, 64 * PAGE, "rw", "private|anonymous"))
  assert(p:touch(b, 64 * PAGE, "w"))
  assert(p:munmap(b, 64 * PAGE))                       -- back to CPU 1's lists
  local text = m:show_mem()
  local n = fields(text:match("\n(Node 0 active_anon[^\n]*)"))
  lu.assertTrue(n.anon_thp >= 2048, n.anon_thp)
  lu.assertEquals(n.anon_thp, meminfo(m).AnonHugePages)
  local zi = m:zones()[2]
  local z = fields(text:match("\n(Node 0 DMA32 free[^\n]*)"))
  lu.assertTrue(zi.pagesets[2].count > 0)
  lu.assertEquals(z.free_pcp, (zi.pagesets[1].count + zi.pagesets[2].count) * 4)
  lu.assertEquals(z.local_pcp, zi.pagesets[1].count * 4)
end

-- The hstates, from the largest down, as each architecture registers them.
function test_hugepage_sizes_per_arch()
  local cases = {
    { {}, { 1048576, 2048 } },
    { { arch = "arm64" }, { 1048576, 32768, 2048, 64 } },
    { { arch = "arm64", page_size = 16384 }, { 1048576, 32768, 2048 } },
    { { arch = "arm64", page_size = 65536 }, { 16777216, 524288, 2048 } },
  }
  for _, c in ipairs(cases) do
    local opts = { ram = "2G" }
    for k, v in pairs(c[1]) do opts[k] = v end
    local m = memlab.new(opts)
    local sizes = {}
    for s in m:show_mem():gmatch("hugepages_size=(%d+)kB") do sizes[#sizes + 1] = tonumber(s) end
    lu.assertEquals(sizes, c[2], opts.arch)
    m:close()
  end
end

-- A one-zone machine and arm64's 64K pages: K() in their page size.
function test_one_zone_and_large_pages()
  local m = memlab.new{ arch = "arm64", page_size = 65536, ram = "2G", zones = "single" }
  local text = m:show_mem()
  local l = lines_of(text)
  local z = m:zones()[1]
  lu.assertStrMatches(l[11], "Node 0 " .. z.name .. " free:" .. (z.free * 64) .. "kB .*")
  lu.assertStrMatches(text, ".*\nNode 0 " .. z.name .. ": %d+%*64kB .*")
  lu.assertEquals(fields(l[9]).free * 64, meminfo(m).MemFree)
end

-- The report is the state's, not a copy kept: it changes as memory does.
function test_follows_the_state()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local before = fields(lines_of(m:show_mem())[9]).free
  local pfn = assert(m:alloc_pages(4))
  lu.assertEquals(fields(lines_of(m:show_mem())[9]).free, before - 16)
  m:free_pages(pfn, 4)
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
