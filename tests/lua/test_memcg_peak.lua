-- test_memcg_peak.lua: memory.peak and memory.swap.peak per file
-- descriptor (Linux 6.12+, mm/memcontrol.c peak_show/peak_write): an fd
-- never written reads the global peak; a write (any non-empty text)
-- resets the cgroup's local peak to the usage and raises every other
-- written fd's peak to the usage; the written fd then reads the highest
-- usage since.  Also cg:open's file objects: other files through an fd,
-- rmdir under an open fd (ENODEV), closing, <close> and the GC.
--
-- Run from the source root:  build/memlab run tests/lua/test_memcg_peak.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local MiB = 1024 * 1024

-- A machine with an init in the root, a cgroup /box and a task p in it.
local function machine(opts)
  opts = opts or {}
  local m = memlab.new{ ram = "128M", seed = 1, swap = opts.swap }
  m:sysctl{ overcommit_memory = 1 }
  m:spawn{ name = "init", aslr = false }
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box", aslr = false }
  return m, cg, p
end

-- n bytes of fresh anonymous memory of p, written: its address.
local function fill(p, n)
  local a = assert(p:mmap(nil, n, "rw", "private|anonymous"))
  assert(p:touch(a, n, "w"))
  return a
end

-- A spike of n bytes of p in cg, gone again: cg's usage at its top.
local function spike(p, cg, n)
  local a = fill(p, n)
  local top = cg:current()
  p:munmap(a, n)
  lu.assertTrue(cg:current() < top)
  return top
end

-- The number an fd or a cg:read shows ("123\n").
local function num(text)
  return assert(tonumber(text:match("^(%d+)\n$")), text)
end

-- ===================== memory.peak =====================

function test_unwritten_fd_reads_the_global_peak()
  local m, cg, p = machine()
  local f = cg:open("memory.peak")
  local high = spike(p, cg, 8 * MiB)
  lu.assertEquals(num(f:read()), high)
  lu.assertEquals(f:read(), cg:read("memory.peak"))
  f:close()
  lu.assertTrue(m:check())
end

function test_write_resets_the_fd_to_the_usage()
  local m, cg, p = machine()
  local f <close> = cg:open("memory.peak")
  local global = spike(p, cg, 8 * MiB)
  lu.assertTrue(f:write("reset"))
  lu.assertEquals(num(f:read()), cg:current())		-- the usage at the write
  local mid = spike(p, cg, 2 * MiB)
  lu.assertEquals(num(f:read()), mid)			-- the highest usage since
  lu.assertTrue(mid < global)
  lu.assertEquals(cg:peak(), global)			-- cat memory.peak: the global peak
  lu.assertEquals(num(cg:read("memory.peak")), global)
  lu.assertTrue(m:check())
end

function test_a_reset_leaves_another_fds_peak()
  local m, cg, p = machine()
  local a, b = cg:open("memory.peak"), cg:open("memory.peak")
  local x = fill(p, 8 * MiB)
  local high = cg:current()
  lu.assertTrue(a:write("1"))				-- a: from the high usage
  p:munmap(x, 8 * MiB)
  lu.assertTrue(b:write("1"))				-- resets b's peak, not a's
  lu.assertEquals(num(b:read()), cg:current())
  lu.assertEquals(num(a:read()), high)
  x = fill(p, 1 * MiB)
  lu.assertEquals(num(b:read()), cg:current())
  lu.assertEquals(num(a:read()), high)
  lu.assertEquals(cg:peak(), high)
  a:close()
  b:close()
  lu.assertTrue(m:check())
end

-- A write through one fd raises the others to the usage, so that the
-- peak an fd saw through the local watermark survives a later reset.
function test_a_reset_keeps_the_usage_for_the_other_fds()
  local m, cg, p = machine()
  local a <close> = cg:open("memory.peak")
  local b <close> = cg:open("memory.peak")
  lu.assertTrue(a:write("1"))				-- a: from a low usage
  local x = fill(p, 8 * MiB)
  local high = cg:current()
  lu.assertTrue(b:write("1"))				-- at the high usage: a keeps it
  p:munmap(x, 8 * MiB)
  lu.assertTrue(b:write("1"))				-- the local peak drops to the usage
  lu.assertEquals(num(b:read()), cg:current())
  lu.assertEquals(num(a:read()), high)
  lu.assertTrue(m:check())
end

-- Linux's peak_write raises the other written fds only to the usage: a
-- peak one saw through the local watermark that is above the usage at
-- another fd's write (or an echo) is lost -- what the kernel does, though
-- its documentation promises each fd its own peak.
function test_a_reset_lowers_another_fds_peak_to_the_usage()
  for _, how in ipairs{ "fd", "echo" } do
    local m, cg, p = machine()
    local a = cg:open("memory.peak")
    lu.assertTrue(a:write("1"))
    local high = spike(p, cg, 8 * MiB)
    lu.assertEquals(num(a:read()), high)
    if how == "fd" then
      local b <close> = cg:open("memory.peak")
      lu.assertTrue(b:write("1"))
    else
      lu.assertTrue(cg:write("memory.peak", "reset"))	-- open, write, close
    end
    lu.assertEquals(num(a:read()), cg:current(), how)
    lu.assertTrue(num(a:read()) < high, how)
    lu.assertEquals(cg:peak(), high, how)		-- the global peak stays
    lu.assertTrue(m:check())
  end
end

function test_empty_write_does_nothing()
  local m, cg, p = machine()
  local f <close> = cg:open("memory.peak")
  local global = spike(p, cg, 4 * MiB)
  lu.assertTrue(f:write(""))				-- write(2) of 0 bytes: 0, no reset
  lu.assertEquals(num(f:read()), global)
  lu.assertTrue(f:write("\n"))				-- a newline is not empty
  lu.assertEquals(num(f:read()), cg:current())
  lu.assertTrue(m:check())
end

-- ===================== memory.swap.peak =====================

function test_swap_peak_per_fd()
  local m, cg, p = machine{ swap = "64M" }
  assert(cg:write("memory.max", "4M"))
  local f = cg:open("memory.swap.peak")
  local g = cg:open("memory.swap.peak")
  local x = fill(p, 8 * MiB)				-- half of it goes to swap
  local swapped = num(cg:read("memory.swap.current"))
  lu.assertTrue(swapped >= 4 * MiB)
  lu.assertTrue(g:write("1"))				-- g: from the swap in use now
  p:munmap(x, 8 * MiB)
  lu.assertEquals(cg:read("memory.swap.current"), "0\n")
  local global = num(cg:read("memory.swap.peak"))
  lu.assertTrue(global >= swapped)
  lu.assertEquals(num(f:read()), global)
  lu.assertEquals(num(g:read()), swapped)
  lu.assertTrue(f:write("1"))
  lu.assertEquals(f:read(), "0\n")
  lu.assertEquals(num(g:read()), swapped)		-- above the usage: g keeps it
  lu.assertEquals(num(cg:read("memory.swap.peak")), global)
  -- memory.peak and memory.swap.peak have a local peak each
  local mem = cg:open("memory.peak")
  lu.assertEquals(num(mem:read()), cg:peak())
  lu.assertTrue(mem:write("1"))
  lu.assertEquals(num(g:read()), swapped)
  f:close(); g:close(); mem:close()
  lu.assertTrue(m:check())
end

-- ===================== the file object =====================

function test_other_files_through_an_fd()
  local m, cg = machine()
  local f <close> = cg:open("memory.max")
  lu.assertEquals(f:read(), "max\n")
  lu.assertTrue(f:write("64M"))				-- no newline needed
  lu.assertEquals(f:read(), "67108864\n")
  lu.assertEquals(cg:read("memory.max"), "67108864\n")
  lu.assertEquals({ f:write("12x") }, { nil, "EINVAL", 22 })
  lu.assertTrue(f:write(""))				-- nothing written: still 64M
  lu.assertEquals(f:read(), "67108864\n")
  lu.assertTrue(f:write(1048576))			-- an integer, in decimal
  lu.assertEquals(f:read(), "1048576\n")
  lu.assertEquals({ f:write(string.rep("1", 4097)) }, { nil, "E2BIG", 7 })
  lu.assertEquals(f:read(), "1048576\n")
  local cur <close> = cg:open("memory.current")
  lu.assertEquals({ cur:write("0") }, { cg:write("memory.current", "0") })	-- read-only: EINVAL
  lu.assertEquals({ cur:write("0") }, { nil, "EINVAL", 22 })
  local rec <close> = cg:open("memory.reclaim")
  lu.assertEquals({ rec:read() }, { nil, "EINVAL", 22 })	-- write-only
  lu.assertEquals({ cg:open("memory.none") }, { nil, "ENOENT", 2 })
  lu.assertEquals({ m:cgroup("/"):open("memory.peak") }, { nil, "ENOENT", 2 })	-- not on the root
  lu.assertStrContains(m:cgroup("/"):open("memory.stat"):read(), "anon ")
  lu.assertTrue(m:check())
end

function test_rmdir_under_an_open_fd()
  local m = machine()
  local cg = m:cgroup("/gone")
  local f = cg:open("memory.peak")
  local g = cg:open("memory.current")
  lu.assertTrue(f:write("1"))				-- on the cgroup's list of peaks
  lu.assertTrue(cg:rmdir())
  lu.assertEquals({ f:read() }, { nil, "ENODEV", 19 })
  lu.assertEquals({ f:write("1") }, { nil, "ENODEV", 19 })
  lu.assertEquals({ g:read() }, { nil, "ENODEV", 19 })
  lu.assertTrue(m:check())
  -- a cgroup of the same name is another directory: the old fds stay dead
  local again = m:cgroup("/gone")
  local h <close> = again:open("memory.peak")
  lu.assertTrue(h:write("1"))
  lu.assertEquals(h:read(), "0\n")
  lu.assertEquals({ f:read() }, { nil, "ENODEV", 19 })
  lu.assertTrue(f:close())
  lu.assertTrue(g:close())
  lu.assertTrue(m:check())
end

function test_closed_file_raises()
  local m, cg = machine()
  local f = cg:open("memory.peak")
  lu.assertStrContains(tostring(f), "memlab.cgroup_file /box/memory.peak (fd ")
  lu.assertTrue(f:close())
  lu.assertEquals(tostring(f), "memlab.cgroup_file /box/memory.peak (closed)")
  H.assert_raises({ "read: attempt to use a closed cgroup file" }, f.read, f)
  H.assert_raises({ "write: attempt to use a closed cgroup file" }, f.write, f, "1")
  H.assert_raises({ "close: attempt to use a closed cgroup file" }, f.close, f)
  H.assert_raises({ "#1 to 'read'" }, f.read, cg)
  local g = cg:open("memory.peak")
  H.assert_raises({ "#2 to 'write' (string or integer expected, got nil)" }, g.write, g)
  H.assert_raises({ "#2 to 'write' (value has a NUL byte)" }, g.write, g, "1\0x")
  H.assert_raises({ "#2 to 'open' (file name (a string) expected, got no value)" }, cg.open, cg)
  H.assert_raises({ "#2 to 'open'" }, cg.open, cg, "../memory.peak")
  -- <close> closes at the end of the scope, and then closing again is harmless
  local kept
  do
    local h <close> = cg:open("memory.peak")
    kept = h
    lu.assertTrue(h:write("1"))
  end
  lu.assertStrContains(tostring(kept), "(closed)")
  -- a file of a closed machine: the machine closed it
  m:close()
  H.assert_raises({ "read: attempt to use a cgroup file of a closed machine" }, g.read, g)
  lu.assertTrue(g:close())
  lu.assertStrContains(tostring(g), "(closed)")
end

function test_gc_closes_an_unclosed_file()
  local m, cg = machine()
  local f = cg:open("memory.peak")
  local fd = tostring(f):match("%(fd (%d+)%)")
  lu.assertTrue(f:write("1"))
  f = nil			-- luacheck: ignore (dropped unclosed)
  collectgarbage()
  collectgarbage()
  lu.assertTrue(m:check())
  local g <close> = cg:open("memory.peak")	-- the lowest free fd: the collected one's
  lu.assertEquals(tostring(g):match("%(fd (%d+)%)"), fd)
  -- a file and its machine collected together
  do
    local m2 = memlab.new{ ram = "64M", seed = 1 }
    local f2 = m2:cgroup("/x"):open("memory.peak")
    assert(f2:write("1"))
  end
  collectgarbage()
  collectgarbage()
end

os.exit(lu.LuaUnit.run(), true)
