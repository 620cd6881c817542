-- test_trace.lua: tracepoints through the Lua API (docs/lua-api.md,
-- "Tracing"): m:on, m:trace, m:trace_events, m:trace_dump, and what the
-- events say -- the mmap_lock sequences of Linux 6.18 (the same the host
-- showed in tests/diff/diff_vma), page faults of the task and of the
-- kernel, page allocations.
--
-- Run from the source root:  build/memlab run tests/lua/test_trace.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local LOCK = { "mmap_lock_start_locking", "mmap_lock_acquire_returned", "mmap_lock_released" }

-- The mmap_lock events of f() as diff_vma writes them: "Sw Aw Ar Rr".
local function lock_seq(m, f)
  m:trace{ events = LOCK, size = 256 }
  f()
  local words = {}
  for _, ev in ipairs(m:trace_events()) do
    local kind = ev.event == LOCK[1] and "S" or ev.event == LOCK[2] and "A" or "R"
    words[#words + 1] = kind .. (ev.write ~= 0 and "w" or "r")
  end
  m:trace(false)
  return table.concat(words, " ")
end

TestMmapLock = {}

function TestMmapLock:setUp()
  self.m = memlab.new{ ram = "64M", seed = 1 }
  self.p = self.m:spawn{ name = "app", aslr = false }
  self.a = assert(self.p:mmap(nil, 64 * PAGE, "rw-", "private|anonymous"))
end

function TestMmapLock:tearDown()
  self.m:close()
end

function TestMmapLock:test_system_calls()
  local m, p, a = self.m, self.p, self.a
  lu.assertEquals(lock_seq(m, function() p:mmap(nil, PAGE, "r--", "private|anonymous") end),
                  "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function() p:mprotect(a, PAGE, "r--") end), "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function() p:mprotect(a + 1, PAGE, "r--") end), "")  -- EINVAL first
  -- munmap downgrades to read before the pages go; with nothing there it
  -- just unlocks, and its argument checks come under the lock
  lu.assertEquals(lock_seq(m, function() p:munmap(a + PAGE, PAGE) end), "Sw Aw Ar Rr")
  lu.assertEquals(lock_seq(m, function() p:munmap(a + PAGE, PAGE) end), "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function() p:munmap(a + 1, PAGE) end), "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function() p:mremap(a + 8 * PAGE, 4 * PAGE, PAGE, 0) end),
                  "Sw Aw Ar Rr")
  lu.assertEquals(lock_seq(m, function() p:mremap(a, PAGE, 2 * PAGE, 0) end), "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function() p:brk(0) end), "Sw Aw Rw")
  lu.assertEquals(lock_seq(m, function()
    p:mmap(nil, 2 * PAGE, "rw-", "private|anonymous|populate") end), "Sw Aw Rw Sr Ar Rr")
  lu.assertEquals(lock_seq(m, function() p:msync(a + 16 * PAGE, PAGE) end), "Sr Ar Rr")
end

function TestMmapLock:test_brk_shrink_downgrades()
  local m, p = self.m, self.p
  local old = assert(p:sbrk(0))
  assert(p:brk(old + 16 * PAGE))
  lu.assertEquals(lock_seq(m, function() p:brk(old) end), "Sw Aw Ar Rr")
end

function TestMmapLock:test_madvise_lock_modes()
  local m, p, a = self.m, self.p, self.a
  lu.assertEquals(lock_seq(m, function() p:madvise(a, PAGE, "dontneed") end), "")  -- per-VMA
  lu.assertEquals(lock_seq(m, function() p:madvise(a, PAGE, "willneed") end), "Sr Ar Rr")
  lu.assertEquals(lock_seq(m, function() p:madvise(a, PAGE, "hugepage") end), "Sw Aw Rw")
  assert(p:mprotect(a + 2 * PAGE, PAGE, "r--"))       -- two VMAs: the mmap_lock after all
  lu.assertEquals(lock_seq(m, function() p:madvise(a, 4 * PAGE, "dontneed") end), "Sr Ar Rr")
end

function TestMmapLock:test_faults()
  local m, p, a = self.m, self.p, self.a
  -- the first anonymous page prepares the VMA's anon_vma under the mmap_lock
  lu.assertEquals(lock_seq(m, function() assert(p:write(a, "x")) end), "Sr Ar Rr")
  lu.assertEquals(lock_seq(m, function() assert(p:write(a + PAGE, "x")) end), "")
  lu.assertEquals(lock_seq(m, function() p:read(8, 1) end), "Sr Ar Rr")   -- no VMA
  assert(p:mprotect(a + 4 * PAGE, PAGE, "r--"))
  lu.assertEquals(lock_seq(m, function() p:write(a + 4 * PAGE, "x") end), "")  -- ACCERR
  local stack
  for _, v in ipairs(p:vmas()) do if v.name == "[stack]" then stack = v.start end end
  lu.assertEquals(lock_seq(m, function() assert(p:write(stack - PAGE, "x")) end),
                  "Sr Ar Rr Sw Aw Ar Rr")                               -- the stack grows
  local f = m:file{ name = "data", size = 16 * PAGE }
  local b = assert(p:mmap(nil, 16 * PAGE, "r--", "private", f, 0))
  lu.assertEquals(lock_seq(m, function() assert(p:read(b, 1)) end), "Sr Ar Rr")  -- read I/O
  lu.assertEquals(lock_seq(m, function() assert(p:read(b + PAGE, 1)) end), "")
end

-- A write that dirties a shared page drops the lock to balance dirty
-- pages (fault_dirty_shared_page); under GUP (MADV_POPULATE_WRITE) each
-- page's drop is a retake, and __get_user_pages_locked releases the lock
-- it retook, which madvise takes again: n + 2 cycles for n pages, as the
-- host shows; none when the pages are dirty and writable already.
function TestMmapLock:test_populate_write_of_shared_memory()
  local m, p = self.m, self.p
  local function cycles(f) return select(2, lock_seq(m, f):gsub("S", "")) end
  for _, n in ipairs{ 1, 3 } do
    local a = assert(p:mmap(nil, n * PAGE, "rw-", "shared|anonymous"))
    lu.assertEquals(cycles(function() assert(p:madvise(a, n * PAGE, "populate_write")) end), n + 2)
    lu.assertEquals(cycles(function() assert(p:madvise(a, n * PAGE, "populate_write")) end), 1)
  end
  local b = assert(p:mmap(nil, 2 * PAGE, "rw-", "private|anonymous"))
  lu.assertEquals(cycles(function() assert(p:madvise(b, 2 * PAGE, "populate_write")) end), 1)
end

function TestMmapLock:test_fork_and_exit()
  local m, p = self.m, self.p
  local c
  lu.assertEquals(lock_seq(m, function() c = p:fork() end), "Sw Aw Sw Aw Rw Rw")
  local t = p:thread()
  lu.assertEquals(lock_seq(m, function() t:exit() end), "Sr Ar Rr")           -- exit_mm
  lu.assertEquals(lock_seq(m, function() c:exit() end), "Sr Ar Rr Sr Ar Rr Sr Ar Rr Sw Aw Rw")
  lu.assertTrue(m:check())
end

function TestMmapLock:test_fields_and_text()
  local m, p = self.m, self.p
  m:trace{ events = LOCK }
  p:mmap(nil, PAGE, "r--", "private|anonymous")
  local ev = m:trace_events()
  lu.assertEquals(#ev, 3)
  lu.assertEquals(ev[2].event, "mmap_lock_acquire_returned")
  lu.assertEquals({ ev[2].write, ev[2].success, ev[2].memcg_id }, { 1, 1, 0 })
  lu.assertEquals(ev[1].mm, ev[3].mm)
  lu.assertEquals(ev[1].pid, p.pid)
  local text = m:trace_dump("text")
  lu.assertStrMatches(text:match("[^\n]*acquire_returned[^\n]*"),
    ".*mmap_lock_acquire_returned: mm=%x+ memcg_id=0 write=true success=true")
end

TestFaultEvents = {}

function TestFaultEvents:test_user_and_kernel_faults()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ aslr = false }
  local a = assert(p:mmap(nil, 4 * PAGE, "rw-", "private|anonymous"))
  local f = m:file{ name = "f", size = PAGE, writable = true }
  assert(f:write(0, "hello"))
  m:trace{ events = { "page_fault_user", "page_fault_kernel" } }
  assert(p:write(a, "x"))
  assert(p:pread(f, a + PAGE, 5, 0))          -- copy_to_user faults the page in
  local ev = m:trace_events()
  lu.assertEquals(#ev, 2)
  lu.assertEquals({ ev[1].event, ev[1].address, ev[1].error_code },
                  { "page_fault_user", a, 6 })               -- write | user
  lu.assertEquals({ ev[2].event, ev[2].address, ev[2].error_code },
                  { "page_fault_kernel", a + PAGE, 2 })      -- write, not user
  lu.assertEquals(p:read(a + PAGE, 5), "hello")
  -- access_ok() (arch/x86/include/asm/uaccess_64.h) refuses a kernel
  -- address before any copy: EFAULT and no fault at all
  m:trace{ events = { "page_fault_user", "page_fault_kernel" } }
  lu.assertEquals({ p:pread(f, -(1 << 47), 5, 0) }, { nil, "EFAULT", 14 })
  lu.assertEquals(#m:trace_events(), 0)
  m:close()
end

-- Outside user space no VMA is looked for: above TASK_SIZE_MAX the fault
-- is the kernel's half's (a page fault, no lock); a non-canonical address
-- is a general protection fault (no page fault at all, SIGSEGV SI_KERNEL).
-- GUP's faults (MADV_POPULATE_*) are not exceptions: no event.
function TestFaultEvents:test_no_vma_lookup_outside_user_space()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ aslr = false }
  local a = assert(p:mmap(nil, 4 * PAGE, "rw-", "private|anonymous"))
  local ev = { "page_fault_user", LOCK[1], LOCK[2], LOCK[3] }
  m:trace{ events = ev }
  local r = table.pack(p:read((1 << 47) - PAGE, 1))
  lu.assertEquals({ r[2], r[3] }, { "SIGSEGV", "SEGV_MAPERR" })
  lu.assertEquals(#m:trace_events(), 1)                    -- the fault, no lock
  m:trace{ events = ev }
  r = table.pack(p:read(1 << 47, 1))
  lu.assertEquals({ r[2], r[3] }, { "SIGSEGV", "SI_KERNEL" })
  lu.assertEquals(#m:trace_events(), 0)
  m:trace{ events = ev }
  assert(p:madvise(a, 4 * PAGE, "populate_write"))
  local names = {}
  for _, e in ipairs(m:trace_events()) do names[#names + 1] = e.event end
  lu.assertEquals(names, { LOCK[1], LOCK[2], LOCK[3] })    -- read lock, no fault events
  lu.assertEquals(p:mm().rss_anon, 4)
  m:close()
end

TestHooks = {}

function TestHooks:test_on_is_called_after_the_call_in_order()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ aslr = false }
  local seen = {}
  m:on("mmap_lock_start_locking", function(ev)
    seen[#seen + 1] = ev.write
    lu.assertTrue(m:check())                   -- the machine is consistent by then
  end)
  p:mmap(nil, PAGE, "r--", "private|anonymous")
  p:msync(0x555555554000, PAGE)
  lu.assertEquals(seen, { 1, 0 })
  m:on("mmap_lock_start_locking", nil)
  p:mmap(nil, PAGE, "r--", "private|anonymous")
  lu.assertEquals(#seen, 2)
  m:close()
end

function TestHooks:test_ring_and_dumps()
  local m = memlab.new{ ram = "64M", seed = 1 }
  local p = m:spawn{ aslr = false }
  m:trace{ events = "all", size = 4 }
  p:mmap(nil, PAGE, "rw-", "private|anonymous|populate")
  local ev, lost = m:trace_events()
  lu.assertEquals(#ev, 4)
  lu.assertTrue(lost > 0)
  for i = 2, 4 do lu.assertEquals(ev[i].ts, ev[i - 1].ts + 1) end
  local jsonl = m:trace_dump("jsonl")
  local n = 0
  for line in jsonl:gmatch("[^\n]+") do
    n = n + 1
    lu.assertNotNil(memlab.json.decode(line).event)
  end
  lu.assertEquals(n, 4)
  local chrome = memlab.json.decode(m:trace_dump("chrome"))
  lu.assertEquals(#chrome.traceEvents, 4)
  lu.assertEquals(chrome.traceEvents[1].pid, p.pid)
  m:close()
end

os.exit(lu.LuaUnit.run(), true)
