-- test_tasks.lua: processes and address spaces through the Lua API
-- (docs/lua-api.md, "Processes"): m:spawn, the task methods, files,
-- m:sysctl, and the PROT_*, MAP_*, MREMAP_* constants.
--
-- Run from the source root:  build/memlab run tests/lua/test_tasks.lua -o text
-- Every misuse must raise a Lua error naming the function; every outcome
-- Linux reports with an errno must return nil, "ENAME", errno; an access
-- Linux answers with SIGSEGV returns nil, "SIGSEGV", code; nothing may
-- crash the host.

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, TWO63, HUGE_STRING, NIL = H.NAN, H.INF, H.TWO63, H.HUGE_STRING, H.NIL
local try, assert_raises, names, show, value = H.try, H.assert_raises, H.names, H.show, H.value
local assert_rejects, assert_errno = H.assert_rejects, H.assert_errno

local K, M = 1024, 1024 * 1024
local PAGE = 4096

-- The seed experiment's image: headers 0x1000 + text 0x10000 + rodata 0x4000
-- + data 0x2000 + bss 0xf000 = 0x26000 bytes from 0x555555554000.
local BASE = 0x555555554000
local EXE = { text = "64K", rodata = "16K", data = "8K", bss = "60K" }
local START_BRK = 0x55555557a000

-- The VMA of p that contains addr, or nil.
local function vma_at(p, addr)
  for _, v in ipairs(p:vmas()) do
    if v.start <= addr and addr < v["end"] then return v end
  end
end

-- The lines of p:maps() whose name is name.
local function maps_lines(p, pattern)
  local out = {}
  for line in p:maps():gmatch("[^\n]+") do
    if line:find(pattern) then out[#out + 1] = line end
  end
  return out
end

local function new_machine()
  return memlab.new{ ram = "64M", seed = 7 }
end

-- ===================================================================
-- constants
-- ===================================================================

TestConstants = {}

function TestConstants:test_prot()
  lu.assertEquals(memlab.PROT_NONE, 0)
  lu.assertEquals(memlab.PROT_READ, 1)
  lu.assertEquals(memlab.PROT_WRITE, 2)
  lu.assertEquals(memlab.PROT_EXEC, 4)
  lu.assertEquals(memlab.PROT_GROWSDOWN, 0x01000000)
  lu.assertEquals(memlab.PROT_GROWSUP, 0x02000000)
end

function TestConstants:test_map()
  local want = { MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_SHARED_VALIDATE = 0x03,
                 MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100,
                 MAP_DENYWRITE = 0x800, MAP_EXECUTABLE = 0x1000, MAP_LOCKED = 0x2000,
                 MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_NONBLOCK = 0x10000,
                 MAP_STACK = 0x20000, MAP_HUGETLB = 0x40000, MAP_SYNC = 0x80000,
                 MAP_FIXED_NOREPLACE = 0x100000, MAP_DROPPABLE = 0x08,
                 MAP_HUGE_64KB = 16 << 26, MAP_HUGE_2MB = 21 << 26, MAP_HUGE_1GB = 30 << 26,
                 MAP_HUGE_16GB = 34 << 26 }
  for name, v in pairs(want) do
    lu.assertEquals(memlab[name], v, name)
    lu.assertEquals(math.type(memlab[name]), "integer", name)
  end
end

function TestConstants:test_mremap()
  lu.assertEquals(memlab.MREMAP_MAYMOVE, 1)
  lu.assertEquals(memlab.MREMAP_FIXED, 2)
  lu.assertEquals(memlab.MREMAP_DONTUNMAP, 4)
end

-- ===================================================================
-- m:spawn
-- ===================================================================

TestSpawn = {}

function TestSpawn:setUp()
  self.m = new_machine()
end

function TestSpawn:tearDown()
  self.m:close()
end

function TestSpawn:test_defaults()
  local m = self.m
  local p = m:spawn()
  lu.assertEquals(math.type(p.pid), "integer")
  lu.assertTrue(p.pid > 0)
  lu.assertEquals(p.name, "a.out")
  lu.assertIs(p.machine, m)
  lu.assertEquals(tostring(p), "memlab.task " .. p.pid .. " (a.out)")
  lu.assertIs(m:task(p.pid), p)
  lu.assertEquals(getmetatable(p).__name, "memlab.task")
  lu.assertEquals(type(p), "userdata")
  lu.assertStrContains(p:maps(), "/usr/local/bin/a.out")
  lu.assertStrContains(p:maps(), "[stack]")
  local q = m:spawn{}
  lu.assertNotEquals(q.pid, p.pid)
  lu.assertIs(m:task(q.pid), q)
  lu.assertTrue(m:check())
end

function TestSpawn:test_every_option()
  local m = self.m
  local p = m:spawn{ name = "server", path = "/opt/srv/bin/server", exe = EXE, stack = "1G",
                     rlimit_data = "1G", rlimit_as = "64G", rlimit_memlock = "64K",
                     aslr = false, root = true }
  lu.assertEquals(p.name, "server")
  lu.assertEquals(tostring(p), "memlab.task " .. p.pid .. " (server)")
  local text = p:maps()
  lu.assertStrContains(text, "/opt/srv/bin/server")
  lu.assertNotStrContains(text, "/usr/local/bin")
  local mm = p:mm()
  -- arch/x86/mm/mmap.c: mmap_base = TASK_SIZE - (RLIMIT_STACK + stack_guard_gap)
  lu.assertEquals(mm.task_size, 0x7ffffffff000)
  lu.assertEquals(mm.mmap_base, 0x7ffffffff000 - (1 << 30) - (1 << 20))
  lu.assertEquals(mm.start_brk, START_BRK)
  -- root may map below mmap_min_addr
  local floor = m:sysctl().mmap_min_addr
  lu.assertEquals(p:mmap(floor - PAGE, PAGE, "rw", "private|anonymous|fixed"), floor - PAGE)
  -- RLIMIT_DATA: brk beyond 1G of data fails
  assert_errno("ENOMEM", 12, p:sbrk("1G"))
  lu.assertTrue(m:check())
end

function TestSpawn:test_name_is_comm()
  local p = self.m:spawn{ name = "a-very-long-program-name" }
  lu.assertEquals(p.name, "a-very-long-pro")       -- TASK_COMM_LEN - 1 bytes
  lu.assertStrContains(p:maps(), "/usr/local/bin/a-very-long-program-name")
end

function TestSpawn:test_image_layout_without_aslr()
  local p = self.m:spawn{ exe = EXE, aslr = false }
  local v = p:vmas()
  local want = {
    { BASE, BASE + 0x1000, "r--p" },
    { BASE + 0x1000, BASE + 0x11000, "r-xp" },
    { BASE + 0x11000, BASE + 0x15000, "r--p" },
    { BASE + 0x15000, BASE + 0x17000, "rw-p" },
  }
  for i, w in ipairs(want) do
    lu.assertEquals({ v[i].start, v[i]["end"], v[i].perms, v[i].name },
                    { w[1], w[2], w[3], "/usr/local/bin/a.out" }, "image VMA " .. i)
    lu.assertTrue(v[i].inode > 0)
    lu.assertEquals(v[i].offset, w[1] - BASE)
  end
  -- bss beyond the data page: anonymous, up to the break
  local bss = vma_at(p, BASE + 0x17000)
  lu.assertEquals(bss.perms, "rw-p")
  lu.assertEquals(bss.inode, 0)
  lu.assertEquals(bss["end"], START_BRK)
  -- the stack at the top, without randomization
  local stack = maps_lines(p, "%[stack%]$")
  lu.assertEquals(#stack, 1)
  lu.assertStrContains(stack[1], "-7ffffffff000 rw-p 00000000 00:00 0")
  lu.assertEquals(p:mm().mmap_base, 0x7ffff7fff000)
end

function TestSpawn:test_aslr_forms()
  local m = self.m
  for _, v in ipairs({ false, true, 0, 1, 2, 2.0 }) do
    local p = m:spawn{ aslr = v }
    lu.assertTrue(p.pid > 0, show(v))
  end
  local fixed = m:spawn{ aslr = 0 }:mm()
  lu.assertEquals(fixed.start_brk, m:spawn{ aslr = false }:mm().start_brk)
  -- full randomization moves the image, the break and mmap_base
  local r = m:spawn{ aslr = true }:mm()
  lu.assertNotEquals(r.start_code, fixed.start_code)
  lu.assertNotEquals(r.mmap_base, fixed.mmap_base)
  lu.assertTrue(m:check())
end

function TestSpawn:test_aslr_is_deterministic_by_seed()
  local function layout(seed)
    local m = memlab.new{ ram = "64M", seed = seed }
    local p = m:spawn{ aslr = 2 }
    local a = p:mmap(nil, "64K", "rw", "private|anonymous")
    local text = p:maps() .. a
    m:close()
    return text
  end
  lu.assertEquals(layout(3), layout(3))
  lu.assertNotEquals(layout(3), layout(4))
end

function TestSpawn:test_unknown_options_are_named()
  local m = self.m
  assert_raises({ "spawn", "unknown option 'nmae'" }, m.spawn, m, { nmae = "x" })
  assert_raises({ "spawn", "unknown option 'exe.txt'" }, m.spawn, m, { exe = { txt = "4K" } })
  assert_raises({ "spawn", "option names must be strings" }, m.spawn, m, { "a.out" })
  assert_raises({ "spawn", "option names must be strings" }, m.spawn, m, { exe = { 4096 } })
end

function TestSpawn:test_bad_options()
  local m = self.m
  local bad = {
    { name = 5 }, { name = "" }, { name = "a\0b" }, { name = true }, { path = {} },
    { path = "" }, { path = "/bin/a\0" }, { exe = 5 }, { exe = "64K" }, { exe = { text = -1 } },
    { exe = { text = "x" } }, { exe = { bss = NAN } }, { exe = { data = 0.5 } },
    { stack = 0 }, { stack = "0" }, { stack = -1 }, { stack = "8X" }, { stack = -INF },
    { rlimit_data = NAN }, { rlimit_as = true }, { rlimit_memlock = {} },
    { aslr = 3 }, { aslr = -1 }, { aslr = "yes" }, { aslr = 0.5 }, { aslr = NAN },
    { root = 1 }, { root = "yes" }, { stack = HUGE_STRING }, { name = print },
  }
  for _, opts in ipairs(bad) do
    local ok, err = try(m.spawn, m, opts)
    lu.assertFalse(ok, "spawn" .. show(opts) .. " should raise")
    lu.assertTrue(names(err, "spawn"), err)
  end
  for _, arg in ipairs({ 5, "a.out", true, print }) do
    assert_raises({ "bad argument #1 to 'spawn'", "table of options expected" },
                  function() return m:spawn(arg) end)
  end
  -- exe segments may be 0 (no rodata, no data)
  lu.assertTrue(m:spawn{ exe = { text = "4K", rodata = 0, data = "0", bss = 0 } }.pid > 0)
  lu.assertTrue(m:check())
end

function TestSpawn:test_huge_names_do_not_crash()
  local m = self.m
  local ok, p, err = pcall(m.spawn, m, { name = HUGE_STRING })
  lu.assertTrue(ok, tostring(p))
  if p then lu.assertEquals(#p.name, 15) else lu.assertIsString(err) end
  ok, p, err = pcall(m.spawn, m, { path = "/" .. HUGE_STRING })
  lu.assertTrue(ok, tostring(p))
  if not p then lu.assertIsString(err) end
  lu.assertTrue(m:check())
end

-- ===================================================================
-- brk and sbrk: the seed experiment
-- ===================================================================

TestBrk = {}

function TestBrk:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ name = "a.out", exe = EXE, aslr = false }
end

function TestBrk:tearDown()
  self.m:close()
end

function TestBrk:test_seed_experiment()
  local p = self.p
  lu.assertEquals(p:sbrk(0), START_BRK)
  lu.assertEquals(p:sbrk(1 * M), START_BRK)              -- the old break
  lu.assertEquals(p:sbrk(0), 0x55555567a000)
  local heap = maps_lines(p, "%[heap%]$")
  lu.assertEquals(#heap, 1)
  local first, last = heap[1]:match("^(%x+)%-(%x+) rw%-p 00000000 00:00 0 +%[heap%]$")
  lu.assertNotNil(first, heap[1])
  lu.assertEquals(last, "55555567a000")
  lu.assertTrue(tonumber(first, 16) <= START_BRK)
  local mm = p:mm()
  lu.assertEquals(mm.start_brk, START_BRK)
  lu.assertEquals(mm.brk, 0x55555567a000)
  -- shrinking back
  lu.assertEquals(p:sbrk(-1 * M), 0x55555567a000)
  lu.assertEquals(p:sbrk(0), START_BRK)
  for _, line in ipairs(maps_lines(p, "%[heap%]$")) do
    -- only a VMA that touches start_brk may still be shown as [heap]
    lu.assertEquals(line:match("^%x+%-(%x+)"), "55555557a000", line)
  end
  lu.assertNil(vma_at(p, START_BRK))
  lu.assertTrue(self.m:check())
end

function TestBrk:test_increment_forms()
  local p = self.p
  lu.assertEquals(p:sbrk("64K"), START_BRK)
  lu.assertEquals(p:sbrk("-64K"), START_BRK + 64 * K)
  lu.assertEquals(p:sbrk(4096.0), START_BRK)
  lu.assertEquals(p:sbrk("-4K"), START_BRK + 4096)
  lu.assertEquals(p:sbrk("0"), START_BRK)
  -- an unaligned break: brk rounds the mapping, not the value
  lu.assertEquals(p:sbrk(100), START_BRK)
  lu.assertEquals(p:sbrk(0), START_BRK + 100)
  lu.assertEquals(vma_at(p, START_BRK)["end"], START_BRK + PAGE)
end

function TestBrk:test_sbrk_enomem()
  local p = self.p
  -- below start_brk: brk(2) refuses and returns the old break, which glibc's
  -- __brk takes for success when shrinking, so sbrk returns the old break
  lu.assertEquals(p:sbrk(-1), START_BRK)
  lu.assertEquals(p:mm().brk, START_BRK)
  assert_errno("ENOMEM", 12, p:sbrk(1 << 62))
  assert_errno("ENOMEM", 12, p:sbrk(math.maxinteger))
  assert_errno("ENOMEM", 12, p:sbrk(math.mininteger))
  lu.assertEquals(p:sbrk(0), START_BRK)
  local q = self.m:spawn{ exe = EXE, aslr = false, rlimit_data = "1M" }
  assert_errno("ENOMEM", 12, q:sbrk("2M"))
  lu.assertEquals(q:sbrk(0), START_BRK)
end

function TestBrk:test_brk()
  local p = self.p
  lu.assertEquals(p:brk(0), START_BRK)                    -- brk(0) reads the break
  lu.assertEquals(p:brk(START_BRK + 8 * PAGE), START_BRK + 8 * PAGE)
  -- glibc's sbrk caches the break (__curbrk): its first call reads it with brk(0),
  -- later raw brk(2) calls do not update the cache
  lu.assertEquals(p:sbrk(0), START_BRK + 8 * PAGE)
  lu.assertEquals(p:brk(START_BRK + 9 * PAGE), START_BRK + 9 * PAGE)
  lu.assertEquals(p:sbrk(0), START_BRK + 8 * PAGE)
  lu.assertEquals(p:brk(START_BRK + 8 * PAGE), START_BRK + 8 * PAGE)
  lu.assertEquals(p:brk(START_BRK - PAGE), START_BRK + 8 * PAGE)   -- failure: the old break
  lu.assertEquals(p:brk(-4096), START_BRK + 8 * PAGE)
  lu.assertEquals(p:brk(START_BRK), START_BRK)
end

-- ===================================================================
-- mmap, munmap, mprotect, mremap
-- ===================================================================

TestMmap = {}

function TestMmap:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestMmap:tearDown()
  self.m:close()
end

function TestMmap:test_anonymous_round_trip()
  local p = self.p
  local before = #p:vmas()
  local a = p:mmap(nil, "64K", "rw-", "private|anonymous")
  lu.assertEquals(math.type(a), "integer")
  lu.assertEquals(a % PAGE, 0)
  lu.assertTrue(a < p:mm().mmap_base)
  local v = vma_at(p, a)
  lu.assertEquals({ v.start, v["end"], v.perms, v.name, v.offset, v.inode, v.dev, v.anon_vma },
                  { a, a + 64 * K, "rw-p", "", 0, 0, "00:00", false })
  lu.assertEquals(#p:vmas(), before + 1)
  lu.assertEquals(p:mm().map_count, before + 1)
  local line = string.format("%x-%x rw-p 00000000 00:00 0", a, a + 64 * K)
  lu.assertStrContains(p:maps(), line)
  lu.assertTrue(p:munmap(a, "64K"))
  lu.assertNil(vma_at(p, a))
  lu.assertEquals(#p:vmas(), before)
  -- a hint of 0 is no hint, as nil
  local b = p:mmap(0, 64 * K, memlab.PROT_READ, memlab.MAP_PRIVATE | memlab.MAP_ANONYMOUS)
  lu.assertEquals(b, a)
  lu.assertTrue(p:munmap(b, 64 * K))
  lu.assertTrue(self.m:check())
end

function TestMmap:test_fixed_and_noreplace()
  local p = self.p
  local a = p:mmap(nil, "1M", "rw", "private|anonymous")
  lu.assertEquals(p:mmap(a + PAGE, PAGE, "r", "private|anonymous|fixed"), a + PAGE)
  lu.assertEquals(vma_at(p, a + PAGE).perms, "r--p")
  assert_errno("EEXIST", 17, p:mmap(a, PAGE, "rw", "private|anonymous|fixed_noreplace"))
  assert_errno("EEXIST", 17, p:mmap(a + 8 * PAGE, 2 * PAGE, "rw", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE"))
  -- free space: fixed_noreplace maps there
  lu.assertTrue(p:munmap(a, "1M"))
  lu.assertEquals(p:mmap(a, PAGE, "rw", "private|anonymous|fixed_noreplace"), a)
  -- below vm.mmap_min_addr without root: EPERM
  local floor = self.m:sysctl().mmap_min_addr
  assert_errno("EPERM", 1, p:mmap(floor - PAGE, PAGE, "rw", "private|anonymous|fixed"))
  -- a hint below the LSM floor (65536 on Debian) is raised to it (round_hint_to_min)
  lu.assertEquals(p:mmap(0x1000, PAGE, "rw", "private|anonymous"), 0x10000)
end

function TestMmap:test_einval()
  local p = self.p
  local a = p:mmap(nil, "64K", "rw", "private|anonymous")
  assert_errno("EINVAL", 22, p:mmap(nil, 0, "rw", "private|anonymous"))          -- len 0
  assert_errno("EINVAL", 22, p:mmap(a + 1, PAGE, "rw", "private|anonymous|fixed"))
  assert_errno("EINVAL", 22, p:mmap(nil, PAGE, "rw", "anonymous"))                -- no type
  assert_errno("EBADF", 9, p:mmap(nil, PAGE, "rw", ""))                         -- a file mapping without a file
  assert_errno("EINVAL", 22, p:munmap(a + 1, PAGE))
  assert_errno("EINVAL", 22, p:munmap(a, 0))
  assert_errno("EINVAL", 22, p:mprotect(a + 1, PAGE, "r"))
  assert_errno("EINVAL", 22, p:mremap(a + 1, PAGE, 2 * PAGE, "maymove"))
  assert_errno("EINVAL", 22, p:mremap(a, PAGE, 2 * PAGE, "fixed"))               -- fixed without maymove
  assert_errno("EINVAL", 22, p:mremap(a, PAGE, 0, "maymove"))                     -- new_len 0
  assert_errno("EINVAL", 22, p:mremap(a, PAGE, 2 * PAGE, 8))                      -- unknown bit
  assert_errno("EINVAL", 22, p:mprotect(a, PAGE, 0x10))                          -- unknown prot bit
  lu.assertTrue(p:mprotect(a, 0, "r"))                                            -- len 0: nothing
  lu.assertTrue(self.m:check())
end

function TestMmap:test_enomem_and_huge_values()
  local p = self.p
  assert_errno("ENOMEM", 12, p:mmap(nil, -4096, "rw", "private|anonymous"))       -- 0xfffffffffffff000
  assert_errno("ENOMEM", 12, p:mmap(nil, -1, "rw", "private|anonymous"))
  assert_errno("ENOMEM", 12, p:mmap(nil, "8P", "rw", "private|anonymous"))
  local a = p:mmap(nil, "64K", "rw", "private|anonymous")
  lu.assertTrue(p:munmap(a, "64K"))
  assert_errno("ENOMEM", 12, p:mprotect(a, PAGE, "r"))                           -- nothing mapped
  assert_errno("EINVAL", 22, p:munmap(-4096, PAGE))                              -- above TASK_SIZE
  assert_errno("EINVAL", 22, p:munmap(a, -4096))
  local ok = p:mmap(-4096 - 0xfff, PAGE, "rw", "private|anonymous|fixed")
  lu.assertNil(ok)
  -- MAP_FIXED beyond TASK_SIZE: __get_unmapped_area says ENOMEM
  assert_errno("ENOMEM", 12, p:mmap(-8192, 8192, "rw", "private|anonymous|fixed"))
  assert_errno("ENOMEM", 12, p:mmap(-4096, PAGE, "rw", "private|anonymous|fixed"))
  assert_errno("ENOMEM", 12, p:mmap(1 << 63, PAGE, "rw", "private|anonymous|fixed"))
  lu.assertTrue(self.m:check())
end

function TestMmap:test_mprotect_splits_and_merges()
  local p = self.p
  local a = p:mmap(nil, 3 * PAGE, "rw", "private|anonymous")
  local n = #p:vmas()
  lu.assertTrue(p:mprotect(a + PAGE, PAGE, "r"))
  lu.assertEquals(#p:vmas(), n + 2)
  lu.assertEquals(vma_at(p, a).perms, "rw-p")
  lu.assertEquals(vma_at(p, a + PAGE).perms, "r--p")
  lu.assertEquals(vma_at(p, a + 2 * PAGE).perms, "rw-p")
  lu.assertTrue(p:mprotect(a + PAGE, "4K", memlab.PROT_READ | memlab.PROT_WRITE))
  lu.assertEquals(#p:vmas(), n)
  lu.assertEquals(vma_at(p, a)["end"], a + 3 * PAGE)
  lu.assertTrue(p:mprotect(a, 3 * PAGE, "---"))
  lu.assertEquals(vma_at(p, a).perms, "---p")
  lu.assertTrue(self.m:check())
end

-- A fork child's written VMA (its anon_vma chain cloned) merges with no
-- range without an anon_vma, where its parent's would (mm/vma.c
-- is_mergeable_anon_vma, vma_is_fork_child): the cases of Linux's own
-- tools/testing/selftests/mm/merge.c, whose numbers this host gives too
-- (and diff_vma checks at random).  Each runs in a 30-page carve-out; the
-- "forked" variants go on in the child right after the first write.
local function carveout(p)
  return p:mmap(nil, 30 * PAGE, "---", "private|anonymous")
end

-- The pages of the VMA at addr, from addr (it must start there).
local function pages_at(p, addr)
  local v = vma_at(p, addr)
  lu.assertEquals(v.start, addr)
  return (v["end"] - v.start) // PAGE
end

local function fixed(p, addr, pages, prot)
  lu.assertEquals(p:mmap(addr, pages * PAGE, prot or "rw", "private|anonymous|fixed"), addr)
end

local function move(p, from, to, pages, flags)
  lu.assertEquals(p:mremap(from, pages * PAGE, pages * PAGE, flags or "maymove|fixed", to), to)
end

function TestMmap:test_fork_child_does_not_merge()
  local p = self.p
  -- forked_target_vma: a new mapping beside the child's written VMA
  local c = carveout(p)
  fixed(p, c + PAGE, 5)
  lu.assertTrue(p:write(c + PAGE, "x"))
  local child = p:fork()
  for _, t in ipairs{ p, child } do fixed(t, c + 6 * PAGE, 5) end
  lu.assertEquals(pages_at(p, c + PAGE), 10)
  lu.assertEquals(pages_at(child, c + PAGE), 5)
  -- forked_source_vma: the child's written VMA made like its neighbour
  fixed(child, c + 6 * PAGE, 5, "rwx")
  lu.assertTrue(child:mprotect(c + PAGE, 5 * PAGE, "rwx"))
  lu.assertEquals(pages_at(child, c + 6 * PAGE), 5)
  lu.assertTrue(self.m:check())
end

-- mremap_faulted_to_unfaulted_{prev,next,prev_unfaulted_next,prev_faulted_next}:
-- a written VMA moved (MREMAP_DONTUNMAP) beside unwritten ones merges with
-- them, unless it is a fork child's ("mm/vma: enforce VMA fork limit on
-- unfaulted,faulted mremap merge too", in 6.18.y).
function TestMmap:test_mremap_of_fork_child_does_not_merge()
  local dontunmap = "maymove|fixed|dontunmap"
  for _, forked in ipairs{ false, true } do
    -- In a new carve-out of t, a written VMA of `pages` at c + at whose
    -- first three pages are then moved out of the way (by the child, when
    -- forked): the task that goes on, and the carve-out.
    local function park(t, at, pages)
      local c = carveout(t)
      fixed(t, c + at, pages)
      lu.assertTrue(t:write(c + at, "x"))
      if forked then t = t:fork() end
      move(t, c + at, c + 20 * PAGE, 3)
      return t, c
    end
    -- prev: B unwritten, A written moved back after it
    local t, c = park(self.m:spawn{ aslr = false }, 4 * PAGE, 3)
    fixed(t, c + PAGE, 3)
    move(t, c + 20 * PAGE, c + 4 * PAGE, 3, dontunmap)
    lu.assertEquals(pages_at(t, c + PAGE), forked and 3 or 6)
    -- next: A written moved back before B unwritten
    t, c = park(t, PAGE, 3)
    fixed(t, c + 4 * PAGE, 3)
    move(t, c + 20 * PAGE, c + PAGE, 3, dontunmap)
    lu.assertEquals(pages_at(t, c + PAGE), forked and 3 or 6)
    -- prev_unfaulted_next: B written moved back between A and C unwritten
    t, c = park(t, 4 * PAGE, 3)
    fixed(t, c + PAGE, 3)
    fixed(t, c + 7 * PAGE, 3)
    move(t, c + 20 * PAGE, c + 4 * PAGE, 3, dontunmap)
    lu.assertEquals(pages_at(t, c + PAGE), forked and 3 or 9)
    if forked then lu.assertEquals(pages_at(t, c + 4 * PAGE), 3) end
    -- prev_faulted_next: B, split off written BC, moved back between A
    -- unwritten and C (BC's other half, the same anon_vma)
    t, c = park(t, 4 * PAGE, 6)
    fixed(t, c + PAGE, 3)
    move(t, c + 20 * PAGE, c + 4 * PAGE, 3, dontunmap)
    if forked then
      lu.assertEquals(pages_at(t, c + 4 * PAGE), 6)
    else
      lu.assertEquals(pages_at(t, c + PAGE), 9)
    end
  end
  lu.assertTrue(self.m:check())
end

function TestMmap:test_mremap()
  local p = self.p
  local a = p:mmap(nil, 4 * PAGE, "rw", "private|anonymous")
  -- shrink in place
  lu.assertEquals(p:mremap(a, 4 * PAGE, 2 * PAGE, 0), a)
  lu.assertEquals(vma_at(p, a)["end"], a + 2 * PAGE)
  -- a mapping just above blocks growth in place: without maymove ENOMEM
  lu.assertEquals(p:mmap(a + 2 * PAGE, PAGE, "r", "private|anonymous|fixed"), a + 2 * PAGE)
  assert_errno("ENOMEM", 12, p:mremap(a, 2 * PAGE, 8 * PAGE, ""))
  local b = p:mremap(a, 2 * PAGE, 8 * PAGE, "maymove")
  lu.assertEquals(math.type(b), "integer")
  lu.assertNotEquals(b, a)
  lu.assertEquals(vma_at(p, b)["end"], b + 8 * PAGE)
  lu.assertNil(vma_at(p, a))
  -- fixed: to a chosen address
  local target = p:mmap(nil, "1M", "r", "private|anonymous")
  lu.assertTrue(p:munmap(target, "1M"))
  lu.assertEquals(p:mremap(b, 8 * PAGE, 8 * PAGE, "maymove|fixed", target), target)
  lu.assertEquals(vma_at(p, target).perms, "rw-p")
  lu.assertEquals(p:mremap(target, "32K", "16K", memlab.MREMAP_MAYMOVE), target)
  lu.assertTrue(self.m:check())
end

function TestMmap:test_droppable()
  local p = self.p
  local before = p:mm().committed_pages
  local a = p:mmap(nil, 2 * PAGE, "rw", "droppable|anonymous")
  lu.assertEquals(math.type(a), "integer")
  local v = vma_at(p, a)
  lu.assertEquals(v.perms, "rw-p")
  lu.assertEquals(v.vm_flags & (1 << 40), 1 << 40)             -- VM_DROPPABLE
  lu.assertEquals(p:mm().committed_pages, before)              -- VM_NORESERVE: not charged
  lu.assertStrContains(self.m:proc(p.pid .. "/smaps"), "VmFlags: rd wr mr mw me nr wf dd dp \n")
  assert_errno("EINVAL", 22, p:mmap(nil, PAGE, "rw", "MAP_DROPPABLE|MAP_ANONYMOUS|MAP_LOCKED"))
  assert_errno("EINVAL", 22, p:mmap(nil, PAGE, "rw", "droppable|anonymous|growsdown"))
  lu.assertTrue(self.m:check())
end

function TestMmap:test_hugetlb()
  local p = self.p
  local H = 2 * 1024 * K
  assert_errno("ENOMEM", 12, p:mmap(nil, H, "rw", "private|anonymous|hugetlb"))   -- no huge page reserved
  local a = p:mmap(nil, PAGE, "rw", "private|anonymous|hugetlb|noreserve")
  lu.assertEquals(a % H, 0)
  local v = vma_at(p, a)
  lu.assertEquals({ v["end"] - v.start, v.name, v.dev }, { H, "/anon_hugepage (deleted)", "00:11" })
  lu.assertStrContains(self.m:proc(p.pid .. "/smaps"), "KernelPageSize:     2048 kB")
  assert_errno("EINVAL", 22, p:munmap(a, PAGE))                                  -- not a whole huge page
  lu.assertEquals({ p:touch(a, 1, "r") }, { nil, "SIGBUS", "BUS_ADRERR" })
  local g = p:mmap(nil, PAGE, "rw", "private|anonymous|hugetlb|noreserve|huge_1gb")
  lu.assertEquals(vma_at(p, g).dev, "00:12")
  assert_errno("EINVAL", 22, p:mmap(nil, PAGE, "rw", "private|anonymous|hugetlb|noreserve|huge_64kb"))
  lu.assertTrue(p:munmap(a, H))
  lu.assertTrue(self.m:check())
end

function TestMmap:test_files()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/f", size = "1M", writable = true }
  lu.assertEquals(getmetatable(f).__name, "memlab.file")
  lu.assertEquals(tostring(f), "memlab.file /data/f")
  lu.assertEquals(f.path, "/data/f")
  lu.assertEquals(f.size, 1 * M)
  lu.assertTrue(f.writable)
  lu.assertIs(f.machine, m)
  local a = p:mmap(nil, "1M", "rw", "shared", f, 0)
  lu.assertEquals(math.type(a), "integer")
  local v = vma_at(p, a)
  lu.assertEquals(v.name, "/data/f")
  lu.assertEquals(v.perms, "rw-s")
  lu.assertTrue(v.inode > 0)
  lu.assertStrContains(p:maps(), "/data/f")
  local b = p:mmap(nil, "64K", "r", "private", f, "64K")
  lu.assertEquals(vma_at(p, b).offset, 64 * K)
  assert_errno("EINVAL", 22, p:mmap(nil, PAGE, "r", "private", f, 100))            -- unaligned offset
  local ro = m:file{ path = "/data/ro", size = "64K" }
  lu.assertFalse(ro.writable)
  assert_errno("EACCES", 13, p:mmap(nil, PAGE, "rw", "shared", ro))
  lu.assertNotNil(p:mmap(nil, PAGE, "rw", "private", ro))                           -- COW is fine
  lu.assertEquals(m:file{ path = "/data/empty" }.size, 0)
  lu.assertTrue(m:check())
end

function TestMmap:test_file_of_another_machine()
  local other = new_machine()
  local f = other:file{ path = "/data/f", size = "64K" }
  assert_raises({ "bad argument #5 to 'mmap'", "file of another machine" },
                function() return self.p:mmap(nil, PAGE, "r", "private", f) end)
  other:close()
  lu.assertEquals(tostring(f), "memlab.file /data/f (closed)")
  assert_raises({ "mmap" }, function() return self.p:mmap(nil, PAGE, "r", "private", f) end)
end

function TestMmap:test_file_options()
  local m = self.m
  assert_raises({ "file", "unknown option 'sise'" }, m.file, m, { path = "/a", sise = 1 })
  assert_raises({ "file", "'path' (or 'name') is required" }, m.file, m, { size = 1 })
  for _, opts in ipairs({ { path = 5 }, { path = "" }, { path = "/a\0b" }, { path = "/a", size = -1 },
                          { path = "/a", size = NAN }, { path = "/a", size = "1X" },
                          { path = "/a", writable = 1 }, { [1] = "/a" } }) do
    local ok, err = try(m.file, m, opts)
    lu.assertFalse(ok, show(opts))
    lu.assertTrue(names(err, "file"), err)
  end
  for _, arg in ipairs({ NIL, 5, "/a", true }) do
    local v = arg ~= NIL and arg or nil
    assert_raises({ "bad argument #1 to 'file'" }, function() return m:file(v) end)
  end
end

function TestMmap:test_max_map_count()
  local m, p = self.m, self.p
  local n = #p:vmas()
  lu.assertEquals(m:sysctl{ max_map_count = n + 1 }.max_map_count, n + 1)
  local a = p:mmap(nil, 16 * PAGE, "rw", "private|anonymous")
  lu.assertEquals(#p:vmas(), n + 1)
  -- __split_vma refuses at map_count >= max_map_count, changing nothing
  assert_errno("ENOMEM", 12, p:mprotect(a + 4 * PAGE, PAGE, "r"))
  lu.assertEquals(#p:vmas(), n + 1)
  lu.assertTrue(p:mprotect(a, 16 * PAGE, "r"))              -- no split needed
  -- do_mmap refuses only at map_count > max_map_count
  lu.assertNotNil(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  lu.assertEquals(#p:vmas(), n + 2)
  assert_errno("ENOMEM", 12, p:mmap(nil, PAGE, "r", "private|anonymous"))
  lu.assertTrue(m:check())
end

-- ===================================================================
-- protection and flag forms
-- ===================================================================

TestForms = {}

function TestForms:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestForms:tearDown()
  self.m:close()
end

local function perms_of(p, prot)
  local a = assert(p:mmap(nil, PAGE, prot, "private|anonymous"))
  local perms = vma_at(p, a).perms
  assert(p:munmap(a, PAGE))
  return perms
end

function TestForms:test_prot_forms()
  local p = self.p
  local cases = {
    { "rw-", "rw-p" }, { "rw", "rw-p" }, { "wr", "rw-p" }, { "RW-", "rw-p" },
    { "read|write", "rw-p" }, { "PROT_READ|PROT_WRITE", "rw-p" }, { "prot_read, prot_write", "rw-p" },
    { memlab.PROT_READ | memlab.PROT_WRITE, "rw-p" }, { 3, "rw-p" }, { 3.0, "rw-p" },
    { "r-x", "r-xp" }, { "rx", "r-xp" }, { "READ|EXEC", "r-xp" }, { "rwx", "rwxp" },
    { "r", "r--p" }, { "r--", "r--p" }, { "---", "---p" }, { "", "---p" }, { "-", "---p" },
    { "none", "---p" }, { "PROT_NONE", "---p" }, { 0, "---p" }, { "x", "--xp" },
  }
  for _, c in ipairs(cases) do
    lu.assertEquals(perms_of(p, c[1]), c[2], "prot " .. show(c[1]))
  end
end

function TestForms:test_bad_prot()
  local p = self.p
  local bad = { "rwq", "rr", "rww", "read|", "|read", "read||write", "bogus", "PROT_BOGUS",
                "r w", HUGE_STRING, -1, 1 << 32, 0.5, NAN, INF, TWO63, {}, true, print, NIL }
  for _, v in ipairs(bad) do
    local ok, err = try(function() return p:mmap(nil, PAGE, v ~= NIL and v or nil, "private|anonymous") end)
    lu.assertFalse(ok, "prot " .. show(v))
    lu.assertStrContains(err, "bad argument #3 to 'mmap'")
  end
  lu.assertStrContains(select(2, try(p.mmap, p, nil, PAGE, "read|bogus", "private")),
                       "unknown protection 'bogus'")
  lu.assertStrContains(select(2, try(p.mmap, p, nil, PAGE, "rr", "private")), "twice")
end

function TestForms:test_map_flag_forms()
  local p = self.p
  for _, flags in ipairs({ "private|anonymous", "MAP_PRIVATE|MAP_ANONYMOUS", "private,anonymous",
                           " Private | Anonymous ", "map_private,MAP_anonymous", "private|anon",
                           "PRIVATE|ANONYMOUS|NORESERVE", "private|anonymous|file",
                           memlab.MAP_PRIVATE | memlab.MAP_ANONYMOUS, 0x22, 0x22 * 1.0 }) do
    local a = p:mmap(nil, PAGE, "rw", flags)
    lu.assertEquals(math.type(a), "integer", show(flags))
    lu.assertTrue(p:munmap(a, PAGE))
  end
end

function TestForms:test_bad_map_flags()
  local p = self.p
  local bad = { "private|bogus", "private||anonymous", "private|", "MAP_", "MAP_MAP_PRIVATE",
                "private anonymous", HUGE_STRING, -1, 1 << 32, 0.5, NAN, INF, {}, true, print, NIL }
  for _, v in ipairs(bad) do
    local ok, err = try(function() return p:mmap(nil, PAGE, "rw", v ~= NIL and v or nil) end)
    lu.assertFalse(ok, "flags " .. show(v))
    lu.assertStrContains(err, "bad argument #4 to 'mmap'")
  end
  lu.assertStrContains(select(2, try(p.mmap, p, nil, PAGE, "rw", "private|bogus")),
                       "unknown mmap flag 'bogus'")
end

function TestForms:test_mremap_flag_forms()
  local p = self.p
  local a = p:mmap(nil, 2 * PAGE, "rw", "private|anonymous")
  for _, flags in ipairs({ "", 0, "maymove", "MREMAP_MAYMOVE", "MayMove", "mremap_maymove",
                           memlab.MREMAP_MAYMOVE, 1 }) do
    a = p:mremap(a, 2 * PAGE, 2 * PAGE, flags)
    lu.assertEquals(math.type(a), "integer", show(flags))
  end
  for _, v in ipairs({ "maymove|bogus", "map_fixed", "fixed|", HUGE_STRING, -1, 1 << 32, 0.5, NAN,
                       {}, true, NIL }) do
    local ok, err = try(function() return p:mremap(a, 2 * PAGE, 2 * PAGE, v ~= NIL and v or nil) end)
    lu.assertFalse(ok, "mremap flags " .. show(v))
    lu.assertStrContains(err, "bad argument #4 to 'mremap'")
  end
  lu.assertStrContains(select(2, try(p.mremap, p, a, PAGE, PAGE, "maymove|bogus")),
                       "unknown mremap flag 'bogus'")
end

function TestForms:test_length_forms()
  local p = self.p
  for _, len in ipairs({ 65536, 65536.0, "64K", "64k", "64KiB", "65536" }) do
    local a = p:mmap(nil, len, "rw", "private|anonymous")
    lu.assertEquals(vma_at(p, a)["end"] - a, 64 * K, show(len))
    lu.assertTrue(p:munmap(a, len))
  end
  -- a length is rounded up to pages, as Linux does
  local a = p:mmap(nil, 1, "rw", "private|anonymous")
  lu.assertEquals(vma_at(p, a)["end"], a + PAGE)
end

-- ===================================================================
-- touch, vmas, mm, maps
-- ===================================================================

TestInspect = {}

function TestInspect:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ exe = EXE, aslr = false }
end

function TestInspect:tearDown()
  self.m:close()
end

function TestInspect:test_touch()
  local p = self.p
  local a = p:mmap(nil, 2 * PAGE, "rw", "private|anonymous")
  lu.assertFalse(vma_at(p, a).anon_vma)
  lu.assertTrue(p:touch(a, 1, "r"))
  lu.assertTrue(p:touch(a, 2 * PAGE, "w"))
  lu.assertTrue(vma_at(p, a).anon_vma)                          -- a write prepared the anon_vma
  local r = table.pack(p:touch(a, PAGE, "x"))
  lu.assertEquals({ r[1], r[2], r[3] }, { nil, "SIGSEGV", "SEGV_ACCERR" })
  lu.assertTrue(p:munmap(a, 2 * PAGE))
  r = table.pack(p:touch(a, 1, "r"))
  lu.assertEquals({ r[1], r[2], r[3] }, { nil, "SIGSEGV", "SEGV_MAPERR" })
  local ro = p:mmap(nil, PAGE, "r", "private|anonymous")
  r = table.pack(p:touch(ro, 8, "w"))
  lu.assertEquals({ r[1], r[2], r[3] }, { nil, "SIGSEGV", "SEGV_ACCERR" })
  lu.assertTrue(p:touch(BASE + 0x1000, 16, "x"))                 -- the text
  r = table.pack(p:touch(BASE + 0x1000, 16, "w"))
  lu.assertEquals(r[3], "SEGV_ACCERR")
  r = table.pack(p:touch(0, 1, "r"))
  lu.assertEquals(r[3], "SEGV_MAPERR")
  r = table.pack(p:touch(-4096, 1, "r"))
  lu.assertEquals(r[2], "SIGSEGV")
end

function TestInspect:test_vmas_table()
  local p = self.p
  local v = p:vmas()
  lu.assertTrue(#v >= 6)
  local prev_end = 0
  for i, x in ipairs(v) do
    lu.assertTrue(x.start >= prev_end, "address order at " .. i)
    lu.assertTrue(x["end"] > x.start)
    prev_end = x["end"]
    lu.assertStrMatches(x.perms, "[r-][w-][x-][ps]")
    lu.assertStrMatches(x.dev, "%x%x:%x%x")
    for _, key in ipairs({ "start", "end", "offset", "inode", "vm_flags" }) do
      lu.assertEquals(math.type(x[key]), "integer", key)
    end
    lu.assertIsString(x.name)
    lu.assertIsBoolean(x.anon_vma)
  end
  lu.assertEquals(v[#v].name, "[stack]")
  lu.assertEquals(#v, p:mm().map_count)
  -- every VMA is a line of maps, in the same order
  local lines = {}
  for line in p:maps():gmatch("[^\n]+") do
    if not line:find("%[vsyscall%]$") then lines[#lines + 1] = line end   -- the gate area is no VMA
  end
  lu.assertEquals(#lines, #v)
  for i, x in ipairs(v) do
    lu.assertStrContains(lines[i], string.format("%08x-%08x %s %08x %s %d", x.start, x["end"], x.perms,
                                                 x.offset, x.dev, x.inode))
  end
end

function TestInspect:test_vmas_encode_as_json()
  local p = self.p
  p:mmap(nil, "64K", "rw", "private|anonymous")
  local v = p:vmas()
  local text = memlab.json.encode(v)
  lu.assertIsString(text)
  local back = memlab.json.decode(text)
  lu.assertEquals(#back, #v)
  for i, x in ipairs(v) do
    local y = back[i]
    lu.assertEquals({ y.perms, y.name, y.dev, y.anon_vma }, { x.perms, x.name, x.dev, x.anon_vma })
    -- memlab.json.encode writes addresses in full: they come back exactly
    for _, key in ipairs({ "start", "end", "offset", "inode", "vm_flags" }) do
      lu.assertEquals(y[key], x[key], key)
    end
  end
  lu.assertIsString(memlab.json.encode(p:mm()))
  lu.assertIsString(memlab.json.encode(self.m:sysctl()))
end

function TestInspect:test_mm()
  local p = self.p
  local mm = p:mm()
  for _, key in ipairs({ "total_vm", "locked_vm", "pinned_vm", "data_vm", "exec_vm", "stack_vm",
                         "hiwater_vm", "hiwater_rss", "rss_anon", "rss_file", "rss_shmem",
                         "pgtables_bytes", "map_count", "start_code", "end_code", "start_data",
                         "end_data", "start_brk", "brk", "start_stack", "mmap_base", "task_size",
                         "highest_vm_end", "vmacache_hits", "vmacache_misses", "committed_pages" }) do
    lu.assertEquals(math.type(mm[key]), "integer", key)
  end
  lu.assertEquals(mm.start_brk, START_BRK)
  lu.assertEquals(mm.brk, START_BRK)
  lu.assertTrue(mm.start_code >= BASE and mm.end_code <= BASE + 0x11000)
  local before = mm.total_vm
  local a = p:mmap(nil, "1M", "rw", "private|anonymous")
  mm = p:mm()
  lu.assertEquals(mm.total_vm, before + 256)
  lu.assertTrue(mm.data_vm >= 256)
  lu.assertTrue(mm.vmacache_hits + mm.vmacache_misses > 0)
  lu.assertTrue(p:munmap(a, "1M"))
  lu.assertEquals(p:mm().total_vm, before)
end

-- find_vma: the VMA holding the address or the next one up, through the vmacache.
function TestInspect:test_find_vma()
  local p = self.p
  local a = assert(p:mmap(nil, "64K", "rw", "private|anonymous"))
  local v = assert(p:find_vma(a + 0x1234))
  lu.assertEquals({ v.start, v["end"], v.perms, v.name }, { a, a + 0x10000, "rw-p", "" })
  local vmas = p:vmas()
  for i, w in ipairs(vmas) do
    lu.assertEquals(p:find_vma(w.start), w)
    lu.assertEquals(p:find_vma(w["end"] - 1), w)
    if i > 1 and vmas[i - 1]["end"] < w.start then	-- in the gap below: the next one up
      lu.assertEquals(p:find_vma(vmas[i - 1]["end"]), w)
    end
  end
  lu.assertEquals(p:find_vma(0).start, vmas[1].start)
  lu.assertNil(p:find_vma(vmas[#vmas]["end"]))
  local mm = p:mm()
  lu.assertEquals(p:find_vma(a).start, a)
  lu.assertEquals(p:find_vma(a).start, a)
  local after = p:mm()
  lu.assertEquals(after.vmacache_hits + after.vmacache_misses, mm.vmacache_hits + mm.vmacache_misses + 2)
  lu.assertTrue(after.vmacache_hits > mm.vmacache_hits)	-- the second one hits
  H.assert_raises({ "find_vma", "addr" }, p.find_vma, p, "x")
  lu.assertTrue(p:munmap(a, "64K"))
end

function TestInspect:test_maps_is_proc()
  local p, m = self.p, self.m
  lu.assertEquals(p:maps(), m:proc(p.pid .. "/maps"))
  local line = p:maps():match("[^\n]+")
  lu.assertStrMatches(line, "555555554000%-555555555000 r%-%-p 00000000 %x%x:%x%x %d+ +/usr/local/bin/a%.out")
end

-- ===================================================================
-- m:task and m:sysctl
-- ===================================================================

TestMachine = {}

function TestMachine:setUp()
  self.m = new_machine()
end

function TestMachine:tearDown()
  self.m:close()
end

function TestMachine:test_task()
  local m = self.m
  local p = m:spawn{ name = "x" }
  lu.assertIs(m:task(p.pid), p)
  lu.assertIs(m:task(p.pid * 1.0), p)
  for _, pid in ipairs({ 0, -1, 99999, math.maxinteger, math.mininteger, 1 << 40 }) do
    lu.assertNil(m:task(pid), show(pid))
  end
  for _, v in ipairs({ NIL, "1", 0.5, NAN, INF, {}, true }) do
    assert_raises({ "'task'" }, function() return m:task(v ~= NIL and v or nil) end)
  end
  -- the machine keeps the handle: dropping it neither exits the task nor changes it
  local pid = m:spawn{ name = "kept" }.pid
  collectgarbage()
  collectgarbage()
  local q = m:task(pid)
  lu.assertNotNil(q)
  lu.assertEquals(q.name, "kept")
end

function TestMachine:test_sysctl()
  local m = self.m
  -- mmap_min_addr: the sysctl (dac_mmap_min_addr) is 4096, as on the reference host
  lu.assertEquals(m:sysctl(), { max_map_count = 65530, overcommit_memory = 0, overcommit_ratio = 50,
                                panic_on_oom = 0, oom_kill_allocating_task = 0,
                                mmap_min_addr = 4096, swappiness = 60,
                                watermark_boost_factor = 15000, page_cluster = 3 })
  lu.assertEquals(m:sysctl{}, m:sysctl())
  local t = m:sysctl{ max_map_count = 1000, overcommit_memory = 2, overcommit_ratio = 80,
                      mmap_min_addr = 4096 }
  lu.assertEquals(t, { max_map_count = 1000, overcommit_memory = 2, overcommit_ratio = 80,
                       mmap_min_addr = 4096, panic_on_oom = 0, oom_kill_allocating_task = 0,
                       swappiness = 60, watermark_boost_factor = 15000, page_cluster = 3 })
  lu.assertEquals(m:sysctl(), t)
  assert_errno("EINVAL", 22, m:sysctl{ overcommit_memory = 3 })
  assert_errno("EINVAL", 22, m:sysctl{ max_map_count = -1 })
  assert_errno("EINVAL", 22, m:sysctl{ overcommit_ratio = math.mininteger })
  assert_errno("EINVAL", 22, m:sysctl{ watermark_boost_factor = -1 })
  assert_errno("EINVAL", 22, m:sysctl{ page_cluster = 32 })	-- page_cluster_max 31
  assert_errno("EINVAL", 22, m:sysctl{ page_cluster = -1 })
  lu.assertEquals(m:sysctl(), t)                                    -- unchanged
  -- mmap_min_addr 4096: a fixed mapping at 0x1000 works without root
  local p = m:spawn{ aslr = false }
  lu.assertEquals(p:mmap(0x1000, PAGE, "r", "private|anonymous|fixed"), 0x1000)
  assert_raises({ "sysctl", "unknown option 'max_map_cnt'" }, m.sysctl, m, { max_map_cnt = 1 })
  for _, v in ipairs({ "1", 0.5, NAN, INF, {}, true }) do
    assert_raises({ "sysctl", "bad option 'max_map_count'" }, m.sysctl, m, { max_map_count = v })
  end
  assert_raises({ "bad argument #1 to 'sysctl'" }, function() return m:sysctl(5) end)
end

-- ===================================================================
-- exit and lifetime
-- ===================================================================

TestLifetime = {}

local TASK_METHODS = {
  sbrk = { 0 }, brk = { 0 }, mmap = { 0, 4096, "rw", "private|anonymous" }, munmap = { 0, 4096 },
  mprotect = { 0, 4096, "r" }, mremap = { 0, 4096, 4096, 0 }, touch = { 0, 1, "r" },
  mlock = { 0, 4096 }, munlock = { 0, 4096 }, mlockall = { "current" }, munlockall = {},
  vmas = {}, maps = {}, mm = {}, exit = {},
}

function TestLifetime:test_exit()
  local m = new_machine()
  local p = m:spawn{ name = "short" }
  local pid = p.pid
  p:mmap(nil, "1M", "rw", "private|anonymous")
  local free_before = m:vmstat().nr_free_pages
  lu.assertIsNil(p:exit())
  lu.assertEquals(tostring(p), "memlab.task (exited)")
  lu.assertNil(m:task(pid))
  lu.assertEquals(p.pid, pid)                   -- fields stay readable
  lu.assertEquals(p.name, "short")
  for name, args in pairs(TASK_METHODS) do
    local err = assert_raises({ "attempt to use an exited task" },
                              function() return p[name](p, table.unpack(args)) end)
    lu.assertTrue(names(err, name), err)
  end
  lu.assertTrue(m:vmstat().nr_free_pages >= free_before)
  lu.assertTrue(m:check())
  local q = m:spawn{}
  lu.assertNotEquals(q.pid, pid)
  m:close()
end

function TestLifetime:test_closed_machine()
  local m = new_machine()
  local p = m:spawn{}
  local f = m:file{ path = "/f", size = "4K" }
  m:close()
  lu.assertEquals(tostring(p), "memlab.task (closed)")
  lu.assertEquals(tostring(f), "memlab.file /f (closed)")
  for name, args in pairs(TASK_METHODS) do
    local err = assert_raises({ "attempt to use a task of a closed machine" },
                              function() return p[name](p, table.unpack(args)) end)
    lu.assertTrue(names(err, name), err)
  end
  for _, name in ipairs({ "spawn", "task", "file", "sysctl" }) do
    assert_raises({ name, "attempt to use a closed machine" },
                  function() return m[name](m, {}) end)
  end
end

function TestLifetime:test_handle_keeps_machine_alive()
  local p = memlab.new{ ram = "64M" }:spawn{ aslr = false }
  collectgarbage()
  collectgarbage()
  lu.assertEquals(math.type(p:sbrk(0)), "integer")
  lu.assertTrue(p.machine:check())
  local f = memlab.new{ ram = "64M" }:file{ path = "/x", size = "4K" }
  collectgarbage()
  lu.assertEquals(tostring(f), "memlab.file /x")
  -- machines with tasks and files are collected once nothing refers to them
  local weak = setmetatable({}, { __mode = "v" })
  do
    local m = memlab.new{ ram = "64M" }
    weak[1] = m
    weak[2] = m:spawn{}
    weak[3] = m:file{ path = "/y" }
    weak[2]:mmap(nil, "64K", "rw", "private|anonymous", nil)
  end
  collectgarbage()
  collectgarbage()
  lu.assertNil(weak[1])
  lu.assertNil(weak[2])
end

function TestLifetime:test_many_tasks()
  local m = new_machine()
  local tasks = {}
  for i = 1, 50 do
    tasks[i] = m:spawn{ name = "t" .. i, aslr = i % 3 }
    tasks[i]:mmap(nil, "64K", "rw", "private|anonymous")
    tasks[i]:sbrk("16K")
  end
  for i = 1, 50, 2 do tasks[i]:exit() end
  for i = 2, 50, 2 do lu.assertIs(m:task(tasks[i].pid), tasks[i]) end
  lu.assertTrue(m:check())
  m:close()
end

-- ===================================================================
-- hostile input: every misuse raises a Lua error naming the function
-- ===================================================================

TestHostile = {}

function TestHostile:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
  self.a = self.p:mmap(nil, 4 * PAGE, "rw", "private|anonymous")
end

function TestHostile:tearDown()
  self.m:close()
end

-- Wrong for an address (integers only).
local BAD_ADDRS = { NIL, {}, "1", "0x1000", true, false, NAN, INF, -INF, TWO63, -TWO63 * 2, 0.5, -0.5,
                    1e300, HUGE_STRING, print, io.stdout, coroutine.create(function() end) }
-- Wrong for a length (integers or size strings).
local BAD_LENS = { NIL, {}, "x", "1.5K", "-4K", "", true, NAN, INF, -INF, TWO63, 0.5, 1e300,
                   HUGE_STRING, print, io.stdout }

function TestHostile:test_documented_message()
  local p = self.p
  local err = select(2, try(function() return p:munmap(nil, 4096) end))
  lu.assertStrContains(err, "bad argument #1 to 'munmap' (addr: integer expected, got nil)")
  err = select(2, try(function() return p:mmap(nil, 4096, "rw", "private|bogus") end))
  lu.assertStrContains(err, "bad argument #4 to 'mmap' (unknown mmap flag 'bogus')")
end

function TestHostile:test_sbrk_brk()
  local p = self.p
  assert_rejects(p, "sbrk", { 0 }, 1, { NIL, {}, "x", "", "-", "--4K", "-0", "- 4K", "4K-", true,
                                        NAN, INF, -INF, TWO63, 0.5, HUGE_STRING, "-" .. HUGE_STRING,
                                        print })
  assert_rejects(p, "brk", { 0 }, 1, BAD_ADDRS)
end

function TestHostile:test_mmap()
  local p, a = self.p, self.a
  local args = table.pack(a, PAGE, "rw", "private|anonymous|fixed", nil, 0)
  local bad_addr = {}
  for _, v in ipairs(BAD_ADDRS) do if v ~= NIL then bad_addr[#bad_addr + 1] = v end end
  assert_rejects(p, "mmap", args, 1, bad_addr)                  -- nil is "no hint"
  assert_rejects(p, "mmap", args, 2, BAD_LENS)
  assert_rejects(p, "mmap", args, 5, { 5, "file", {}, true, self.m, p, io.stdout })
  local f = self.m:file{ path = "/h", size = "64K" }
  assert_rejects(p, "mmap", table.pack(nil, PAGE, "r", "private", f, 0), 6,
                 { {}, "x", true, NAN, INF, 0.5, TWO63, HUGE_STRING })
end

function TestHostile:test_munmap_mprotect_mremap()
  local p, a = self.p, self.a
  assert_rejects(p, "munmap", { a, PAGE }, 1, BAD_ADDRS)
  assert_rejects(p, "munmap", { a, PAGE }, 2, BAD_LENS)
  assert_rejects(p, "mprotect", { a, PAGE, "r" }, 1, BAD_ADDRS)
  assert_rejects(p, "mprotect", { a, PAGE, "r" }, 2, BAD_LENS)
  assert_rejects(p, "mremap", { a, PAGE, PAGE, 0 }, 1, BAD_ADDRS)
  assert_rejects(p, "mremap", { a, PAGE, PAGE, 0 }, 2, BAD_LENS)
  assert_rejects(p, "mremap", { a, PAGE, PAGE, 0 }, 3, BAD_LENS)
  local bad_newaddr = {}
  for _, v in ipairs(BAD_ADDRS) do if v ~= NIL then bad_newaddr[#bad_newaddr + 1] = v end end
  assert_rejects(p, "mremap", { a, PAGE, PAGE, "maymove|fixed", a }, 5, bad_newaddr)
end

function TestHostile:test_touch()
  local p, a = self.p, self.a
  assert_rejects(p, "touch", { a, 1, "r" }, 1, BAD_ADDRS)
  assert_rejects(p, "touch", { a, 1, "r" }, 2, BAD_LENS)
  assert_rejects(p, "touch", { a, 1, "r" }, 3, { NIL, "", "rw", "R", "read", "q", "\0", 1, true, {},
                                                 HUGE_STRING })
end

function TestHostile:test_foreign_self()
  local m, p = self.m, self.p
  local f = m:file{ path = "/self", size = "4K" }
  local foreign = { m, f, {}, 1, "x", true, io.stdout, setmetatable({}, getmetatable(p)) }
  for name, args in pairs(TASK_METHODS) do
    local fn = p[name]
    for _, self_ in ipairs(foreign) do
      local ok, err = try(function() return fn(self_, table.unpack(args)) end)
      lu.assertFalse(ok, name .. " on " .. show(self_))
      lu.assertStrContains(err, "bad argument #1 to '" .. name .. "' (memlab.task expected, got ")
    end
    local ok, err = try(fn)
    lu.assertFalse(ok)
    lu.assertStrContains(err, "'" .. name .. "'")
  end
  lu.assertStrContains(select(2, try(p.sbrk, m, 0)), "memlab.task expected, got memlab.machine")
  -- machine methods on a task
  for _, name in ipairs({ "spawn", "task", "file", "sysctl" }) do
    local ok, err = try(m[name], p, {})
    lu.assertFalse(ok)
    lu.assertStrContains(err, "bad argument #1 to '" .. name .. "' (memlab.machine expected, got memlab.task)")
  end
  local mt = getmetatable(p)
  assert_raises({ "__tostring" }, mt.__tostring, m)
  assert_raises({ "__index" }, mt.__index, m, "pid")
  assert_raises({ "__tostring" }, getmetatable(f).__tostring, p)
  -- unknown fields are nil, not errors
  lu.assertNil(p.bogus)
  lu.assertNil(p[1])
  lu.assertNil(f.bogus)
  lu.assertTrue(m:check())
end

function TestHostile:test_method_called_with_dot()
  local p = self.p
  local err = assert_raises({ "sbrk" }, function() return p.sbrk(0) end)
  lu.assertStrContains(err, "memlab.task expected, got number")
end

function TestHostile:test_state_survives_errors()
  local p, m = self.p, self.m
  local maps = p:maps()
  for _ = 1, 3 do
    pcall(p.mmap, p, nil, PAGE, "rw", "private|bogus")
    pcall(p.mprotect, p, self.a, NAN, "r")
    pcall(p.munmap, p, {}, PAGE)
  end
  lu.assertEquals(p:maps(), maps)
  lu.assertTrue(m:check())
end

-- ===================================================================
-- clone: threads and processes sharing an mm
-- ===================================================================

TestClone = {}

function TestClone:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ name = "app", aslr = false }
end

function TestClone:tearDown()
  self.m:close()
end

-- The value of a "Key:\tvalue" line of /proc/PID/status.
local function status(m, pid, key)
  return m:proc(pid .. "/status"):match(key .. ":\t([^\n]*)")
end

function TestClone:test_thread_shares_the_mm()
  local m, p = self.m, self.p
  local t = p:thread()
  lu.assertEquals({ p.tgid, t.tgid }, { p.pid, p.pid })
  lu.assertNotEquals(t.pid, p.pid)
  local a = assert(t:mmap(nil, 2 * PAGE, "rw-", "private|anonymous"))
  assert(p:write(a + PAGE, "shared"))
  lu.assertEquals(t:read(a + PAGE, 6), "shared")
  lu.assertEquals(t:maps(), p:maps())
  lu.assertEquals(t:mm().rss_anon, p:mm().rss_anon)
  local old = p:sbrk(PAGE)                    -- glibc's __curbrk is in the shared memory
  lu.assertEquals(t:sbrk(0), old + PAGE)
  lu.assertEquals(status(m, t.pid, "Tgid"), tostring(p.pid))
  lu.assertEquals(status(m, t.pid, "Pid"), tostring(t.pid))
  lu.assertEquals(status(m, p.pid, "Threads"), "2")
  lu.assertEquals(status(m, t.pid, "VmRSS"), status(m, p.pid, "VmRSS"))
  lu.assertTrue(m:check())
end

function TestClone:test_thread_costs_no_memory()
  local m, p = self.m, self.p
  local committed = m:proc("meminfo"):match("Committed_AS:%s+(%d+)")
  local pt = m:vmstat().nr_page_table_pages
  local stack, vmalloc = m:vmstat().nr_kernel_stack, m:vmalloc_stats().used_pages
  local t = p:thread()
  lu.assertEquals(m:proc("meminfo"):match("Committed_AS:%s+(%d+)"), committed)
  lu.assertEquals(m:vmstat().nr_page_table_pages, pt)        -- no PGD of its own
  lu.assertEquals(m:vmstat().nr_kernel_stack, stack + 16)    -- but a kernel stack, 16 KiB
  lu.assertEquals(m:vmalloc_stats().used_pages, vmalloc + 4)
  t:exit()
  lu.assertEquals(m:vmstat().nr_kernel_stack, stack)
  lu.assertEquals(m:vmalloc_stats().used_pages, vmalloc + 4) -- the stack stays, cached
  lu.assertEquals(status(m, p.pid, "Threads"), "1")
end

function TestClone:test_leader_exits_first()
  local m, p = self.m, self.p
  local a = assert(p:mmap(nil, PAGE, "rw-", "private|anonymous"))
  assert(p:write(a, "kept"))
  local t = p:thread()
  local before = m:vmstat()
  p:exit()
  lu.assertEquals(t:read(a, 4), "kept")
  lu.assertEquals(m:vmstat().nr_anon_pages, before.nr_anon_pages)
  lu.assertTrue(m:check())
  local q = t:fork()                           -- a thread forks like any task
  assert(q:write(a, "copy"))
  lu.assertEquals(t:read(a, 4), "kept")
  q:exit()
  t:exit()                                     -- the last user tears the mm down
  lu.assertEquals(m:vmstat().nr_anon_pages, 0)
  -- only the kernel's tables of the vmalloc range (the cached stacks') stay
  lu.assertEquals(m:vmstat().nr_page_table_pages, m:vmalloc_stats().kernel_pgtables)
  lu.assertTrue(m:check())
end

-- dup_task_struct(): fail-nth starts at 0 in the child.
function TestClone:test_fail_nth_is_not_inherited()
  local p = self.p
  p:fail_nth(50)
  for _, c in ipairs{ p:fork(), p:thread() } do
    lu.assertEquals(c:fail_nth(), 0)
  end
  lu.assertTrue(p:fail_nth() > 0)
end

function TestClone:test_flags()
  local m, p = self.m, self.p
  local v = p:clone{ vm = true }               -- a process of its own on the same memory
  lu.assertEquals(v.tgid, v.pid)
  lu.assertEquals(status(m, v.pid, "Threads"), "1")
  local a = assert(v:mmap(nil, PAGE, "rw-", "private|anonymous"))
  assert(v:write(a, "v"))
  lu.assertEquals(p:read(a, 1), "v")
  local c = p:clone{}                          -- no flags: fork
  assert(c:write(a, "c"))
  lu.assertEquals(p:read(a, 1), "v")
  local s = p:clone{ vm = true, sighand = true, thread = true, fs = true, files = true,
                     sysvsem = true }
  lu.assertEquals(s.tgid, p.pid)
  assert_errno("EINVAL", 22, p:clone{ vm = true, thread = true })    -- THREAD needs SIGHAND
  assert_errno("EINVAL", 22, p:clone{ sighand = true })              -- SIGHAND needs VM
  assert_errno("EINVAL", 22, p:clone{ thread = true, sighand = true })
  assert_raises({ "clone", "unknown option 'newns'" }, p.clone, p, { newns = true })
  assert_raises({ "clone", "vm", "boolean expected" }, p.clone, p, { vm = 1 })
  assert_raises({ "clone", "table of flags" }, p.clone, p, "vm")
  lu.assertEquals(#m:tasks(), 4)
  lu.assertTrue(m:check())
end

function TestClone:test_every_order_of_exits_frees_everything()
  local m = self.m
  self.p:exit()
  m:drain_pages()
  local free = m:vmstat().nr_free_pages + m:vmstat().nr_file_pages + H.kernel_kept(m)
  for order = 1, 6 do
    local p = m:spawn{ aslr = false }
    local a = assert(p:mmap(nil, 64 * K, "rw-", "private|anonymous"))
    local ts = { p, p:thread(), p:clone{ vm = true }, p:thread() }
    for i, t in ipairs(ts) do assert(t:touch(a + (i - 1) * PAGE, PAGE, "w")) end
    for i = 1, #ts do                           -- a different exit order each round
      local k = (i + order) % #ts + 1
      while not ts[k] do k = k % #ts + 1 end
      ts[k]:exit()
      ts[k] = false
      lu.assertTrue(m:check())
    end
  end
  m:lru_add_drain_all()                         -- exit leaves the new pages in the CPU's batch
  m:drain_pages()
  lu.assertEquals(m:vmstat().nr_free_pages + m:vmstat().nr_file_pages + H.kernel_kept(m), free)
end

os.exit(lu.LuaUnit.run(), true)
