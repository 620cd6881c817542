-- test_mlock.lua: mlock, mlock2, munlock, mlockall and munlockall
-- (docs/lua-api.md, "p:mlock"), as Linux 6.18's mm/mlock.c does them.
--
-- Run from the source root:  build/memlab run tests/lua/test_mlock.lua -o text
-- Every number here was checked on a Linux 6.18 x86-64 host with a small C
-- program making the same calls at the same addresses (64 pages at
-- 0x7e0000000000) and reading /proc/self/maps, smaps (Rss, Locked, VmFlags),
-- status (VmLck) and /proc/vmstat; the comments say what the host gave.

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, TWO63, NIL = H.NAN, H.INF, H.TWO63, H.NIL
local assert_rejects, assert_errno, assert_raises = H.assert_rejects, H.assert_errno, H.assert_raises

local P = 4096
local BASE = 0x7e0000000000

-- The window's maps lines, as "start-end perms" relative to BASE in pages.
local function window(p)
  local out = {}
  for line in p:maps():gmatch("[^\n]+") do
    local s, e, perms = line:match("^(%x+)%-(%x+) (%S+)")
    s, e = tonumber(s, 16), tonumber(e, 16)
    if s >= BASE and s < BASE + 64 * P then
      out[#out + 1] = string.format("%d-%d %s", (s - BASE) // P, (e - BASE) // P, perms)
    end
  end
  return out
end

-- The smaps fields Rss and Locked (kB) and VmFlags of the VMA starting at addr.
local function smaps_at(m, p, addr)
  local text = m:proc(p.pid .. "/smaps")
  local i = text:find(string.format("\n%x-", addr), 1, true)
  lu.assertNotNil(i, string.format("no VMA at %x", addr))
  local rest = text:sub(i + 1)
  local nexthead = rest:find("\n%x+%-%x+ ")
  local block = nexthead and rest:sub(1, nexthead) or rest
  return { rss = tonumber(block:match("\nRss:%s+(%d+) kB")),
           locked = tonumber(block:match("\nLocked:%s+(%d+) kB")),
           flags = block:match("\nVmFlags: ([^\n]*)") }
end

local function vmlck(m, p)
  return tonumber(m:proc(p.pid .. "/status"):match("VmLck:%s+(%d+) kB"))
end

-- The host test's layout: rw- pages 0..15, a hole 16..19, --- 20..23, r-- 24..27.
local function layout(p)
  assert(p:mmap(BASE, 16 * P, "rw", "private|anonymous|fixed"))
  assert(p:mmap(BASE + 20 * P, 4 * P, "---", "private|anonymous|fixed"))
  assert(p:mmap(BASE + 24 * P, 4 * P, "r", "private|anonymous|fixed"))
end

TestMlock = {}

function TestMlock:setUp()
  self.m = memlab.new{ ram = "256M", seed = 1 }
  self.p = self.m:spawn{ aslr = false, root = true }
  layout(self.p)
end

function TestMlock:tearDown()
  self.m:close()
end

-- mlock splits at the page-aligned ends of the range (start down, len + offset
-- up), merges a locked neighbour, munlock splits again.
function TestMlock:test_splits_and_merges()
  local m, p = self.m, self.p
  lu.assertTrue(p:mlock(BASE + P + 5, P))                 -- pages 1 and 2
  lu.assertEquals(window(p), { "0-1 rw-p", "1-3 rw-p", "3-16 rw-p", "20-24 ---p", "24-28 r--p" })
  lu.assertEquals(vmlck(m, p), 8)                         -- host: VmLck 8 kB
  local s = smaps_at(m, p, BASE + P)
  lu.assertEquals({ s.rss, s.locked }, { 8, 8 })          -- populated and locked
  lu.assertStrContains(s.flags, " lo ")
  lu.assertEquals(smaps_at(m, p, BASE).rss, 0)
  lu.assertTrue(p:mlock(BASE + 3 * P, P))                 -- merges with 1..3
  lu.assertEquals(window(p), { "0-1 rw-p", "1-4 rw-p", "4-16 rw-p", "20-24 ---p", "24-28 r--p" })
  lu.assertEquals(vmlck(m, p), 12)
  lu.assertTrue(p:munlock(BASE + 2 * P, P))
  lu.assertEquals(window(p), { "0-1 rw-p", "1-2 rw-p", "2-3 rw-p", "3-4 rw-p", "4-16 rw-p",
                               "20-24 ---p", "24-28 r--p" })
  lu.assertEquals(vmlck(m, p), 8)
  lu.assertTrue(p:munlock(BASE, 16 * P))                  -- all merged again
  lu.assertEquals(window(p), { "0-16 rw-p", "20-24 ---p", "24-28 r--p" })
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(m:check())
end

-- A hole: ENOMEM, the VMAs before it locked all the same, nothing populated.
function TestMlock:test_hole_and_prot_none()
  local m, p = self.m, self.p
  assert_errno("ENOMEM", 12, p:mlock(BASE + 10 * P, 12 * P))
  lu.assertEquals(window(p), { "0-10 rw-p", "10-16 rw-p", "20-24 ---p", "24-28 r--p" })
  lu.assertEquals(vmlck(m, p), 24)                        -- host: 24 kB
  lu.assertEquals(smaps_at(m, p, BASE + 10 * P).rss, 0)   -- no populate after the error
  -- PROT_NONE: locked (VmFlags lo, counted) but GUP faults nothing in: ENOMEM
  assert_errno("ENOMEM", 12, p:mlock(BASE + 20 * P, 4 * P))
  lu.assertEquals(vmlck(m, p), 40)
  lu.assertStrContains(smaps_at(m, p, BASE + 20 * P).flags, " lo")
  assert_errno("ENOMEM", 12, p:mlock(BASE + 17 * P, P))   -- starts in the hole
  assert_errno("ENOMEM", 12, p:munlock(BASE + 17 * P, P))
  -- munlock stops at the hole too, after unlocking what precedes it
  assert_errno("ENOMEM", 12, p:munlock(BASE, 64 * P))
  lu.assertEquals(vmlck(m, p), 16)                        -- the PROT_NONE VMA stays locked
  lu.assertTrue(m:check())
end

-- Lengths that wrap, addresses beyond TASK_SIZE, unknown flags (host: same errno).
function TestMlock:test_huge_and_bad_arguments()
  local m, p = self.m, self.p
  lu.assertTrue(p:mlock(BASE, -1))                  -- PAGE_ALIGN(2^64 - 1) wraps to 0: nothing
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(p:mlock(BASE + 5, -4))              -- len + offset wraps to 1: one page
  lu.assertEquals(p:mm().locked_vm, 1)
  assert_errno("ENOMEM", 12, p:mlock(BASE, 1 << 63)) -- up to the hole at 16
  lu.assertEquals(p:mm().locked_vm, 16)
  assert_errno("EINVAL", 22, p:mlock(BASE, -BASE))   -- end wraps to 0
  assert_errno("ENOMEM", 12, p:mlock(BASE, -BASE - P))
  lu.assertTrue(p:munlock(BASE, -1))
  assert_errno("ENOMEM", 12, p:munlock(BASE, 1 << 63))
  lu.assertEquals(p:mm().locked_vm, 0)
  assert_errno("ENOMEM", 12, p:mlock(1 << 47, P))    -- TASK_SIZE and up: no VMA
  assert_errno("EINVAL", 22, p:mlock(-1, P))         -- start + 2 pages wraps
  assert_errno("EINVAL", 22, p:munlock(-1, P))
  lu.assertTrue(p:mlock(BASE, 0))
  lu.assertTrue(p:munlock(BASE + 17 * P, 0))          -- len 0: no VMA needed
  assert_errno("EINVAL", 22, p:mlock(BASE, P, 2))     -- mlock2's unknown flag
  assert_errno("EINVAL", 22, p:mlock(BASE, P, 0x80000000))
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(m:check())
end

-- mlock2(MLOCK_ONFAULT): VmFlags "lo lf", nothing populated; a touch locks the page.
function TestMlock:test_onfault()
  local m, p = self.m, self.p
  lu.assertTrue(p:mlock(BASE + 12 * P, 2 * P, "onfault"))
  lu.assertEquals(window(p), { "0-12 rw-p", "12-14 rw-p", "14-16 rw-p", "20-24 ---p", "24-28 r--p" })
  local s = smaps_at(m, p, BASE + 12 * P)
  lu.assertEquals({ s.rss, s.locked }, { 0, 0 })
  lu.assertStrContains(s.flags, " lo lf ")
  lu.assertEquals(vmlck(m, p), 8)                          -- counted all the same
  assert(p:touch(BASE + 12 * P, 1, "w"))
  s = smaps_at(m, p, BASE + 12 * P)
  lu.assertEquals({ s.rss, s.locked }, { 4, 4 })
  -- the new page is mlocked at once and waits in the mlock batch (mlock_new_folio)
  local pg = m:page(p:translate(BASE + 12 * P).pfn)
  lu.assertTrue(pg.mlocked)
  lu.assertNil(pg.lru_list)
  m:lru_add_drain_all()
  lu.assertEquals(m:page(p:translate(BASE + 12 * P).pfn).lru_list, "unevictable")
  -- plain mlock over it drops VM_LOCKONFAULT: the VMAs merge, the rest is populated
  lu.assertTrue(p:mlock(BASE + 12 * P, 4 * P))
  lu.assertEquals(window(p), { "0-12 rw-p", "12-16 rw-p", "20-24 ---p", "24-28 r--p" })
  s = smaps_at(m, p, BASE + 12 * P)
  lu.assertEquals({ s.rss, s.locked }, { 16, 16 })
  lu.assertNotStrContains(s.flags, "lf")
  -- the page was locked once, by the first mlock: one munlock frees it
  lu.assertTrue(p:munlock(BASE, 16 * P))
  lu.assertEquals(m:page(p:translate(BASE + 12 * P).pfn).lru_list, "inactive_anon")
  lu.assertEquals(m:page(p:translate(BASE + 13 * P).pfn).lru_list, "inactive_anon")
  -- ONFAULT on PROT_NONE populates nothing, so it succeeds
  lu.assertTrue(p:mlock(BASE + 20 * P, 4 * P, memlab.MLOCK_ONFAULT))
  lu.assertTrue(m:check())
end

-- What populate meets (host: a C program's mlock, RssAnon and VmLck deltas):
-- an exec-only mapping is read through the zero page (no RSS), a write-only
-- one written; a file mapping past the end of its file is SIGBUS to GUP,
-- EFAULT, which mlock reports as ENOMEM -- the VMA locked all the same.
function TestMlock:test_populate_outcomes()
  local m, p = self.m, self.p
  local a = assert(p:mmap(BASE + 32 * P, 4 * P, "x", "private|anonymous|fixed"))
  lu.assertTrue(p:mlock(a, 4 * P))
  lu.assertEquals(smaps_at(m, p, a).rss, 0)
  local b = assert(p:mmap(BASE + 40 * P, 4 * P, "w", "private|anonymous|fixed"))
  lu.assertTrue(p:mlock(b, 4 * P))
  lu.assertEquals(smaps_at(m, p, b).rss, 16)
  local f = m:file{ path = "/data/short", size = 2 * P }
  local c = assert(p:mmap(BASE + 48 * P, 4 * P, "r", "private|fixed", f, 0))
  assert_errno("ENOMEM", 12, p:mlock(c, 4 * P))
  local s = smaps_at(m, p, c)
  lu.assertEquals({ s.rss, s.locked }, { 8, 8 })           -- the two pages of the file, locked
  lu.assertEquals(p:mm().locked_vm, 12)
  lu.assertTrue(m:check())
end

-- The LRU side (host: /proc/vmstat deltas): mlock of 8 pages, 4 present, counts
-- 8 mlocked and 8 culled; munlock 8 munlocked and 8 rescued.
function TestMlock:test_lru_counters()
  local m, p = self.m, self.p
  for i = 0, 3 do assert(p:touch(BASE + i * P, 1, "w")) end
  local function delta(before)
    local v, d = m:vmstat(), {}
    for _, k in ipairs({ "unevictable_pgs_mlocked", "unevictable_pgs_culled",
                         "unevictable_pgs_munlocked", "unevictable_pgs_rescued", "nr_mlock" }) do
      d[#d + 1] = v[k] - before[k]
    end
    return d
  end
  local v = m:vmstat()
  lu.assertTrue(p:mlock(BASE, 8 * P))
  lu.assertEquals(delta(v), { 8, 8, 0, 0, 8 })
  -- mlock drains the CPU's batches around its walk: on the list at once
  lu.assertEquals(m:page(p:translate(BASE).pfn).lru_list, "unevictable")
  v = m:vmstat()
  lu.assertTrue(p:munlock(BASE, 8 * P))
  lu.assertEquals(delta(v), { 0, 0, 8, 8, -8 })
  lu.assertEquals(m:page(p:translate(BASE).pfn).lru_list, "inactive_anon")
  v = m:vmstat()
  lu.assertTrue(p:mlock(BASE, P))
  lu.assertTrue(p:mlock(BASE, P))                          -- the second changes nothing
  lu.assertEquals(delta(v), { 1, 1, 0, 0, 1 })
  assert_errno("EINVAL", 22, p:madvise(BASE, P, "dontneed"))  -- locked memory
  lu.assertTrue(m:check())
end

-- A page two mappings lock stays unevictable until the last goes (Linux's
-- mlock_count); a fork child's copy is not locked.
function TestMlock:test_shared_page_munlock()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/f", size = 4 * P }
  local a = assert(p:mmap(BASE + 32 * P, 4 * P, "r", "shared", f, 0))
  local b = assert(p:mmap(BASE + 40 * P, 4 * P, "r", "shared", f, 0))
  lu.assertTrue(p:mlock(a, 4 * P))
  lu.assertTrue(p:mlock(b, 4 * P))
  local pfn = p:translate(a).pfn
  lu.assertEquals(p:translate(b).pfn, pfn)
  lu.assertTrue(p:munlock(a, 4 * P))
  lu.assertEquals(m:page(pfn).lru_list, "unevictable")    -- b still locks it
  lu.assertTrue(p:munlock(b, 4 * P))
  lu.assertEquals(m:page(pfn).lru_list, "inactive_file")
  lu.assertTrue(p:mlock(BASE, 4 * P))
  local c = p:fork()
  lu.assertEquals(c:mm().locked_vm, 0)
  lu.assertNotStrContains(smaps_at(m, c, BASE).flags, "lo")
  lu.assertTrue(m:check())
end

-- A page's mlock_count counts its VM_LOCKED mappings through munmap and
-- exit as through munlock; a fork child's copy is not locked, so a COW copy
-- in the locked parent leaves the child's page evictable at once.
function TestMlock:test_mlock_count_follows_the_mappings()
  local m, p = self.m, self.p
  local f = m:file{ path = "/data/g", size = 4 * P }
  local a = assert(p:mmap(BASE + 32 * P, 4 * P, "r", "shared|locked", f, 0))
  local q = m:spawn{ aslr = false, root = true }
  local b = assert(q:mmap(BASE + 32 * P, 4 * P, "r", "shared|locked", f, 0))
  local pfn = p:translate(a).pfn
  lu.assertEquals(q:translate(b).pfn, pfn)
  lu.assertTrue(p:munmap(a, 4 * P))
  lu.assertEquals(m:page(pfn).lru_list, "unevictable")	-- q still locks it
  q:exit()
  lu.assertEquals(m:page(pfn).lru_list, "unevictable")	-- the munlocks wait in the mlock batch
  m:lru_add_drain_all()
  lu.assertEquals(m:page(pfn).lru_list, "inactive_file")
  local c0 = assert(p:mmap(BASE + 48 * P, 2 * P, "rw", "private|anonymous|locked"))
  local anon = p:translate(c0).pfn
  local c = assert(p:fork())
  lu.assertEquals(m:page(anon).lru_list, "unevictable")
  assert(p:write(c0, "x"))				-- the parent copies; the child keeps the old page
  lu.assertEquals(c:translate(c0).pfn, anon)
  lu.assertEquals(m:page(anon).lru_list, "unevictable")	-- its munlock waits in the mlock batch
  m:lru_add_drain_all()
  lu.assertEquals(m:page(anon).lru_list, "inactive_anon")
  lu.assertEquals(m:page(p:translate(c0).pfn).lru_list, "unevictable")
  c:exit()
  lu.assertTrue(m:check())
end

-- MCL_CURRENT|MCL_ONFAULT marks every VMA "lo lf" and faults nothing in.
function TestMlock:test_mlockall_current_onfault()
  local m, p = self.m, self.p
  local rss = p:mm().rss_anon
  lu.assertTrue(p:mlockall("current|onfault"))
  lu.assertStrContains(smaps_at(m, p, BASE).flags, " lo lf ")
  lu.assertEquals(p:mm().rss_anon, rss)
  lu.assertTrue(p:munlockall())
  lu.assertNotStrContains(smaps_at(m, p, BASE).flags, " lo")
  lu.assertTrue(m:check())
end

-- Only a VMA that changes splits the huge pages it cuts (vma_adjust_trans_huge
-- under vma_modify_flags): munlock of unlocked memory, mlock inside locked
-- memory and a range that fails at a hole first split nothing (the 6.18 host:
-- AnonHugePages 8192 kB and thp_split_pmd unchanged in each case).
function TestMlock:test_huge_pages_split_only_where_flags_change()
  local m = self.m
  local p = m:spawn{ aslr = false, root = true }
  local B, HP = 0x7e0000000000, 2 * 1024 * 1024
  assert(p:mmap(B, 4 * HP, "rw", "private|anonymous|fixed"))
  assert(p:madvise(B, 4 * HP, "hugepage"))
  assert(p:touch(B, 4 * HP, "w"))
  local split = m:vmstat().thp_split_pmd
  lu.assertTrue(p:munlock(B + P, P))
  lu.assertTrue(p:mlock(B + HP, HP))
  lu.assertTrue(p:mlock(B + HP + P, P))
  assert(p:munmap(B + 3 * HP, HP))
  assert_errno("ENOMEM", 12, p:mlock(B + 2 * HP, 2 * HP))	-- the hole comes after one VMA
  lu.assertEquals(m:vmstat().thp_split_pmd, split)
  lu.assertEquals(p:translate(B + P).size, HP)
  lu.assertTrue(p:munlock(B + HP + P, P))			-- now the locked VMA changes
  lu.assertEquals(m:vmstat().thp_split_pmd, split + 1)
  lu.assertTrue(m:check())
end

-- mlockall: Linux's EINVAL rules; MCL_FUTURE locks later mmaps (def_flags);
-- munlockall undoes both.
function TestMlock:test_mlockall()
  local m, p = self.m, self.p
  assert_errno("EINVAL", 22, p:mlockall(0))
  assert_errno("EINVAL", 22, p:mlockall("onfault"))
  assert_errno("EINVAL", 22, p:mlockall(8))
  lu.assertTrue(p:mlockall("future|onfault"))
  lu.assertEquals(p:mm().locked_vm, 0)                     -- nothing locked now
  local a = assert(p:mmap(BASE + 40 * P, 4 * P, "rw", "private|anonymous|fixed"))
  local s = smaps_at(m, p, a)
  lu.assertStrContains(s.flags, " lo lf ")                 -- host: "rd wr mr mw me lo lf ac"
  lu.assertEquals(s.rss, 0)
  lu.assertEquals(p:mm().locked_vm, 4)
  lu.assertTrue(p:mlockall("future"))                      -- populated now
  local b = assert(p:mmap(BASE + 48 * P, 4 * P, "rw", "private|anonymous|fixed"))
  lu.assertEquals(smaps_at(m, p, b).locked, 16)
  lu.assertTrue(p:munlockall())
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertNotStrContains(smaps_at(m, p, a).flags, "lo")
  local c = assert(p:mmap(BASE + 56 * P, 4 * P, "rw", "private|anonymous|fixed"))
  lu.assertNotStrContains(smaps_at(m, p, c).flags, "lo")
  -- MCL_CURRENT: every VMA locked and populated (the stack, the image...)
  lu.assertTrue(p:mlockall("current"))
  local total = 0
  for _, v in ipairs(p:vmas()) do
    if v.vm_flags & 0x2000 ~= 0 then total = total + (v["end"] - v.start) // P end
  end
  lu.assertEquals(p:mm().locked_vm, total)
  lu.assertEquals(smaps_at(m, p, BASE).locked, 64)
  lu.assertTrue(p:munlockall())
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(m:check())
end

-- MAP_DROPPABLE memory cannot be mlocked: a droppable mapping made under
-- mlockall(MCL_FUTURE) is not VM_LOCKED (__mmap_complete leaves out what
-- mlock_fixup would skip), but it is populated all the same -- do_mmap() saw
-- VM_LOCKED in def_flags -- with MCL_ONFAULT too, the VMA not being
-- VM_LOCKONFAULT.  So mlock2(MLOCK_ONFAULT) of a PROT_NONE one populates
-- and fails.  Host: VmFlags "rd wr mr mw me nr wf dd dp", Rss 16 kB, Locked
-- 0 kB; mlock2 ENOMEM for the PROT_NONE one, 0 for the other.
function TestMlock:test_mlockall_future_droppable()
  local m, p = self.m, self.p
  lu.assertTrue(p:mlockall("future|onfault"))
  local a = assert(p:mmap(BASE + 40 * P, 4 * P, "rw", "droppable|anonymous|fixed"))
  local s = smaps_at(m, p, a)
  lu.assertEquals(s.flags, "rd wr mr mw me nr wf dd dp ")
  lu.assertEquals({ s.rss, s.locked }, { 16, 0 })
  lu.assertTrue(p:mlockall("future"))
  local b = assert(p:mmap(BASE + 48 * P, 4 * P, "rw", "droppable|anonymous|fixed"))
  s = smaps_at(m, p, b)
  lu.assertEquals(s.flags, "rd wr mr mw me nr wf dd dp ")
  lu.assertEquals({ s.rss, s.locked }, { 16, 0 })
  local c = assert(p:mmap(BASE + 56 * P, 4 * P, "---", "droppable|anonymous|fixed"))
  lu.assertEquals(smaps_at(m, p, c).flags, "mr mw me nr wf dd dp ")
  assert_errno("ENOMEM", 12, p:mlock(c, P, "onfault"))
  lu.assertTrue(p:mlock(b, P, "onfault"))
  lu.assertEquals(smaps_at(m, p, b).flags, "rd wr mr mw me nr wf dd dp ")
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(p:munlockall())
  lu.assertTrue(m:check())
end

-- RLIMIT_MEMLOCK without CAP_IPC_LOCK (host: a setuid(nobody) child with an
-- 8-page limit).  Pages already locked in the range are not counted twice.
function TestMlock:test_rlimit_memlock()
  local m = self.m
  local p = m:spawn{ aslr = false, rlimit_memlock = 8 * P }
  layout(p)
  lu.assertTrue(p:mlock(BASE, 8 * P))
  lu.assertTrue(p:mlock(BASE + 4 * P, 4 * P))             -- within what is locked
  assert_errno("ENOMEM", 12, p:mlock(BASE + 4 * P, 8 * P)) -- 8 + 8 - 4 > 8
  assert_errno("ENOMEM", 12, p:mlock(BASE, 9 * P))
  assert_errno("ENOMEM", 12, p:munlock(BASE, 64 * P))      -- the hole
  lu.assertEquals(p:mm().locked_vm, 0)
  assert_errno("ENOMEM", 12, p:mlockall("current"))        -- total_vm over the limit
  lu.assertTrue(p:mlockall("future"))
  assert_errno("EAGAIN", 11, p:mmap(nil, 9 * P, "rw", "private|anonymous")) -- mlock_future_ok
  lu.assertTrue(p:munlockall())
  lu.assertTrue(m:check())
end

function TestMlock:test_bad_lua_arguments()
  local p = self.p
  local bad_addrs = { NIL, {}, "1", true, NAN, INF, TWO63, 0.5 }
  local bad_lens = { NIL, {}, "x", "-4K", true, NAN, INF, TWO63, 0.5 }
  assert_rejects(p, "mlock", { BASE, P }, 1, bad_addrs)
  assert_rejects(p, "mlock", { BASE, P }, 2, bad_lens)
  assert_rejects(p, "mlock", { BASE, P, "x" }, 3, { "bogus", {}, true, NAN, 0.5 })
  assert_rejects(p, "munlock", { BASE, P }, 1, bad_addrs)
  assert_rejects(p, "munlock", { BASE, P }, 2, bad_lens)
  assert_rejects(p, "mlockall", { "current" }, 1, { NIL, "bogus", {}, true, NAN, 0.5 })
  assert_raises({ "mlock", "unknown mlock flag 'bogus'" }, p.mlock, p, BASE, P, "bogus")
  lu.assertTrue(p:mlock(BASE, P, "MLOCK_ONFAULT"))
  lu.assertTrue(p:mlockall("MCL_CURRENT|mcl_future"))
  lu.assertTrue(p:munlockall())
end
os.exit(lu.LuaUnit.run(), true)
