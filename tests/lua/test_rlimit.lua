-- test_rlimit.lua: p:getrlimit and p:setrlimit (docs/lua-api.md,
-- "p:getrlimit"), spawn's rlimit options, and what RLIMIT_MEMLOCK does to
-- mlock, mlock2, munlock and mlockall without CAP_IPC_LOCK.
--
-- Run from the source root:  build/memlab run tests/lua/test_rlimit.lua -o text
-- Every expected value was checked on a Linux 6.18 x86-64 host with a small
-- C program (getrlimit, prlimit64 on itself, fork, pthread_create, mlock,
-- mlock2, munlock, mlockall, mmap MAP_LOCKED on four anonymous pages) run as
-- root and as nobody (setpriv --reuid=nobody --inh-caps=-all); the comments
-- say what the host gave.  The host's root had no CAP_SYS_RESOURCE (a
-- container), so root raising a hard limit is Linux's do_prlimit as read,
-- not something the host showed.

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")
local NAN, INF, NIL = H.NAN, H.INF, H.NIL
local assert_rejects, assert_errno, assert_raises = H.assert_rejects, H.assert_errno, H.assert_raises

local P = 4096
local M = 1 << 20

-- { name, cur, max } of each resource, as p:getrlimit gives them.
local function limits(p)
  local out = {}
  for _, name in ipairs({ "stack", "data", "as", "memlock" }) do
    local cur, max = p:getrlimit(name)
    out[#out + 1] = { name, cur, max }
  end
  return out
end

TestRlimit = {}

function TestRlimit:setUp()
  self.m = memlab.new{ ram = "64M", seed = 1 }
end

function TestRlimit:tearDown()
  self.m:close()
end

-- Host, as root and as nobody alike (/proc/self/limits the same):
-- stack 8388608 / unlimited, data and as unlimited, memlock 8388608 / 8388608.
function TestRlimit:test_defaults()
  local m = self.m
  local want = { { "stack", 8 * M, INF }, { "data", INF, INF }, { "as", INF, INF },
                 { "memlock", 8 * M, 8 * M } }
  lu.assertEquals(limits(m:spawn{ aslr = false }), want)
  lu.assertEquals(limits(m:spawn{ aslr = false, root = true }), want)
  local p = m:spawn{ aslr = false }
  for _, name in ipairs({ "RLIMIT_MEMLOCK", "rlimit_memlock", "Memlock", "MEMLOCK" }) do
    lu.assertEquals({ p:getrlimit(name) }, { 8 * M, 8 * M }, name)
  end
  lu.assertEquals(math.type((p:getrlimit("stack"))), "integer")
end

-- spawn's options give the soft limit, 0 included (but for the stack); the
-- hard limit is the default's, or the soft limit where that is higher.
function TestRlimit:test_spawn_options()
  local m = self.m
  local p = m:spawn{ aslr = false, rlimit_memlock = 0, rlimit_data = "64K", stack = "unlimited" }
  lu.assertEquals(limits(p), { { "stack", INF, INF }, { "data", 65536, INF }, { "as", INF, INF },
                               { "memlock", 0, 8 * M } })
  p = m:spawn{ aslr = false, rlimit_memlock = "16M", rlimit_as = "1G", stack = math.huge }
  lu.assertEquals(limits(p), { { "stack", INF, INF }, { "data", INF, INF }, { "as", 1 << 30, INF },
                               { "memlock", 16 * M, 16 * M } })
  lu.assertEquals({ m:spawn{ rlimit_data = "unlimited" }:getrlimit("data") }, { INF, INF })
  for _, opts in ipairs({ { stack = 0 }, { rlimit_memlock = -1 }, { rlimit_as = -INF },
                          { rlimit_data = NAN }, { rlimit_memlock = "Unlimited" } }) do
    local ok, err = H.try(m.spawn, m, opts)
    lu.assertFalse(ok, "spawn" .. H.show(opts) .. " should raise")
    lu.assertTrue(H.names(err, "spawn"), err)
  end
end

-- do_prlimit's checks in their order, and getrlimit after.  Host, as nobody:
--   prlimit(16, 0, 0), prlimit(99, 0, 0)          EINVAL
--   stack 2M / 1M, memlock 16M / 8M               EINVAL (cur > max)
--   memlock 0 / 16M, 0 / unlimited                EPERM (max raised)
--   memlock 0 / 8M, 8M / 8M, 0 / 4M               0
--   memlock 0 / 8M                                EPERM, then 0 / 4M
--   stack 1M / unlimited, data 1G / 2G, as unlimited / unlimited, as 4G / 4G,
--   memlock 0 / 0                                 0
function TestRlimit:test_setrlimit()
  local p = self.m:spawn{ aslr = false }
  assert_errno("EINVAL", 22, p:setrlimit("stack", "2M", "1M"))
  assert_errno("EINVAL", 22, p:setrlimit("memlock", "16M", "8M"))
  assert_errno("EPERM", 1, p:setrlimit("memlock", 0, "16M"))
  assert_errno("EPERM", 1, p:setrlimit("memlock", 0, "unlimited"))
  assert_errno("EPERM", 1, p:setrlimit("memlock", 0, math.huge))
  lu.assertTrue(p:setrlimit("memlock", 0, "8M"))
  lu.assertEquals({ p:getrlimit("memlock") }, { 0, 8 * M })
  lu.assertTrue(p:setrlimit("memlock", "8M", "8M"))      -- up to the hard limit
  lu.assertTrue(p:setrlimit("memlock", 0, "4M"))
  assert_errno("EPERM", 1, p:setrlimit("memlock", 0, "8M")) -- not back up
  lu.assertEquals({ p:getrlimit("memlock") }, { 0, 4 * M })
  lu.assertTrue(p:setrlimit("stack", "1M", "unlimited"))
  lu.assertTrue(p:setrlimit("data", "1G", "2G"))
  lu.assertTrue(p:setrlimit("as", "unlimited", "unlimited"))
  lu.assertTrue(p:setrlimit("as", "4G", "4G"))
  lu.assertTrue(p:setrlimit("RLIMIT_MEMLOCK", 0, 0))
  lu.assertEquals(limits(p), { { "stack", M, INF }, { "data", 1 << 30, 2 << 30 },
                               { "as", 4 << 30, 4 << 30 }, { "memlock", 0, 0 } })
  -- without max the hard limit stays
  lu.assertTrue(p:setrlimit("data", "64K"))
  lu.assertEquals({ p:getrlimit("data") }, { 65536, 2 << 30 })
  assert_errno("EINVAL", 22, p:setrlimit("data", "4G"))
  -- root (CAP_SYS_RESOURCE) may raise the hard limit
  local r = self.m:spawn{ aslr = false, root = true }
  lu.assertTrue(r:setrlimit("memlock", 0, "unlimited"))
  lu.assertEquals({ r:getrlimit("memlock") }, { 0, INF })
  lu.assertTrue(r:setrlimit("memlock", "1G"))
  lu.assertEquals({ r:getrlimit("memlock") }, { 1 << 30, INF })
end

-- Host: a fork child has the parent's limits (stack 1048576 / unlimited,
-- data 1073741824 / 2147483648, as 4294967296 / 4294967296, memlock 0 / 0);
-- a limit a thread sets is its process's (main then sees memlock 0 / 4194304).
function TestRlimit:test_fork_and_threads()
  local p = self.m:spawn{ aslr = false }
  lu.assertTrue(p:setrlimit("stack", "1M", "unlimited"))
  lu.assertTrue(p:setrlimit("data", "1G", "2G"))
  lu.assertTrue(p:setrlimit("as", "4G", "4G"))
  lu.assertTrue(p:setrlimit("memlock", 0, 0))
  local c = p:fork()
  local want = { { "stack", M, INF }, { "data", 1 << 30, 2 << 30 }, { "as", 4 << 30, 4 << 30 },
                 { "memlock", 0, 0 } }
  lu.assertEquals(limits(c), want)
  lu.assertTrue(c:setrlimit("data", "1M", "1M"))
  lu.assertEquals(limits(p), want)                      -- the child's own copy
  local q = self.m:spawn{ aslr = false }
  local t = q:thread()
  lu.assertTrue(t:setrlimit("memlock", 0, "4M"))
  lu.assertEquals({ q:getrlimit("memlock") }, { 0, 4 * M })
  lu.assertEquals({ q:clone{ vm = true }:getrlimit("memlock") }, { 0, 4 * M })
  lu.assertTrue(self.m:check())
end

-- The host's calls in order on four anonymous rw- pages at a, with
-- RLIMIT_MEMLOCK set to 0, 100, 4096 and 12288 bytes (soft and hard), as
-- nobody and (limit 0) as root.  Each row: the call, then what the host gave
-- for each column ("ok" for 0).  EPERM comes before everything but mlock2's
-- and mlockall's EINVAL for flags, the length's wrap included: mlock(a + P,
-- -P) is EPERM with 0, ENOMEM with a limit (locked pages past it), EINVAL
-- for root (end < start).
local MLOCK_CASES = {
  --                                               nobody 0  nobody 100  nobody 4096  nobody 12288  root 0
  { "mlock(a, 0)",             "mlock", 0, 0,        { "EPERM", "ok",     "ok",     "ok",     "ok" } },
  { "mlock(a, P)",             "mlock", 0, P,        { "EPERM", "ENOMEM", "ok",     "ok",     "ok" } },
  { "mlock(a, 2P)",            "mlock", 0, 2 * P,    { "EPERM", "ENOMEM", "ENOMEM", "ok",     "ok" } },
  { "mlock(a, -1)",            "mlock", 0, -1,       { "EPERM", "ok",     "ok",     "ok",     "ok" } },
  { "mlock(a + P, -P)",        "mlock", P, -P,       { "EPERM", "ENOMEM", "ENOMEM", "ENOMEM", "EINVAL" } },
  { "mlock2(a, P, 2)",         "mlock", 0, P, 2,     { "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL" } },
  { "mlock2(a, P, ONFAULT)",   "mlock", 0, P, "onfault", { "EPERM", "ENOMEM", "ok", "ok",     "ok" } },
  { "munlock(a, P)",           "munlock", 0, P,      { "ok",    "ok",     "ok",     "ok",     "ok" } },
  { "munlockall()",            "munlockall",         { "ok",    "ok",     "ok",     "ok",     "ok" } },
  { "mlockall(0)",             "mlockall", 0,        { "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL" } },
  { "mlockall(ONFAULT)",       "mlockall", "onfault", { "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL" } },
  { "mlockall(8)",             "mlockall", 8,        { "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL" } },
  { "mlockall(CURRENT)",       "mlockall", "current", { "EPERM", "ENOMEM", "ENOMEM", "ENOMEM", "ok" } },
  { "mlockall(FUTURE)",        "mlockall", "future", { "EPERM", "ok",     "ok",     "ok",     "ok" } },
  { "mlockall(CURRENT|ONFAULT)", "mlockall", "current|onfault",
                                                     { "EPERM", "ENOMEM", "ENOMEM", "ENOMEM", "ok" } },
  { "munlockall()",            "munlockall",         { "ok",    "ok",     "ok",     "ok",     "ok" } },
  { "mmap(P, MAP_LOCKED)",     "mmap_locked",        { "EPERM", "EAGAIN", "ok",     "ok",     "ok" } },
}
local COLUMNS = { { 0, false }, { 100, false }, { 4096, false }, { 12288, false }, { 0, true } }

-- Run one row on p at a: "ok" or the errno name.
local function run_case(p, a, case)
  local r
  if case[2] == "mlock" or case[2] == "munlock" then
    local off, len, flags = case[3], case[4], case[5]
    if type(flags) == "table" then flags = nil end
    r = table.pack(p[case[2]](p, a + off, len, flags))
  elseif case[2] == "mlockall" then
    r = table.pack(p:mlockall(case[3]))
  elseif case[2] == "munlockall" then
    r = table.pack(p:munlockall())
  else
    r = table.pack(p:mmap(nil, P, "rw", "private|anonymous|locked"))
  end
  if r[1] then return "ok" end
  return r[2]
end

function TestRlimit:test_mlock_table()
  for col, c in ipairs(COLUMNS) do
    local m = memlab.new{ ram = "64M", seed = 1 }
    local p = m:spawn{ aslr = false, root = c[2] }
    lu.assertTrue(p:setrlimit("memlock", c[1], c[1]))
    local a = assert(p:mmap(nil, 4 * P, "rw", "private|anonymous"))
    for _, case in ipairs(MLOCK_CASES) do
      local want = case[#case][col]
      lu.assertEquals(run_case(p, a, case), want,
                      string.format("%s with RLIMIT_MEMLOCK %d%s", case[1], c[1], c[2] and " as root" or ""))
    end
    lu.assertTrue(m:check())
    m:close()
  end
end

-- Lowering RLIMIT_MEMLOCK below what is locked unlocks nothing; the next
-- mlock counts all that is locked outside its range against the new limit,
-- and with 0 is EPERM.  Host, as nobody: mlock(a, 4P) 0, soft limit 4096,
-- VmLck 16 kB, mlock(a, 4P) ENOMEM, munlock(a, 2P) 0, mlock(a, P) ENOMEM,
-- mlock(a + 2P, P) ENOMEM, soft limit 0, mlock(a + 2P, P) EPERM,
-- munlockall 0, VmLck 0 kB.
function TestRlimit:test_lower_under_locked()
  local p = self.m:spawn{ aslr = false }
  local a = assert(p:mmap(nil, 4 * P, "rw", "private|anonymous"))
  lu.assertTrue(p:mlock(a, 4 * P))
  lu.assertTrue(p:setrlimit("memlock", P))
  lu.assertEquals(p:mm().locked_vm, 4)
  assert_errno("ENOMEM", 12, p:mlock(a, 4 * P))        -- 4 + 4 - 4 > 1
  lu.assertTrue(p:munlock(a, 2 * P))
  assert_errno("ENOMEM", 12, p:mlock(a, P))            -- 2 + 1 > 1
  assert_errno("ENOMEM", 12, p:mlock(a + 2 * P, P))    -- 2 + 1 - 1 > 1
  lu.assertTrue(p:setrlimit("memlock", 0))
  assert_errno("EPERM", 1, p:mlock(a + 2 * P, P))
  lu.assertTrue(p:munlockall())
  lu.assertEquals(p:mm().locked_vm, 0)
  lu.assertTrue(self.m:check())
end

function TestRlimit:test_bad_lua_arguments()
  local p = self.m:spawn{ aslr = false }
  local bad_names = { NIL, 8, {}, true, "nofile", "", "RLIMIT_", "memlock\0", "rlimit memlock" }
  local bad_sizes = { NIL, -1, -INF, NAN, 0.5, "x", "-4K", "Unlimited", {}, true }
  assert_rejects(p, "getrlimit", { "memlock" }, 1, bad_names)
  assert_rejects(p, "setrlimit", { "memlock", 0 }, 1, bad_names)
  assert_rejects(p, "setrlimit", { "memlock", 0 }, 2, bad_sizes)
  assert_rejects(p, "setrlimit", { "memlock", 0, 0 }, 3, { -1, -INF, NAN, 0.5, "x", {}, true })
  assert_raises({ "setrlimit", "#1", "unknown resource" }, function() return p:setrlimit("nofile", 0) end)
  assert_raises({ "setrlimit", "#2", "cur", ">= 0" }, function() return p:setrlimit("memlock", -1) end)
  assert_raises({ "setrlimit", "#3", "max" }, function() return p:setrlimit("memlock", 0, "x") end)
  lu.assertEquals({ p:getrlimit("memlock") }, { 8 * M, 8 * M })  -- nothing changed
  p:exit()
  assert_raises({ "getrlimit", "exited task" }, p.getrlimit, p, "memlock")
  assert_raises({ "setrlimit", "exited task" }, p.setrlimit, p, "memlock", 0)
end

os.exit(lu.LuaUnit.run(), true)
