-- Every allocation failing in turn: fork, mmap and faults lose nothing
--
-- A kernel must survive any allocation failing: the call that needed the
-- memory reports ENOMEM (or the fault finds no page) and everything it had
-- taken is given back.  This lab runs one scenario -- spawn, mmap, faults,
-- a shared file mapping, fork, copy-on-write, mremap, mprotect, madvise,
-- brk -- over and over with Linux's fail_page_alloc point armed so that
-- the 1st, then the 2nd, then the 3rd... page allocation fails, the way
-- SQLite's out-of-memory tests sweep, until a run completes with no
-- failure left to inject.  After every run all processes exit, m:check()
-- must pass and every frame must be free again.  The sweep is
-- memlab.scenario.sweep; the lab also shows one failing run up close.

local memlab = require("memlab")
local scenario = require("memlab.scenario")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end

-- The scenario: what it does not get, it does without.  Returns a log.
local function run(m, log)
  local function note(what, ok, err)
    if log then log[#log + 1] = string.format("%-34s %s", what, ok and "ok" or tostring(err)) end
    return ok
  end
  local p, err = m:spawn{ name = "work", aslr = false }
  if not note("spawn", p, err) then return end
  local a
  a, err = p:mmap(0, "256K", "rw-", "private|anonymous")
  if not note("mmap 256K", a, err) then return end
  local ok = true
  for i = 0, 63 do ok, err = p:write(a + i * 4096, "x") if not ok then break end end
  note("write 64 pages", ok, err)
  local f = m:file{ path = "/data/f", contents = string.rep("y", 40000), writable = true }
  local b
  b, err = p:mmap(0, f.size, "rw-", "shared", f, 0)
  if note("mmap a file, shared", b, err) then
    note("read it", p:read(b, 100))
    note("write it", p:write(b + 8192, "z"))
  end
  local c
  c, err = p:fork()
  if note("fork", c, err) then
    for i = 0, 15 do ok, err = c:write(a + i * 4096, "c") if not ok then break end end
    note("child writes 16 shared pages", ok, err)
    note("child mremap 256K -> 512K", c:mremap(a, "256K", "512K", "maymove"))
  end
  note("mprotect 64K r--", p:mprotect(a, "64K", "r--"))
  note("madvise 128K dontneed", p:madvise(a, "128K", "dontneed"))
  note("sbrk 64K", p:sbrk("64K"))
  note("touch the heap", p:touch(p:sbrk(0) - 4096, 4096, "w"))
end

local MACHINE = { ram = "64M", seed = 3 }

------------------------------------------------------------------------------
section("1. The scenario without failures")

local ALL = { min_order = 0, ignore_gfp_highmem = false, ignore_gfp_wait = false, verbose = 0 }
local m = memlab.new(MACHINE)
assert(m:inject("fail_page_alloc", { probability = 0, min_order = 0, ignore_gfp_highmem = false,
                                     ignore_gfp_wait = false }))
local log = {}
run(m, log)
for _, line in ipairs(log) do print("  " .. line) end
local calls = m:injected("fail_page_alloc").calls
say("%d page allocations reached fail_page_alloc's decision (armed with probability 0", calls)
print("and none of its filters: by default it ignores order 0 and the GFP_HIGHUSER and")
print("GFP_KERNEL allocations that can reclaim, which is nearly all of these).")
m:close()

------------------------------------------------------------------------------
section("2. One run up close: the 40th allocation fails")

m = memlab.new(MACHINE)
local attrs = { probability = 100, interval = 40, times = 1 }
for k, v in pairs(ALL) do attrs[k] = v end
assert(m:inject("fail_page_alloc", attrs))
log = {}
run(m, log)
for _, line in ipairs(log) do print("  " .. line) end
local st = m:injected("fail_page_alloc")
say("The point decided %d times and failed once (fired = %d).", st.calls, st.fired)
assert(st.fired == 1)
for _, t in ipairs(m:tasks()) do t:exit() end
assert(m:check())
print("Whatever failed, the rest went on; after exit m:check() passes.")
m:close()

------------------------------------------------------------------------------
section("3. The sweep")

local r = scenario.sweep{ machine = MACHINE, run = function(mm) run(mm) end }
say("%d runs: allocation 1, 2, ..., %d failed in turn; run %d completed with no", r.runs,
    r.runs - 1, r.runs)
say("failure left to inject.  %d failures, each one survived: m:check() passed and every", r.injected)
print("frame was free again after each run.")
assert(r.runs == calls + 1 and r.injected == calls)

------------------------------------------------------------------------------
section("4. A probabilistic soak")

r = scenario.soak{ machine = MACHINE, run = function(mm) run(mm) end, runs = 30, probability = 5,
                   seed = 7 }
say("%d runs with each allocation failing with probability 5%% (seed 7): %d failures,", r.runs,
    r.injected)
print("nothing lost.")
assert(r.injected > 0)
