-- test_mmu.lua: the MMU through the Lua API (docs/lua-api.md): p:read,
-- p:write, p:touch, p:translate, p:pte, p:pagetable, m:rmap and the fault
-- counters of p:mm(), with exact numbers for the zero page, copy on
-- write, access errors, mprotect, munmap and exit, mremap, MAP_POPULATE,
-- file mappings (major faults, read-around, fault-around, COW, shared
-- writes, shmem), smaps and status, memlab_check catching a corrupt PTE,
-- arm64, and hostile arguments.
--
-- Run from the source root:  build/memlab run tests/lua/test_mmu.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, TWO63, HUGE_STRING, NIL = H.NAN, H.INF, H.TWO63, H.HUGE_STRING, H.NIL
local try, assert_raises, show = H.try, H.assert_raises, H.show
local assert_rejects, assert_errno = H.assert_rejects, H.assert_errno

local PAGE = 4096
local REGION = 0x7e0000000000          -- 1 GiB aligned, far from every VMA of a task
local function A(n) return REGION + n * PAGE end

local function new_machine(opts)
  opts = opts or {}
  opts.ram = opts.ram or "256M"
  opts.seed = opts.seed or 7
  return memlab.new(opts)
end

-- mmap(MAP_FIXED) of pages [s, s + n) of the region.
local function map(p, s, n, prot, flags, file, pgoff)
  local a = assert(p:mmap(A(s), n * PAGE, prot, flags .. "|fixed", file, (pgoff or 0) * PAGE))
  lu.assertEquals(a, A(s))
  return a
end

local function zero_pfn(m) return m:info().nr_frames - 1 end

local function free_pages(m)
  local n = 0
  for _, z in ipairs(m:zones()) do n = n + z.free end
  return n
end

-- The pattern of n bytes as written at address a (salt picks the pattern).
local function pattern(a, n, salt)
  local t = {}
  for i = 0, n - 1 do
    t[#t + 1] = string.char(((a + i) * 31 + salt * 7 + (a + i) // PAGE) % 251 + 1)
  end
  return table.concat(t)
end

-- A field of the smaps block of the VMA starting at start, in kB.
local function smaps_kb(p, start, label)
  local text = p.machine:proc(p.pid .. "/smaps")
  local head = string.format("%08x-", start)
  local from = text:find("\n" .. head, 1, true)
  if text:sub(1, #head) == head then from = 0 end
  assert(from, "no VMA at " .. string.format("%x", start))
  local block = text:sub(from + 1, (text:find("VmFlags:", from + 1, true)))
  return tonumber(block:match("\n" .. label .. ":%s+(%d+) kB"))
end

-- Every field of fields ({ Rss = 4, ... }, kB) in the smaps of the VMA at start.
local function assert_smaps(p, start, fields)
  for label, kb in pairs(fields) do
    lu.assertEquals(smaps_kb(p, start, label), kb, label)
  end
end

local function status_kb(p, label)
  return tonumber(p.machine:proc(p.pid .. "/status"):match(label .. ":%s+(%d+) kB"))
end

local function meminfo_kb(m, label)
  return tonumber(m:proc("meminfo"):match(label .. ":%s+(%d+) kB"))
end

-- The physical address of the PTE mapping va: the last table, the index.
local function pte_addr(p, va)
  local t = p:translate(va)
  local ps = p.machine:info().page_size
  local last = t.levels[#t.levels]
  return last.table * ps + ((va // ps) % (ps // 8)) * 8, last.entry
end

local function read_u64(m, pa) return (string.unpack("<I8", m:read_phys(pa, 8))) end
local function write_u64(m, pa, v) m:write_phys(pa, string.pack("<I8", v)) end

-- Does m:check() catch a flip of bits in the PTE of va (it raises "check: N
-- violation(s)"), and pass once the entry is restored?  The message, or false.
local function flip_caught(m, p, va, bits)
  local pa = pte_addr(p, va)
  local e = read_u64(m, pa)
  write_u64(m, pa, e ~ bits)
  local ok, msg = pcall(m.check, m)
  write_u64(m, pa, e)
  lu.assertTrue(m:check())
  return not ok and tostring(msg)
end

-- ===================================================================
-- the zero page and copy on write
-- ===================================================================

TestAnon = {}

function TestAnon:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestAnon:tearDown()
  self.m:close()
end

function TestAnon:test_read_maps_the_zero_page()
  local m, p = self.m, self.p
  map(p, 0, 16, "rw", "private|anonymous")
  lu.assertFalse(p:translate(A(3)).present)
  lu.assertNil(p:pte(A(3)))
  local mm0, v0 = p:mm(), m:vmstat()
  lu.assertEquals(p:read(A(3) + 100, 200), string.rep("\0", 200))
  local mm1, v1 = p:mm(), m:vmstat()
  lu.assertEquals(mm1.min_flt, mm0.min_flt + 1)
  lu.assertEquals(mm1.maj_flt, 0)
  lu.assertEquals(v1.pgfault, v0.pgfault + 1)
  lu.assertEquals(v1.pgmajfault, v0.pgmajfault)
  lu.assertEquals(mm1.rss_anon, 0)
  lu.assertEquals(v1.nr_anon_pages, v0.nr_anon_pages)
  local t = p:translate(A(3) + 5)
  lu.assertEquals(t.present, true)
  lu.assertEquals(t.special, true)
  lu.assertEquals(t.write, false)
  lu.assertEquals(t.dirty, false)
  lu.assertEquals(t.user, true)
  lu.assertEquals(t.accessed, true)
  lu.assertEquals(t.exec, false)
  lu.assertEquals(t.protnone, false)
  lu.assertEquals(t.huge, false)
  lu.assertEquals(t.global, false)
  lu.assertEquals(t.pfn, zero_pfn(m))
  lu.assertEquals(t.phys, zero_pfn(m) * PAGE + 5)
  lu.assertEquals(t.size, PAGE)
  lu.assertEquals(t.flags, "P US A SPECIAL NX")
  lu.assertEquals(#t.levels, 4)
  local names = {}
  for i, l in ipairs(t.levels) do
    names[i] = l.level
    lu.assertEquals(math.type(l.table), "integer")
    lu.assertEquals(math.type(l.entry), "integer")
  end
  lu.assertEquals(names, { "PGD", "PUD", "PMD", "PTE" })
  lu.assertEquals(t.levels[4].entry, (zero_pfn(m) << 12) | 0x1 | 0x4 | 0x20 | 0x200 | (1 << 63))
  local e = p:pte(A(3))
  lu.assertEquals(e.raw, t.levels[4].entry)
  lu.assertEquals(e.pfn, zero_pfn(m))
  lu.assertEquals(e.level, "PTE")
  lu.assertEquals(e.special, true)
  lu.assertEquals(e.flags, t.flags)
  -- the zero page: in no reverse map, no Rss, reserved, zero
  lu.assertEquals(m:rmap(zero_pfn(m)), {})
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), 0)
  lu.assertEquals(status_kb(p, "VmRSS"), 0)
  lu.assertEquals(m:page(zero_pfn(m)).reserved, true)
  lu.assertEquals(m:read_phys(zero_pfn(m) * PAGE, PAGE), string.rep("\0", PAGE))
  -- again: no fault
  lu.assertEquals(p:read(A(3), PAGE), string.rep("\0", PAGE))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 1)
  lu.assertTrue(m:check())
end

function TestAnon:test_write_copies_the_zero_page()
  local m, p = self.m, self.p
  map(p, 0, 4, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(1), 1, "r"))
  local mm0, v0 = p:mm(), m:vmstat()
  lu.assertTrue(p:write(A(1) + 7, "Z"))
  local mm1, v1 = p:mm(), m:vmstat()
  lu.assertEquals(mm1.min_flt, mm0.min_flt + 1)
  lu.assertEquals(mm1.rss_anon, mm0.rss_anon + 1)
  lu.assertEquals(v1.pgfault, v0.pgfault + 1)
  lu.assertEquals(v1.nr_anon_pages, v0.nr_anon_pages + 1)
  local t = p:translate(A(1))
  lu.assertNotEquals(t.pfn, zero_pfn(m))
  lu.assertEquals(t.special, false)
  lu.assertEquals(t.write, true)
  lu.assertEquals(t.dirty, true)
  lu.assertEquals(t.flags, "P RW US A D NX")
  lu.assertEquals(m:read_phys(t.pfn * PAGE, PAGE),
                  string.rep("\0", 7) .. "Z" .. string.rep("\0", PAGE - 8))
  lu.assertEquals(m:read_phys(zero_pfn(m) * PAGE, PAGE), string.rep("\0", PAGE))
  lu.assertEquals(m:rmap(t.pfn), { { pid = p.pid, addr = A(1) } })
  lu.assertEquals(m:page(t.pfn).refcount, 2)	-- the mapping's and the lru_add batch's
  m:lru_add_drain_all()
  lu.assertEquals(m:page(t.pfn).refcount, 1)
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), 4)
  lu.assertEquals(smaps_kb(p, A(0), "Anonymous"), 4)
  lu.assertEquals(smaps_kb(p, A(0), "Private_Dirty"), 4)
  lu.assertEquals(smaps_kb(p, A(0), "Referenced"), 4)
  lu.assertTrue(m:check())
end

function TestAnon:test_first_write_is_one_fault()
  local m, p = self.m, self.p
  map(p, 0, 8, "rw", "private|anonymous")
  local mm0, v0 = p:mm(), m:vmstat()
  for i = 0, 7 do lu.assertTrue(p:touch(A(i) + 4095, 1, "w")) end
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 8)
  lu.assertEquals(p:mm().rss_anon, 8)
  lu.assertEquals(m:vmstat().pgfault, v0.pgfault + 8)
  local seen = {}
  for i = 0, 7 do
    local t = p:translate(A(i))
    lu.assertTrue(t.write and t.dirty and not t.special)
    lu.assertNil(seen[t.pfn])
    seen[t.pfn] = true
  end
  lu.assertEquals(p:read(A(0), 8 * PAGE), string.rep("\0", 8 * PAGE))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 8)
end

function TestAnon:test_bytes_cross_pages()
  local m, p = self.m, self.p
  map(p, 0, 6, "rw", "private|anonymous")
  local start, n = A(0) + PAGE - 100, 3 * PAGE + 200
  local s = pattern(start, n, 1)
  lu.assertTrue(p:write(start, s))
  lu.assertEquals(p:mm().min_flt, 5)
  lu.assertEquals(p:mm().rss_anon, 5)
  lu.assertEquals(p:read(start, n), s)
  lu.assertEquals(p:read(start + 4000, 300), s:sub(4001, 4300))
  -- each byte in its frame
  for pg = 0, 4 do
    local frame = m:read_phys(p:translate(A(pg)).pfn * PAGE, PAGE)
    for _, off in ipairs({ 0, 1, PAGE - 101, PAGE - 100, PAGE - 1 }) do
      local va = A(pg) + off
      local want = "\0"
      if va >= start and va < start + n then want = s:sub(va - start + 1, va - start + 1) end
      lu.assertEquals(frame:sub(off + 1, off + 1), want,
                      string.format("page %d offset %d", pg, off))
    end
  end
  lu.assertEquals(p:read(A(0), 0), "")
  lu.assertTrue(p:write(A(0), ""))
  lu.assertTrue(m:check())
end

-- ===================================================================
-- access errors
-- ===================================================================

TestErrors = {}

function TestErrors:setUp()
  self.m = new_machine()
  local p = self.m:spawn{ aslr = false }
  self.p = p
  map(p, 0, 2, "rw", "private|anonymous")
  map(p, 2, 1, "r", "private|anonymous")
  map(p, 3, 1, "---", "private|anonymous")
  map(p, 4, 1, "rwx", "private|anonymous")
end

function TestErrors:tearDown()
  self.m:close()
end

local function assert_signal(sig, code, ...)
  local r = table.pack(...)
  lu.assertNil(r[1], "expected nil, " .. sig .. ", got " .. show(r[1]))
  lu.assertEquals(r[2], sig)
  lu.assertEquals(r[3], code)
  lu.assertEquals(r.n, 3)
end

function TestErrors:test_segv()
  local m, p = self.m, self.p
  local mm0, v0 = p:mm(), m:vmstat()
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:read(A(5), 1))
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:write(A(5), "x"))
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:touch(A(5), 1, "x"))
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:read(0, 1))
  assert_signal("SIGSEGV", "SI_KERNEL", p:read(1 << 47, 1))          -- not canonical: #GP
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:read(-4096, 8))
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:write(A(2), "x"))
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:read(A(3), 1))
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:write(A(3), "x"))
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:touch(A(3), 1, "x"))
  -- nothing reached handle_mm_fault
  lu.assertEquals(p:mm().min_flt, mm0.min_flt)
  lu.assertEquals(m:vmstat().pgfault, v0.pgfault)
  -- x86 fetches from a missing non-executable page: faulted in as a read, then NX
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:touch(A(0), 1, "x"))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 1)
  mm0, v0 = p:mm(), m:vmstat()
  lu.assertTrue(p:touch(A(4), 1, "x"))
  lu.assertTrue(p:translate(A(4)).exec)
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 1)
  lu.assertTrue(m:check())
end

function TestErrors:test_partial_access()
  local m, p = self.m, self.p
  lu.assertTrue(p:write(A(0), pattern(A(0), 2 * PAGE, 2)))
  lu.assertEquals(p:read(A(2), 3), "\0\0\0")
  -- a write running from rw into r-- writes the first page only
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:write(A(2) - 4, "ABCDEFGH"))
  lu.assertEquals(p:read(A(2) - 4, 4), "ABCD")
  lu.assertEquals(p:read(A(2), 4), "\0\0\0\0")
  -- a read into PROT_NONE fails as a whole
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:read(A(1), 3 * PAGE))
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:touch(A(4), 2 * PAGE, "r"))
  lu.assertTrue(m:check())
end

function TestErrors:test_sigbus_past_eof()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/short", size = PAGE + 100, writable = true }
  map(p, 8, 4, "rw", "private", f)
  map(p, 16, 4, "rw", "shared", f)
  local mm0, v0 = p:mm(), m:vmstat()
  assert_signal("SIGBUS", "BUS_ADRERR", p:read(A(10), 1))
  lu.assertEquals(m:vmstat().pgfault, v0.pgfault + 1)          -- reached the VMA's handler
  lu.assertEquals(p:mm().min_flt + p:mm().maj_flt, mm0.min_flt + mm0.maj_flt)
  assert_signal("SIGBUS", "BUS_ADRERR", p:write(A(11), "x"))
  assert_signal("SIGBUS", "BUS_ADRERR", p:write(A(18), "x"))
  assert_signal("SIGBUS", "BUS_ADRERR", p:touch(A(9) + PAGE - 1, 2, "r"))
  lu.assertEquals(p:read(A(9) + 100, 10), string.rep("\0", 10))  -- the partial last page
  lu.assertTrue(p:write(A(17), "tail"))
  lu.assertTrue(m:check())
end

-- ===================================================================
-- mprotect on entries
-- ===================================================================

TestMprotect = {}

function TestMprotect:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestMprotect:tearDown()
  self.m:close()
end

function TestMprotect:test_none_keeps_pages_and_rw_is_writable_at_once()
  local m, p = self.m, self.p
  map(p, 0, 5, "rw", "private|anonymous")
  local s = pattern(A(0), 4 * PAGE, 3)
  lu.assertTrue(p:write(A(0), s))
  lu.assertTrue(p:touch(A(4), 1, "r"))
  local pfns = {}
  for i = 0, 3 do pfns[i] = p:translate(A(i)).pfn end
  lu.assertEquals(assert(p:mprotect(A(0), 5 * PAGE, "---")), true)
  lu.assertEquals(p:mm().rss_anon, 4)
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), 16)
  for i = 0, 3 do
    local t = p:translate(A(i))
    lu.assertEquals(t.present, false)
    lu.assertEquals(t.protnone, true)
    lu.assertNil(t.phys)
    local e = p:pte(A(i))
    lu.assertEquals(e.pfn, pfns[i])
    lu.assertEquals(e.protnone, true)
    lu.assertEquals(e.present, false)
    lu.assertEquals(m:rmap(pfns[i]), { { pid = p.pid, addr = A(i) } })
  end
  lu.assertEquals(p:pte(A(4)).special, true)
  local mm0 = p:mm()
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:read(A(0), 1))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt)
  lu.assertTrue(m:check())
  lu.assertTrue(p:mprotect(A(0), 5 * PAGE, "rw"))
  for i = 0, 3 do
    local t = p:translate(A(i))
    lu.assertEquals(t.pfn, pfns[i])
    lu.assertEquals(t.write, true)
  end
  lu.assertEquals(p:translate(A(4)).write, false)
  lu.assertEquals(p:read(A(0), 4 * PAGE), s)
  lu.assertTrue(p:write(A(0), pattern(A(0), 4 * PAGE, 4)))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt)                 -- no fault at all
  lu.assertTrue(p:write(A(4), "z"))                             -- COW of the zero page
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 1)
  lu.assertTrue(m:check())
end

function TestMprotect:test_read_only_entries()
  local m, p = self.m, self.p
  map(p, 0, 3, "rw", "private|anonymous")
  lu.assertTrue(p:write(A(0), pattern(A(0), 3 * PAGE, 5)))
  lu.assertTrue(p:mprotect(A(1), PAGE, "r"))
  lu.assertEquals(p:translate(A(1)).write, false)
  lu.assertEquals(p:translate(A(1)).dirty, true)
  lu.assertEquals(p:translate(A(1)).flags, "P US A D NX")
  lu.assertEquals(p:translate(A(0)).write, true)
  assert_signal("SIGSEGV", "SEGV_ACCERR", p:write(A(1), "x"))
  lu.assertTrue(p:mprotect(A(1), PAGE, "rw"))
  local mm0 = p:mm()
  lu.assertTrue(p:write(A(1), "x"))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt)
  lu.assertTrue(m:check())
end

-- ===================================================================
-- munmap, exit, hiwater
-- ===================================================================

TestFree = {}

function TestFree:setUp()
  self.m = new_machine{ pcp = false }
end

function TestFree:tearDown()
  self.m:close()
end

function TestFree:test_munmap_gives_back_frames_and_tables()
  local m = self.m
  local p = m:spawn{ aslr = false }
  local free0, tables0 = free_pages(m), p:mm().pgtables_bytes
  local memfree0 = meminfo_kb(m, "MemFree")
  lu.assertEquals(memfree0, free0 * 4)
  map(p, 0, 64, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(0), 40 * PAGE, "w"))
  lu.assertTrue(p:touch(A(40), 24 * PAGE, "r"))
  lu.assertEquals(p:mm().rss_anon, 40)
  lu.assertEquals(p:mm().pgtables_bytes, tables0 + 3 * PAGE)   -- PUD, PMD, PTE
  lu.assertEquals(free_pages(m), free0 - 43)
  lu.assertEquals(status_kb(p, "VmPTE"), (tables0 + 3 * PAGE) // 1024)
  lu.assertTrue(p:munmap(A(0), 20 * PAGE))
  lu.assertEquals(free_pages(m), free0 - 23)
  lu.assertTrue(p:munmap(A(20), 44 * PAGE))
  lu.assertEquals(free_pages(m), free0 - 9)   -- the last 9 written wait in the lru_add batch
  m:lru_add_drain_all()
  lu.assertEquals(free_pages(m), free0)
  lu.assertEquals(meminfo_kb(m, "MemFree"), memfree0)
  lu.assertEquals(p:mm().pgtables_bytes, tables0)
  lu.assertEquals(p:mm().rss_anon, 0)
  lu.assertEquals(p:mm().hiwater_rss, 40)
  lu.assertEquals(status_kb(p, "VmHWM"), 160)
  lu.assertEquals(status_kb(p, "VmRSS"), 0)
  lu.assertTrue(m:check())
end

function TestFree:test_exit_gives_back_everything()
  local m = self.m
  local free0, shmem0 = free_pages(m), m:vmstat().nr_shmem
  local p = m:spawn{ aslr = false }
  local brk = p:brk(0)
  lu.assertEquals(p:brk(brk + 16 * PAGE), brk + 16 * PAGE)
  lu.assertTrue(p:write(brk, pattern(brk, 16 * PAGE, 6)))
  local sp = p:mm().start_stack
  lu.assertTrue(p:write(sp - 2 * PAGE, pattern(sp, PAGE, 7)))
  map(p, 0, 32, "rw", "private|anonymous|populate")
  map(p, 40, 8, "rw", "shared|anonymous")
  lu.assertTrue(p:touch(A(40), 8 * PAGE, "w"))
  lu.assertEquals(p:mm().rss_shmem, 8)
  lu.assertEquals(m:vmstat().nr_shmem, shmem0 + 8)
  lu.assertTrue(free_pages(m) < free0 - 56)
  lu.assertTrue(m:check())
  p:exit()
  H.shrink_kernel_caches(m)   -- the slabs of its task_struct, mm, VMAs and anon_vmas
  lu.assertEquals(free_pages(m) + H.kernel_kept(m), free0)  -- and its cached kernel stack
  lu.assertEquals(m:vmstat().nr_shmem, shmem0)
  lu.assertEquals(m:vmstat().nr_anon_pages, 0)
  lu.assertTrue(m:check())
end

function TestFree:test_exit_with_pcp_after_drain()
  local m = new_machine()
  m:drain_pages()
  local free0 = free_pages(m)
  local p = m:spawn{}
  local a = assert(p:mmap(nil, "4M", "rw", "private|anonymous"))
  lu.assertTrue(p:touch(a, 4 << 20, "w"))
  lu.assertEquals(p:mm().rss_anon, 1024)
  p:exit()
  lu.assertTrue(free_pages(m) < free0)        -- on the per-CPU lists
  m:lru_add_drain_all()                       -- the last new page's batch: exit does not drain
  H.shrink_kernel_caches(m)                   -- the slabs of its kernel objects, and drain
  lu.assertEquals(free_pages(m) + H.kernel_kept(m), free0)  -- its kernel stack cached
  lu.assertTrue(m:check())
  m:close()
end

function TestFree:test_hiwater_rss()
  local m = self.m
  local p = m:spawn{ aslr = false }
  map(p, 0, 10, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(0), 10 * PAGE, "w"))
  lu.assertTrue(p:munmap(A(0), 6 * PAGE))
  lu.assertEquals(p:mm().hiwater_rss, 10)
  lu.assertEquals(status_kb(p, "VmHWM"), 40)
  lu.assertEquals(status_kb(p, "VmRSS"), 16)
end

-- ===================================================================
-- mremap
-- ===================================================================

TestMremap = {}

function TestMremap:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestMremap:tearDown()
  self.m:close()
end

function TestMremap:test_maymove_carries_data()
  local m, p = self.m, self.p
  map(p, 0, 4, "rw", "private|anonymous")
  map(p, 4, 1, "r", "private|anonymous")                       -- in the way
  local s = pattern(A(0), 3 * PAGE, 8)
  lu.assertTrue(p:write(A(0), s))
  lu.assertTrue(p:touch(A(3), 1, "r"))
  local pfn = p:translate(A(1)).pfn
  local b = assert(p:mremap(A(0), 4 * PAGE, 8 * PAGE, "maymove"))
  lu.assertNotEquals(b, A(0))
  lu.assertEquals(p:read(b, 3 * PAGE), s)
  lu.assertEquals(p:translate(b + PAGE).pfn, pfn)
  lu.assertEquals(p:translate(b + 3 * PAGE).pfn, zero_pfn(m))
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:read(A(0), 1))
  lu.assertEquals(m:rmap(pfn), { { pid = p.pid, addr = b + PAGE } })
  lu.assertEquals(p:mm().rss_anon, 3)
  lu.assertTrue(m:check())
end

function TestMremap:test_fixed_carries_data()
  local m, p = self.m, self.p
  map(p, 0, 3, "rw", "private|anonymous")
  local s = pattern(A(0), 3 * PAGE, 9)
  lu.assertTrue(p:write(A(0), s))
  local pfn = p:translate(A(2)).pfn
  lu.assertEquals(p:mremap(A(0), 3 * PAGE, 3 * PAGE, "maymove|fixed", A(600)), A(600))
  lu.assertEquals(p:read(A(600), 3 * PAGE), s)
  lu.assertEquals(m:rmap(pfn), { { pid = p.pid, addr = A(602) } })
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:write(A(1), "x"))
  lu.assertTrue(m:check())
end

function TestMremap:test_dontunmap_leaves_zero_pages()
  local m, p = self.m, self.p
  map(p, 0, 2, "rw", "private|anonymous")
  local s = pattern(A(0), 2 * PAGE, 10)
  lu.assertTrue(p:write(A(0), s))
  local pfn = p:translate(A(1)).pfn
  local b = assert(p:mremap(A(0), 2 * PAGE, 2 * PAGE, "maymove|dontunmap"))
  lu.assertEquals(p:read(b, 2 * PAGE), s)
  local mm0 = p:mm()
  lu.assertEquals(p:read(A(0), 2 * PAGE), string.rep("\0", 2 * PAGE))
  lu.assertEquals(p:mm().min_flt, mm0.min_flt + 2)
  lu.assertEquals(p:translate(A(1)).pfn, zero_pfn(m))
  lu.assertEquals(m:rmap(pfn), { { pid = p.pid, addr = b + PAGE } })
  lu.assertEquals(p:mm().rss_anon, 2)
  lu.assertTrue(m:check())
end

-- ===================================================================
-- MAP_POPULATE
-- ===================================================================

TestPopulate = {}

function TestPopulate:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestPopulate:tearDown()
  self.m:close()
end

function TestPopulate:test_private_writable()
  local m, p = self.m, self.p
  local v0 = m:vmstat()
  map(p, 0, 100, "rw", "private|anonymous|populate")
  lu.assertEquals(p:mm().rss_anon, 100)
  lu.assertEquals(p:mm().min_flt, 100)
  lu.assertEquals(m:vmstat().pgfault, v0.pgfault + 100)
  lu.assertEquals(smaps_kb(p, A(0), "Private_Dirty"), 400)
  lu.assertTrue(p:translate(A(99)).write)
  lu.assertTrue(p:touch(A(0), 100 * PAGE, "w"))
  lu.assertEquals(p:mm().min_flt, 100)
end

function TestPopulate:test_read_only_maps_zero_pages()
  local m, p = self.m, self.p
  map(p, 0, 50, "r", "private|anonymous|populate")
  lu.assertEquals(p:mm().rss_anon, 0)
  lu.assertEquals(p:mm().min_flt, 50)
  lu.assertEquals(p:translate(A(49)).pfn, zero_pfn(m))
  map(p, 60, 10, "---", "private|anonymous|populate")
  lu.assertEquals(p:mm().min_flt, 50)
  map(p, 80, 10, "rw", "shared|anonymous|populate")
  lu.assertEquals(p:mm().rss_shmem, 10)
  lu.assertEquals(p:mm().min_flt, 60)
  lu.assertTrue(m:check())
end

-- GUP touches each page it populates (FOLL_TOUCH: folio_mark_accessed), so a
-- fork child, whose copies of the entries are old, still counts them
-- Referenced.  Checked on a Linux 6.18 host (/proc/kpageflags: REFERENCED).
function TestPopulate:test_populated_pages_are_referenced()
  local m, p = self.m, self.p
  map(p, 0, 3, "rw", "private|anonymous|populate")
  local c = assert(p:fork())
  lu.assertFalse(c:translate(A(0)).accessed)
  assert_smaps(c, A(0), { Referenced = 12, Shared_Dirty = 12 })
  map(p, 10, 3, "rw", "private|anonymous")        -- written, not populated: not marked
  lu.assertTrue(p:touch(A(10), 3 * PAGE, "w"))
  local d = assert(p:fork())
  lu.assertEquals(smaps_kb(d, A(10), "Referenced"), 0)
  lu.assertTrue(m:check())
end

-- ===================================================================
-- MADV_FREE (numbers checked on a Linux 6.18 host, its per-CPU LRU
-- batches drained: a page waits in the lru_lazyfree batch until then)
-- ===================================================================

TestMadvFree = { setUp = TestPopulate.setUp, tearDown = TestPopulate.tearDown }

-- Pages [0, n) of the region, private, written.
local function written(p, n)
  map(p, 0, n, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(0), n * PAGE, "w"))
end

-- Pages a fork child shares become lazily free all the same: only this
-- mm's entries go clean and old; the child's stay dirty.
function TestMadvFree:test_free_of_pages_a_child_shares()
  local m, p = self.m, self.p
  written(p, 4)
  local c = assert(p:fork())
  lu.assertTrue(p:madvise(A(0), 4 * PAGE, "free"))
  assert_smaps(p, A(0), { Shared_Clean = 16, Referenced = 0, LazyFree = 0 })	-- batched
  m:lru_add_drain_all()
  assert_smaps(p, A(0), { Shared_Clean = 16, Referenced = 0, LazyFree = 16 })
  assert_smaps(c, A(0), { Shared_Dirty = 16, LazyFree = 0 })
  c:exit()
  local pfn, flt = p:translate(A(0)).pfn, p:mm().min_flt
  lu.assertTrue(p:write(A(0), "y"))               -- mapped once now: reused
  lu.assertEquals(p:mm().min_flt, flt + 1)
  lu.assertEquals(p:translate(A(0)).pfn, pfn)
  assert_smaps(p, A(0), { Private_Dirty = 4, Private_Clean = 12, LazyFree = 12 })
  lu.assertTrue(m:check())
end

-- MADV_POPULATE_WRITE finds the lazily free pages' entries clean and marks
-- the pages dirty (follow_page_pte): not lazily free any more; a read
-- populate only marks them accessed.
function TestMadvFree:test_populate_after_free()
  local m, p = self.m, self.p
  written(p, 4)
  lu.assertTrue(p:madvise(A(0), 4 * PAGE, "free"))
  m:lru_add_drain_all()
  assert_smaps(p, A(0), { LazyFree = 16 })
  lu.assertTrue(p:madvise(A(0), 2 * PAGE, "populate_write"))
  assert_smaps(p, A(0), { Private_Dirty = 8, Referenced = 8, LazyFree = 8 })
  lu.assertFalse(p:translate(A(0)).dirty)         -- the page is, not its entry
  lu.assertTrue(p:madvise(A(2), 2 * PAGE, "populate_read"))
  assert_smaps(p, A(0), { Referenced = 16, LazyFree = 8 })
  lu.assertTrue(m:check())
end

-- ===================================================================
-- file mappings
-- ===================================================================

TestFile = {}

function TestFile:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestFile:tearDown()
  self.m:close()
end

-- Cache the file as another process reading it would.
local function precache(m, f, pages)
  local q = m:spawn{}
  assert(q:mmap(A(0), pages * PAGE, "r", "private|fixed|populate", f, 0))
  q:exit()
end

function TestFile:test_major_fault_reads_around()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/big", size = 100 * PAGE }
  map(p, 0, 100, "r", "private", f)
  local v0 = m:vmstat()
  lu.assertEquals(p:read(A(40), 8), string.rep("\0", 8))
  local mm, v1 = p:mm(), m:vmstat()
  lu.assertEquals(mm.maj_flt, 1)
  lu.assertEquals(mm.min_flt, 0)
  lu.assertEquals(v1.pgmajfault, v0.pgmajfault + 1)
  lu.assertEquals(v1.pgfault, v0.pgfault + 1)
  lu.assertEquals(v1.nr_file_pages, v0.nr_file_pages + 32)    -- 24..55
  lu.assertEquals(v1.pgpgin, v0.pgpgin)   -- a sparse file: holes are zeroed, not read
  lu.assertEquals(mm.rss_file, 16)        -- the retried fault's fault-around: 32..47
  for i = 32, 47 do lu.assertTrue(p:translate(A(i)).present) end
  lu.assertFalse(p:translate(A(48)).present)
  -- a cached neighbour in another window: minor, maps 24..31
  local rss0 = mm.rss_file
  lu.assertEquals(p:read(A(30), 1), "\0")
  mm = p:mm()
  lu.assertEquals(mm.maj_flt, 1)
  lu.assertEquals(mm.min_flt, 1)
  lu.assertEquals(mm.rss_file, rss0 + 8)
  lu.assertEquals(m:vmstat().nr_file_pages, v0.nr_file_pages + 32)
  lu.assertFalse(p:translate(A(23)).present)
  lu.assertTrue(p:translate(A(24)).present)
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), mm.rss_file * 4)
  lu.assertEquals(status_kb(p, "RssFile"), mm.rss_file * 4)
  -- at the end: read-around clipped to the file
  lu.assertEquals(p:read(A(99), 1), "\0")
  lu.assertEquals(m:vmstat().nr_file_pages, v0.nr_file_pages + 32 + 17)
  lu.assertEquals(p:mm().maj_flt, 2)
  assert_signal("SIGSEGV", "SEGV_MAPERR", p:read(A(100), 1))
  lu.assertTrue(m:check())
end

function TestFile:test_fault_around_within_the_vma()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/fa", size = 60 * PAGE }
  precache(m, f, 60)
  map(p, 16, 20, "r", "private", f, 16)
  lu.assertTrue(p:mprotect(A(20), 4 * PAGE, "rx"))
  lu.assertEquals(p:read(A(21), 1), "\0")
  lu.assertEquals(p:mm().maj_flt, 0)
  lu.assertEquals(p:mm().min_flt, 1)
  lu.assertEquals(p:mm().rss_file, 4)                          -- 20..23
  lu.assertEquals(p:read(A(17), 1), "\0")
  lu.assertEquals(p:mm().rss_file, 8)                          -- 16..19
  lu.assertEquals(p:read(A(33), 1), "\0")
  lu.assertEquals(p:mm().rss_file, 12)                         -- 32..35
  map(p, 40, 40, "r", "private", f, 40)
  lu.assertEquals(p:read(A(58), 1), "\0")
  lu.assertEquals(smaps_kb(p, A(40), "Rss"), 48)               -- 48..59: the file ends
  assert_signal("SIGBUS", "BUS_ADRERR", p:read(A(60), 1))
  lu.assertTrue(m:check())
end

function TestFile:test_private_write_copies()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/priv", size = 16 * PAGE, writable = true }
  map(p, 0, 16, "rw", "shared", f)
  local s = pattern(A(0), 16 * PAGE, 11)
  lu.assertTrue(p:write(A(0), s))
  map(p, 32, 16, "rw", "private", f)
  local mm0, dirty0 = p:mm(), m:vmstat().nr_dirty
  lu.assertTrue(p:write(A(33) + 5, "!"))
  local mm1 = p:mm()
  lu.assertEquals(mm1.rss_anon, mm0.rss_anon + 1)
  lu.assertEquals(mm1.rss_file, mm0.rss_file)
  lu.assertEquals(mm1.min_flt, mm0.min_flt + 1)
  lu.assertEquals(m:vmstat().nr_dirty, dirty0)
  local want = s:sub(PAGE + 1, 2 * PAGE)
  lu.assertEquals(p:read(A(33), PAGE), want:sub(1, 5) .. "!" .. want:sub(7))
  lu.assertEquals(p:read(A(1), PAGE), want)                    -- the page cache is unchanged
  lu.assertNotEquals(p:translate(A(33)).pfn, p:translate(A(1)).pfn)
  lu.assertEquals(smaps_kb(p, A(32), "Anonymous"), 4)
  lu.assertTrue(m:check())
end

function TestFile:test_shared_write_dirties_and_is_seen()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/shared", size = 8 * PAGE, writable = true }
  local q = m:spawn{ aslr = false }
  assert(q:mmap(A(100), 8 * PAGE, "r", "shared|fixed|populate", f, 0))
  map(p, 0, 8, "rw", "shared", f)
  lu.assertEquals(p:read(A(2), 1), "\0")
  lu.assertFalse(p:translate(A(2)).write)                      -- write notification
  local v0 = m:vmstat()
  lu.assertTrue(p:write(A(2) + 100, "shared bytes"))
  lu.assertEquals(m:vmstat().nr_dirty, v0.nr_dirty + 1)
  lu.assertTrue(p:translate(A(2)).write)
  lu.assertTrue(p:translate(A(2)).dirty)
  lu.assertEquals(q:read(A(102) + 100, 12), "shared bytes")
  local pfn = p:translate(A(2)).pfn
  local r = m:rmap(pfn)
  table.sort(r, function(x, y) return x.pid < y.pid end)
  lu.assertEquals(r, { { pid = p.pid, addr = A(2) }, { pid = q.pid, addr = A(102) } })
  lu.assertEquals(p:mm().rss_anon, 0)
  lu.assertTrue(m:check())
end

function TestFile:test_shmem()
  local m, p = self.m, self.p
  local v0 = m:vmstat()
  local meminfo0 = meminfo_kb(m, "Shmem")
  map(p, 0, 8, "rw", "shared|anonymous")
  lu.assertTrue(p:write(A(0), pattern(A(0), 3 * PAGE, 12)))
  lu.assertEquals(p:read(A(5), 1), "\0")
  local mm = p:mm()
  lu.assertEquals(mm.rss_shmem, 4)
  lu.assertEquals(mm.rss_anon, 0)
  lu.assertEquals(mm.rss_file, 0)
  lu.assertEquals(mm.min_flt, 4)
  lu.assertNotEquals(p:translate(A(5)).pfn, zero_pfn(m))
  lu.assertEquals(m:vmstat().nr_shmem, v0.nr_shmem + 4)
  lu.assertEquals(meminfo_kb(m, "Shmem"), meminfo0 + 16)
  lu.assertEquals(status_kb(p, "RssShmem"), 16)
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), 16)
  lu.assertEquals(smaps_kb(p, A(0), "Anonymous"), 0)
  lu.assertTrue(p:munmap(A(0), 8 * PAGE))
  lu.assertEquals(m:vmstat().nr_shmem, v0.nr_shmem)
  lu.assertTrue(m:check())
end

-- A file page's reverse map follows the file's i_mmap, in Linux's
-- vma_interval_tree order: by vm_pgoff, then as inserted -- a fork's copy
-- right after its parent's VMA, a VMA whose range moved (a split) after
-- its equals again.
function TestFile:test_rmap_follows_i_mmap()
  local m, p = self.m, self.p
  local f = assert(m:file{ path = "/data/shared", size = 8 * PAGE, writable = true })
  map(p, 0, 4, "rw", "shared", f)
  assert(p:touch(A(0), 4 * PAGE, "r"))
  local c1, c2 = assert(p:fork()), assert(p:fork())
  assert(c1:touch(A(0), 2 * PAGE, "r"))
  assert(c2:touch(A(0), 2 * PAGE, "r"))
  local q = m:spawn{ aslr = false }
  map(q, 8, 2, "r", "shared", f, 1)                  -- file pages 1 and 2, at A(8)
  assert(q:touch(A(8), PAGE, "r"))
  local function pids(pfn)
    local t = {}
    for _, e in ipairs(m:rmap(pfn)) do t[#t + 1] = e.pid end
    return t
  end
  local pfn0, pfn1 = p:translate(A(0)).pfn, p:translate(A(1)).pfn
  lu.assertEquals(pids(pfn0), { p.pid, c2.pid, c1.pid })
  lu.assertEquals(pids(pfn1), { p.pid, c2.pid, c1.pid, q.pid })   -- q's VMA starts at offset 1
  lu.assertEquals(m:rmap(pfn1)[4], { pid = q.pid, addr = A(8) })
  assert(p:mprotect(A(2), PAGE, "r"))               -- p's VMA split: put back after c2's, c1's
  lu.assertEquals(pids(pfn0), { c2.pid, c1.pid, p.pid })
  assert(c1:mprotect(A(2), PAGE, "r"))             -- c1's split: after p
  lu.assertEquals(pids(pfn0), { c2.pid, p.pid, c1.pid })
  assert(p:mprotect(A(2), PAGE, "rw"))             -- p's merge back: after c1 again
  lu.assertEquals(pids(pfn0), { c2.pid, c1.pid, p.pid })
  assert(c2:munmap(A(0), 4 * PAGE))
  lu.assertEquals(pids(pfn1), { c1.pid, p.pid, q.pid })
  lu.assertTrue(m:check())
end

-- ===================================================================
-- smaps, status, rmap, check
-- ===================================================================

TestInspect = {}

function TestInspect:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
end

function TestInspect:tearDown()
  self.m:close()
end

function TestInspect:test_smaps_and_status_follow_the_tables()
  local m, p = self.m, self.p
  map(p, 0, 10, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(0), 3 * PAGE, "w"))
  lu.assertTrue(p:touch(A(5), 2 * PAGE, "r"))
  lu.assertEquals(smaps_kb(p, A(0), "Rss"), 12)
  lu.assertEquals(smaps_kb(p, A(0), "Anonymous"), 12)
  lu.assertEquals(smaps_kb(p, A(0), "Private_Dirty"), 12)
  lu.assertEquals(smaps_kb(p, A(0), "Referenced"), 12)
  lu.assertEquals(smaps_kb(p, A(0), "Pss"), 12)
  local mm = p:mm()
  lu.assertEquals(status_kb(p, "VmRSS"), (mm.rss_anon + mm.rss_file + mm.rss_shmem) * 4)
  lu.assertEquals(status_kb(p, "RssAnon"), mm.rss_anon * 4)
  lu.assertEquals(status_kb(p, "RssFile"), mm.rss_file * 4)
  lu.assertEquals(status_kb(p, "VmPTE"), mm.pgtables_bytes // 1024)
  lu.assertEquals(math.type(mm.min_flt), "integer")
  lu.assertEquals(math.type(mm.maj_flt), "integer")
end

function TestInspect:test_pagetable_dump()
  local m, p = self.m, self.p
  map(p, 0, 4, "rw", "private|anonymous")
  lu.assertTrue(p:touch(A(1), 1, "w"))
  lu.assertTrue(p:touch(A(2), 1, "r"))
  local t = p:translate(A(1))
  local text = p:pagetable(A(0), A(4))
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertEquals(#lines, 2)
  lu.assertEquals(lines[1], string.format(
    "%016x-%016x PTE pa 0x%x flags P RW US A D NX tables PGD:0x%x PUD:0x%x PMD:0x%x PTE:0x%x",
    A(1), A(2), t.phys, t.levels[1].table, t.levels[2].table, t.levels[3].table, t.levels[4].table))
  lu.assertStrContains(lines[2], string.format("%016x-%016x PTE pa 0x%x flags P US A SPECIAL NX",
                                               A(2), A(3), zero_pfn(m) * PAGE))
  lu.assertEquals(p:pagetable(A(3), A(4)), "")
  lu.assertStrContains(p:pagetable(), lines[1])
  lu.assertStrContains(p:pagetable(A(0)), lines[2])
  assert_errno("EINVAL", 22, p:translate(1 << 48))
  assert_errno("EINVAL", 22, p:translate(-1))
  assert_errno("EINVAL", 22, p:pte(1 << 48))
  lu.assertFalse(p:translate((1 << 48) - 1).present)
end

function TestInspect:test_rmap_lists_every_mapping()
  local m, p = self.m, self.p
  local q = m:spawn{ aslr = false }
  local f = m:file{ path = "/data/rmap", size = 4 * PAGE }
  map(p, 0, 4, "r", "shared", f)
  map(p, 10, 2, "r", "private", f, 2)
  assert(q:mmap(A(20), 4 * PAGE, "r", "shared|fixed", f, 0))
  lu.assertTrue(p:touch(A(0), 4 * PAGE, "r"))
  lu.assertTrue(p:touch(A(11), 1, "r"))
  lu.assertTrue(q:touch(A(23), 1, "r"))
  local pfn = p:translate(A(3)).pfn
  local r = m:rmap(pfn)
  table.sort(r, function(x, y) return x.pid < y.pid or (x.pid == y.pid and x.addr < y.addr) end)
  lu.assertEquals(r, { { pid = p.pid, addr = A(3) }, { pid = p.pid, addr = A(11) },
                       { pid = q.pid, addr = A(23) } })
  lu.assertEquals(m:rmap(m:info().nr_frames), {})
  lu.assertEquals(m:rmap(0), {})
  q:exit()
  lu.assertEquals(#m:rmap(pfn), 2)
  lu.assertTrue(m:check())
end

function TestInspect:test_check_catches_a_corrupt_pte()
  local m, p = self.m, self.p
  map(p, 0, 4, "rw", "private|anonymous")
  map(p, 4, 1, "r", "private|anonymous")
  lu.assertTrue(p:write(A(0), pattern(A(0), 2 * PAGE, 13)))
  lu.assertTrue(p:touch(A(2), 1, "r"))
  lu.assertTrue(p:touch(A(4), 1, "r"))
  lu.assertTrue(m:check())
  local pa, entry = pte_addr(p, A(1))
  lu.assertEquals(read_u64(m, pa), entry)
  lu.assertEquals(read_u64(m, pa), p:pte(A(1)).raw)
  for _, case in ipairs({ { A(1), 1 << 12 }, { A(1), 1 << 0 }, { A(1), 1 << 9 }, { A(2), 1 << 1 },
                          { A(2), 1 << 13 }, { A(3), (1 << 0) | (1 << 12) }, { A(4), 1 << 1 } }) do
    local msg = flip_caught(m, p, case[1], case[2])
    lu.assertIsString(msg, string.format("flip %#x at %#x", case[2], case[1]))
    lu.assertStrContains(msg, "violation(s):")
  end
  lu.assertEquals(p:read(A(0), 2 * PAGE), pattern(A(0), 2 * PAGE, 13))
end

-- ===================================================================
-- arm64 and LA57
-- ===================================================================

TestArch = {}

local ARM = { { 4096, 39, 3 }, { 4096, 48, 4 }, { 16384, 36, 2 }, { 16384, 47, 3 },
              { 16384, 48, 4 },
              { 65536, 42, 2 }, { 65536, 48, 3 } }

function TestArch:test_arm64()
  for _, c in ipairs(ARM) do
    local ps, va, levels = c[1], c[2], c[3]
    local what = string.format("arm64 %dK/%d", ps // 1024, va)
    local m = memlab.new{ arch = "arm64", page_size = ps, va_bits = va,
                          ram = ps == 65536 and "1G" or "256M", pcp = false }
    local free0 = free_pages(m)
    local p = m:spawn{}
    local base = 1 << (va - 2)
    lu.assertEquals(p:mmap(base, 8 * ps, "rw", "private|anonymous|fixed"), base, what)
    lu.assertEquals(p:read(base + ps, 2 * ps), string.rep("\0", 2 * ps), what)
    lu.assertEquals(p:mm().min_flt, 2, what)
    lu.assertEquals(p:mm().rss_anon, 0, what)
    local t = p:translate(base + ps + 3)
    lu.assertEquals(#t.levels, levels, what)
    lu.assertEquals(t.levels[1].level, "PGD", what)
    lu.assertEquals(t.levels[levels].level, "PTE", what)
    lu.assertEquals(t.special, true, what)
    lu.assertEquals(t.write, false, what)
    lu.assertEquals(t.pfn, zero_pfn(m), what)
    lu.assertEquals(t.phys, zero_pfn(m) * ps + 3, what)
    lu.assertEquals(t.size, ps, what)
    local s = pattern(base + ps + 10, ps, 14)
    lu.assertTrue(p:write(base + ps + 10, s), what)
    lu.assertEquals(p:mm().min_flt, 4, what)
    lu.assertEquals(p:mm().rss_anon, 2, what)
    lu.assertEquals(p:read(base + ps + 10, ps), s, what)
    t = p:translate(base + ps)
    lu.assertTrue(t.write and t.dirty and not t.special, what)
    lu.assertEquals(m:rmap(t.pfn), { { pid = p.pid, addr = base + ps } }, what)
    lu.assertIsString(flip_caught(m, p, base + ps, ps), what)
    lu.assertTrue(p:mprotect(base, 8 * ps, "---"))
    lu.assertEquals(p:translate(base + ps).protnone, true, what)
    assert_signal("SIGSEGV", "SEGV_ACCERR", p:read(base + ps, 1))
    lu.assertTrue(p:mprotect(base, 8 * ps, "rw"))
    lu.assertTrue(p:write(base + ps, "x"))
    lu.assertEquals(p:mm().min_flt, 4, what)
    lu.assertTrue(p:munmap(base, 8 * ps))
    lu.assertEquals(p:mm().rss_anon, 0, what)
    lu.assertEquals(p:mm().pgtables_bytes, 0, what)
    lu.assertTrue(m:check())
    p:exit()
    m:lru_add_drain_all()     -- the new pages still in the CPU's batch: exit does not drain
    H.shrink_kernel_caches(m) -- the slabs of its kernel objects
    lu.assertEquals(free_pages(m) + H.kernel_kept(m), free0, what)  -- its stack cached
    m:close()
  end
end

function TestArch:test_x86_la57()
  local m = memlab.new{ ram = "256M", va_bits = 57 }
  local p = m:spawn{}
  local a = 1 << 52
  lu.assertEquals(p:mmap(a, 4 * PAGE, "rw", "private|anonymous|fixed"), a)
  lu.assertTrue(p:write(a + 5, "la57"))
  local names = {}
  for i, l in ipairs(p:translate(a).levels) do names[i] = l.level end
  lu.assertEquals(names, { "PGD", "P4D", "PUD", "PMD", "PTE" })
  lu.assertEquals(p:read(a + 5, 4), "la57")
  lu.assertEquals(p:mm().pgtables_bytes, 4 * PAGE)
  assert_errno("EINVAL", 22, p:translate(1 << 57))
  lu.assertTrue(m:check())
  m:close()
end

-- ===================================================================
-- hostile arguments
-- ===================================================================

TestHostile = {}

function TestHostile:setUp()
  self.m = new_machine()
  self.p = self.m:spawn{ aslr = false }
  self.a = map(self.p, 0, 4, "rw", "private|anonymous")
end

function TestHostile:tearDown()
  self.m:close()
end

local BAD_ADDRS = { NIL, {}, "1", "0x1000", true, false, NAN, INF, -INF, TWO63, -TWO63 * 2,
                    0.5, -0.5,
                    1e300, HUGE_STRING, print, io.stdout }
local BAD_LENS = { NIL, {}, "x", "1.5K", "-4K", "", true, NAN, INF, -INF, TWO63, 0.5, 1e300,
                   HUGE_STRING, print, io.stdout }

function TestHostile:test_read()
  local p, a = self.p, self.a
  assert_rejects(p, "read", { a, 1 }, 1, BAD_ADDRS)
  assert_rejects(p, "read", { a, 1 }, 2, BAD_LENS)
  -- negative n is a huge length: above the 1 GiB limit
  assert_rejects(p, "read", { a, 1 }, 2, { -1, -4096, (1 << 30) + 1, "2G", 1 << 62 })
  lu.assertStrContains(select(2, try(p.read, p, a, -1)), "1 GiB")
  lu.assertEquals(p:read(a, "4K"), string.rep("\0", PAGE))
end

function TestHostile:test_write()
  local p, a = self.p, self.a
  assert_rejects(p, "write", { a, "x" }, 1, BAD_ADDRS)
  assert_rejects(p, "write", { a, "x" }, 2, { NIL, 1, 1.5, true, {}, print, io.stdout })
  -- strings with zero bytes are data
  lu.assertTrue(p:write(a, "a\0b"))
  lu.assertEquals(p:read(a, 3), "a\0b")
end

function TestHostile:test_touch()
  local p, a = self.p, self.a
  assert_rejects(p, "touch", { a, 1, "r" }, 1, BAD_ADDRS)
  assert_rejects(p, "touch", { a, 1, "r" }, 2, BAD_LENS)
  assert_rejects(p, "touch", { a, 1, "r" }, 3, { NIL, "", "rw", "R", "q", "\0", 1, true, {} })
end

function TestHostile:test_translate_pte_pagetable()
  local p, a = self.p, self.a
  assert_rejects(p, "translate", { a }, 1, BAD_ADDRS)
  assert_rejects(p, "pte", { a }, 1, BAD_ADDRS)
  local bad = {}
  for _, v in ipairs(BAD_ADDRS) do if v ~= NIL then bad[#bad + 1] = v end end
  assert_rejects(p, "pagetable", { a, a + PAGE }, 1, bad)
  assert_rejects(p, "pagetable", { a, a + PAGE }, 2, bad)
end

function TestHostile:test_rmap()
  local m = self.m
  local ok, err = try(m.rmap, m, -1)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "rmap")
  for _, bad in ipairs({ NIL, "1", 1.5, NAN, INF, {}, true }) do
    ok, err = try(m.rmap, m, H.value(bad))
    lu.assertFalse(ok, show(bad))
    lu.assertTrue(H.names(err, "rmap"), err)
  end
  ok, err = try(m.rmap, self.p, 1)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "memlab.machine expected")
end

function TestHostile:test_exited_task_and_closed_machine()
  local m, p, a = self.m, self.p, self.a
  local q = m:spawn{}
  q:exit()
  for name, args in pairs({ read = { a, 1 }, write = { a, "x" }, touch = { a, 1, "r" },
                            translate = { a }, pte = { a }, pagetable = {} }) do
    local err = assert_raises({ name, "exited task" }, q[name], q, table.unpack(args))
    lu.assertTrue(H.names(err, name), err)
    lu.assertStrContains(select(2, try(p[name], m, table.unpack(args))), "memlab.task expected")
  end
  m:close()
  for name, args in pairs({ read = { a, 1 }, write = { a, "x" }, touch = { a, 1, "r" },
                            translate = { a }, pte = { a }, pagetable = {} }) do
    assert_raises({ name, "closed machine" }, p[name], p, table.unpack(args))
  end
  assert_raises({ "rmap" }, m.rmap, m, 1)
end

function TestHostile:test_state_survives_errors()
  local m, p, a = self.m, self.p, self.a
  lu.assertTrue(p:write(a, "keep"))
  local text = p:pagetable()
  for _ = 1, 3 do
    pcall(p.read, p, a, NAN)
    pcall(p.write, p, {}, "x")
    pcall(p.touch, p, a, 1, "z")
    pcall(p.translate, p, nil)
  end
  lu.assertEquals(p:pagetable(), text)
  lu.assertEquals(p:read(a, 4), "keep")
  lu.assertTrue(m:check())
end

-- /proc/PID/pagemap's flags through zero page, COW, shmem, the page cache,
-- fork and PROT_NONE: each line is what Linux 6.18 (the reference host)
-- printed for the same steps in C (P present, S swap, F file, X exclusive).
TestPagemap = {}

local function pm_flags(p, a, n)
  local s = {}
  for i, e in ipairs(p:pagemap(a, n)) do
    s[i] = (e.present and "P" or "-") .. (e.swap and "S" or "-") .. (e.file and "F" or "-") ..
           (e.exclusive and "X" or "-")
  end
  return table.concat(s, " ")
end

function TestPagemap:test_flags_as_the_host_shows_them()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "pm", aslr = false }
  local a = assert(p:mmap(nil, 4 * 4096, "rw-", "private|anonymous"))
  p:read(a, 1); p:write(a + 4096, "x"); p:write(a + 8192, "x")
  lu.assertEquals(pm_flags(p, a, 4), "P--- P--X P--X ----")	-- the zero page: neither F nor X
  lu.assertEquals(p:pagemap(a)[1].pfn, p:translate(a).pfn)
  lu.assertEquals(p:pagemap(a + 4096)[1].pfn, p:translate(a + 4096).pfn)
  local s = assert(p:mmap(nil, 2 * 4096, "rw-", "shared|anonymous"))
  p:write(s, "x"); p:read(s + 4096, 1)
  lu.assertEquals(pm_flags(p, s, 2), "P-FX P-FX")			-- shmem is a file
  local fl = m:file{ path = "/tmp/pmfile", size = 3 * 4096, writable = true }
  local f = assert(p:mmap(nil, 3 * 4096, "rw-", "private", fl, 0))
  p:read(f, 1); p:write(f + 4096, "x")
  lu.assertEquals(pm_flags(p, f, 3), "P-FX P--X P-FX")		-- fault-around mapped page 2
  local g = assert(p:mmap(nil, 2 * 4096, "r--", "shared", fl, 0))
  p:read(g, 1)
  lu.assertEquals(pm_flags(p, g, 2), "P-F- P-FX")
  lu.assertEquals(pm_flags(p, f, 3), "P-F- P--X P-FX")		-- page 0: two mappings now
  local c = p:fork()
  lu.assertEquals(pm_flags(p, a, 4), "P--- P--- P--- ----")
  lu.assertEquals(pm_flags(p, s, 2), "P-FX P-FX")			-- fork copies no shared PTEs
  p:write(a + 4096, "y")
  lu.assertEquals(pm_flags(p, a, 4), "P--- P--X P--- ----")	-- the copy is the parent's alone
  c:exit()
  lu.assertEquals(pm_flags(p, a, 4), "P--- P--X P--X ----")
  p:mprotect(a, 4 * 4096, "---")
  lu.assertEquals(pm_flags(p, a, 4), "P--- P--X P--X ----")	-- PROT_NONE entries are present
  lu.assertEquals(pm_flags(p, 0x1000, 2), "---- ----")
  lu.assertEquals(#p:pagemap(p:mm().task_size - 4096, 4), 1)	-- nothing past TASK_SIZE
  lu.assertTrue(m:check())
end

function TestPagemap:test_thp_pages()
  local m <close> = memlab.new{ ram = "64M" }
  local p = m:spawn{ name = "pm", aslr = false }
  local a = assert(p:mmap(0x7e0000000000, 2 * 1024 * 1024, "rw-", "private|anonymous|fixed"))
  assert(p:madvise(a, 2 * 1024 * 1024, "hugepage"))
  p:write(a, "x")
  lu.assertEquals(p:translate(a).size, 2 * 1024 * 1024)
  local pfn = p:translate(a).pfn
  local e = p:pagemap(a, 512)
  lu.assertEquals(#e, 512)
  lu.assertEquals({ e[1].pfn, e[512].pfn, e[512].exclusive }, { pfn, pfn + 511, true })
  for i = 1, 512 do lu.assertFalse(e[i].file, i) end		-- tails too: the folio is anon
  local z = assert(p:mmap(0x7e0000400000, 2 * 1024 * 1024, "r--", "private|anonymous|fixed"))
  assert(p:madvise(z, 2 * 1024 * 1024, "hugepage"))
  p:read(z, 1)							-- the huge zero page
  lu.assertEquals(pm_flags(p, z, 2), "P-F- P-F-")			-- as the 6.18 host shows it
  lu.assertEquals(#p:pagemap(p:mm().task_size - 4096, 1 << 20), 1)
  local c = p:fork()
  lu.assertFalse(p:pagemap(a + 4096)[1].exclusive)
  c:exit()
  H.assert_raises({ "pagemap", "pages" }, p.pagemap, p, a, 0)
  H.assert_raises({ "pagemap", "pages" }, p.pagemap, p, a, (1 << 20) + 1)
end

os.exit(lu.LuaUnit.run(), true)
