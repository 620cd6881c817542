-- test_swap.lua: swap (core/swapfile.c) through the Lua API: anonymous
-- memory larger than RAM survives through the swap file, swap entries in
-- the page tables (Linux's encodings), the swap cache shared after fork,
-- exclusive swap-ins mapped writable, swappiness, a full swap device and
-- the OOM killer, swap I/O errors injected, MADV_PAGEOUT and MADV_FREE,
-- munmap and exit giving slots back, /proc/swaps, meminfo, smaps, status.
--
-- Run from the source root:  build/memlab run tests/lua/test_swap.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")

local PAGE = 4096
local MiB = 1024 * 1024

local function machine(opts)
  local cfg = { ram = "32M", swap = "64M", seed = 1 }
  for k, v in pairs(opts or {}) do cfg[k] = v end
  local m = memlab.new(cfg)
  m:sysctl{ overcommit_memory = 1 }
  return m
end

-- n pages of p, each written with its number.
local function fill(p, n)
  local a = assert(p:mmap(nil, n * PAGE, "rw", "private|anonymous"))
  for i = 0, n - 1 do assert(p:write(a + i * PAGE, string.format("%08d", i))) end
  return a
end

-- A machine with swap and a process whose n filled pages are swapped out.
local function swapped_out(n)
  local m = machine()
  local p = m:spawn{ name = "p" }
  local a = fill(p, n)
  assert(p:madvise(a, n * PAGE, "pageout"))
  return m, p, a
end

local function meminfo(m, key)
  return tonumber(m:proc("meminfo"):match(key .. ":%s+(%d+) kB"))
end

TestSwap = {}

-- 48 MiB of anonymous memory on a 32 MiB machine: pages go to swap and come back intact.
function TestSwap:test_anon_larger_than_ram()
  local m = machine()
  local p = m:spawn{ name = "big" }
  local n = 12288
  local a = fill(p, n)
  local v = m:vmstat()
  lu.assertEquals(v.oom_kill, 0)
  lu.assertTrue(v.pswpout > 4000)
  lu.assertEquals(v.pgsteal_anon, v.pswpout)
  lu.assertTrue(v.pgscan_anon > 0)
  lu.assertEquals(p:mm().rss_anon + m:proc(p.pid .. "/status"):match("VmSwap:%s+(%d+)") // 4, n + 0)
  lu.assertEquals(meminfo(m, "SwapTotal"), 65532)
  lu.assertEquals(meminfo(m, "SwapTotal") - meminfo(m, "SwapFree"),
                  tonumber(m:proc(p.pid .. "/status"):match("VmSwap:%s+(%d+)")) +
                  meminfo(m, "SwapCached"))
  lu.assertTrue(m:check())
  local maj, ra = p:mm().maj_flt, v.swap_ra
  for i = 0, n - 1, 61 do
    lu.assertEquals(p:read(a + i * PAGE, 8), string.format("%08d", i))
  end
  v = m:vmstat()
  lu.assertTrue(v.pswpin > 0)
  lu.assertTrue(v.swap_ra > ra)				-- the first fault's window: 8 slots
  lu.assertEquals(p:mm().maj_flt - maj + v.swap_ra - ra, v.pswpin)	-- each read: a fault's or readahead's
  lu.assertEquals(v.workingset_refault_anon, v.pswpin)     -- each read back had a shadow
  lu.assertTrue(m:check())
end

-- A swapped-out page's entry is a swap entry in Linux's encoding.
function TestSwap:test_swap_entry_encoding()
  for _, arch in ipairs{ "x86_64", "arm64" } do
    local m = machine{ arch = arch }
    local p = m:spawn{ name = "p" }
    local a = fill(p, 8)
    lu.assertTrue(p:madvise(a, 8 * PAGE, "pageout"))
    local w = p:translate(a)
    lu.assertFalse(w.present)
    lu.assertNotNil(w.swap, arch)
    lu.assertTrue(w.swap.exclusive)
    local slot = w.swap.offset
    local pm = p:pagemap(a)[1]			-- /proc/PID/pagemap: type 0 | offset << 5
    lu.assertEquals({ pm.present, pm.swap, pm.swap_type, pm.swap_offset }, { false, true, 0, slot })
    lu.assertEquals(pm.raw, (1 << 62) | (slot << 5))
    local entry = w.levels[#w.levels].entry
    if arch == "x86_64" then
      -- ~offset << 14 >> 5 (type 0), _PAGE_SWP_EXCLUSIVE = _PAGE_USER
      lu.assertEquals(entry, ((~slot) << 14 >> 5) | 4)
    else
      -- offset << 12, PTE_SWP_EXCLUSIVE = bit 2
      lu.assertEquals(entry, (slot << 12) | 4)
    end
    lu.assertEquals(p:read(a, 8), "00000000")
    lu.assertTrue(p:translate(a).present)
    lu.assertTrue(m:check())
  end
end

-- A read of an exclusive swap entry maps the page writable: the write after it does not fault.
function TestSwap:test_exclusive_swapin_writable()
  local m, p, a = swapped_out(4)
  lu.assertEquals(p:read(a, 8), "00000000")
  lu.assertTrue(p:translate(a).write)
  local min = p:mm().min_flt
  assert(p:write(a, "W"))
  lu.assertEquals(p:mm().min_flt, min)
  lu.assertTrue(m:check())
end

-- After fork both share the swap slot; the first read brings the page into the
-- swap cache, the second finds it there (minor) and maps the same frame.
function TestSwap:test_fork_shares_swap_cache()
  local m = machine()
  local p = m:spawn{ name = "parent" }
  local a = fill(p, 4)
  assert(p:madvise(a, 4 * PAGE, "pageout"))
  local c = p:fork()
  lu.assertFalse(p:translate(a).swap.exclusive)   -- fork cleared it in both
  lu.assertFalse(c:translate(a).swap.exclusive)
  local pswpin = m:vmstat().pswpin
  lu.assertEquals(c:read(a, 8), "00000000")
  lu.assertEquals(m:vmstat().pswpin, pswpin + 4)  -- and the 3 others, read ahead
  lu.assertEquals(m:vmstat().nr_swapcached, 4)
  lu.assertEquals(p:read(a, 8), "00000000")
  lu.assertEquals(m:vmstat().pswpin, pswpin + 4)  -- from the swap cache
  lu.assertEquals(p:translate(a).pfn, c:translate(a).pfn)
  lu.assertFalse(p:translate(a).write)            -- shared: copy on write
  assert(p:write(a, "P"))
  lu.assertNotEquals(p:translate(a).pfn, c:translate(a).pfn)
  lu.assertEquals(c:read(a, 8), "00000000")
  lu.assertEquals(p:read(a, 8), "P0000000")
  lu.assertTrue(m:check())
  c:exit()
  p:exit()
  lu.assertEquals(m:vmstat().nr_swapcached, 0)
  lu.assertEquals(meminfo(m, "SwapFree"), meminfo(m, "SwapTotal"))
  lu.assertTrue(m:check())
end

-- swappiness 0: page cache goes before any anonymous page.
function TestSwap:test_swappiness_zero()
  local m = machine()
  m:sysctl{ swappiness = 0 }
  lu.assertEquals(m:sysctl().swappiness, 0)
  local f = m:file{ path = "/data/f", size = 64 * MiB }
  local p = m:spawn{ name = "p" }
  fill(p, 2048)
  local buf = assert(p:mmap(nil, 65536, "rw", "private|anonymous"))
  for off = 0, 64 * MiB - 65536, 65536 do assert(p:pread(f, buf, 65536, off)) end
  local v = m:vmstat()
  lu.assertTrue(v.pgsteal_file > 0)
  lu.assertEquals(v.pswpout, 0)
  lu.assertEquals(m:sysctl{ swappiness = 201 }, nil)
end

-- A full swap device leaves the OOM killer.
function TestSwap:test_swap_full_ooms()
  local m = machine{ swap = "8M" }
  m:spawn{ name = "init" }
  local p = m:spawn{ name = "hog" }
  local a = assert(p:mmap(nil, 64 * MiB, "rw", "private|anonymous"))
  local ok
  for i = 0, 64 * MiB // PAGE - 1 do
    ok = p:write(a + i * PAGE, "x")
    if not ok then break end
  end
  lu.assertNil(ok)
  lu.assertEquals(m:vmstat().oom_kill, 1)
  lu.assertTrue(m:vmstat().pswpout >= 2047)
  lu.assertEquals(meminfo(m, "SwapFree"), meminfo(m, "SwapTotal"))  -- the victim's slots freed
  lu.assertTrue(m:check())
end

-- Injected I/O errors: a write error keeps the page; a read error is SIGBUS.
function TestSwap:test_swap_io_errors()
  local m = machine()
  local p = m:spawn{ name = "p" }
  local a = fill(p, 2)
  m:inject("swap_write_error", { probability = 100, times = 1 })
  assert(p:madvise(a, 2 * PAGE, "pageout"))
  lu.assertStrContains(m:dmesg(), "Write-error on swap-device (0:0:")
  lu.assertEquals(m:vmstat().pswpout, 1)        -- the second page went
  lu.assertTrue(m:check())
  lu.assertEquals(p:read(a, 8), "00000000")
  lu.assertEquals(p:read(a + PAGE, 8), "00000001")
  assert(p:madvise(a, 2 * PAGE, "pageout"))
  m:inject("swap_read_error", { probability = 100, times = 1 })
  local ok, sig = p:read(a, 8)
  lu.assertNil(ok)
  lu.assertEquals(sig, "SIGBUS")
  lu.assertStrContains(m:dmesg(), "Read-error on swap-device (0:0:")
  lu.assertEquals(p:read(a, 8), "00000000")     -- the next read works
  lu.assertTrue(m:check())
end

-- m:check() knows the swap invariants: a flipped bit in a swap entry names
-- another slot; both slots' counts then disagree with the page tables, and
-- the fault on it is refused (Linux would retry it forever) without harm.
function TestSwap:test_check_finds_corrupt_swap_entry()
  local m, p, a = swapped_out(4)
  local slot = p:translate(a).swap.offset
  m:corrupt{ what = "pte", task = p, addr = a, bit = 16 }
  lu.assertNotEquals(p:translate(a).swap.offset, slot)
  local ok, err = pcall(m.check, m)
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "swap: slot " .. slot .. " counts 1 swap entries, the page tables hold 0")
  local v, sig = p:read(a, 1)
  lu.assertNil(v)
  lu.assertEquals(sig, "SIGBUS")
  lu.assertStrContains(m:dmesg(), "names unused slot")
  lu.assertEquals(p:read(a + PAGE, 8), "00000001")   -- the rest is unharmed
end

-- MADV_FREE drops swapped-out pages; munmap gives their slots back.
function TestSwap:test_madv_free_and_munmap()
  local m, p, a = swapped_out(16)
  lu.assertEquals(meminfo(m, "SwapTotal") - meminfo(m, "SwapFree"), 64)
  assert(p:madvise(a, 8 * PAGE, "free"))
  lu.assertEquals(meminfo(m, "SwapTotal") - meminfo(m, "SwapFree"), 32)
  lu.assertEquals(p:read(a, 1), "\0")
  assert(p:munmap(a, 16 * PAGE))
  lu.assertEquals(meminfo(m, "SwapFree"), meminfo(m, "SwapTotal"))
  lu.assertTrue(m:check())
end

-- mremap moves swap entries with the mapping.
function TestSwap:test_mremap_moves_swap_entries()
  local m, p, a = swapped_out(8)
  local b = assert(p:mremap(a, 8 * PAGE, 16 * PAGE, "maymove"))
  lu.assertNotEquals(b, a)
  lu.assertNotNil(p:translate(b + 7 * PAGE).swap)
  lu.assertEquals(p:read(b + 7 * PAGE, 8), "00000007")
  lu.assertTrue(m:check())
end

-- /proc/swaps and smaps, as Linux prints them.
function TestSwap:test_proc_files()
  local m = machine()
  lu.assertEquals(m:proc("swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" ..
                  "/swapfile                               file\t\t65532\t\t0\t\t-2\n")
  local p = m:spawn{ name = "p" }
  local a = fill(p, 8)
  assert(p:madvise(a, 8 * PAGE, "pageout"))
  local c = p:fork()
  local smaps = m:proc(p.pid .. "/smaps")
  local at = smaps:find(string.format("%x", a) .. "-", 1, true)
  lu.assertNotNil(at)
  local block = smaps:sub(at, at + 1400)
  lu.assertEquals(tonumber(block:match("\nSwap:%s+(%d+) kB")), 32)
  lu.assertEquals(tonumber(block:match("\nSwapPss:%s+(%d+) kB")), 16)   -- shared with the child
  lu.assertStrContains(m:proc("swaps"), "\t\t32\t\t-2\n")
  local none = memlab.new{ ram = "32M" }
  lu.assertEquals(none:proc("swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
  local host = io.open("/proc/swaps")      -- the host's header line, when it has procfs
  if host then
    lu.assertEquals(none:proc("swaps"), host:read("l") .. "\n")
    host:close()
  end
  lu.assertErrorMsgContains("swap", function() memlab.new{ ram = "32M", swap = "4K" } end)
  c:exit()
  lu.assertTrue(m:check())
end

-- A transparent huge page is split before it goes to swap.
function TestSwap:test_thp_split_for_swap()
  local m = machine()
  m:thp{ enabled = "always" }
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, 40 * MiB, "rw", "private|anonymous"))
  for i = 0, 40 * MiB // PAGE - 1, 512 do p:write(a + i * PAGE, "h") end
  for i = 0, 40 * MiB // PAGE - 1, 1 do p:write(a + i * PAGE, "h") end
  local v = m:vmstat()
  lu.assertTrue(v.thp_fault_alloc > 0)
  lu.assertTrue(v.thp_swpout_fallback > 0)
  lu.assertTrue(v.pswpout > 0)
  lu.assertEquals(p:read(a, 1), "h")
  lu.assertTrue(m:check())
end

-- Compaction moves swap-cache pages too: the swap cache follows them.
function TestSwap:test_compaction_moves_swap_cache()
  local m = machine()
  m:sysctl{ page_cluster = 0 }		-- no swap readahead: the pages read are the ones in the cache
  local q = m:spawn{ name = "q" }
  local b = assert(q:mmap(nil, 3000 * PAGE, "rw", "private|anonymous"))
  local p = m:spawn{ name = "p" }
  local a = fill(p, 2048)
  for i = 0, 2999 do q:write(b + i * PAGE, "q") end
  assert(p:madvise(a, 2048 * PAGE, "pageout"))
  local c = p:fork()
  for i = 0, 2047, 2 do assert(c:read(a + i * PAGE, 8) == string.format("%08d", i)) end
  for i = 0, 2999, 2 do q:munmap(b + i * PAGE, PAGE) end
  lu.assertEquals(m:vmstat().nr_swapcached, 1024)
  m:compact()
  lu.assertTrue(m:vmstat().pgmigrate_success > 0)
  lu.assertTrue(m:check())
  for i = 0, 2047 do lu.assertEquals(p:read(a + i * PAGE, 8), string.format("%08d", i)) end
  for i = 0, 2047 do lu.assertEquals(c:read(a + i * PAGE, 8), string.format("%08d", i)) end
  lu.assertTrue(m:check())
end

-- Reclaim inside fork (the child's page-table allocation at the min
-- watermark) swaps the parent's page out: the entry it leaves is shared,
-- so copy-on-write still separates the two.
function TestSwap:test_reclaim_during_fork_keeps_cow()
  local m = memlab.new{ ram = "16M", swap = "16M", seed = 1, zones = "single", pcp = false }
  m:sysctl{ overcommit_memory = 1 }
  local p = m:spawn{ name = "p" }
  local b = assert(p:mmap(nil, 20 * PAGE, "rw", "private|anonymous"))
  local a = assert(p:mmap(nil, 4 * MiB, "rw", "private|anonymous"))
  local x = (a + 2 * MiB - 1) // (2 * MiB) * (2 * MiB)
  for i = 0, 19 do p:write(b + i * PAGE, "b") end
  p:write(x, "original")
  assert(p:madvise(b, 20 * PAGE, "cold"))
  assert(p:madvise(x, PAGE, "cold"))
  m:drop_caches(3)
  -- the live min: a fallback on the way boosts the watermarks (by a
  -- pageblock, boost_watermark), and nothing wakes kswapd for it
  -- (__GFP_HIGH alone has no __GFP_KSWAPD_RECLAIM)
  while m:zones()[1].free > m:zones()[1].min + 1 do
    if not m:alloc_pages(0, "__GFP_HIGH") then break end
  end
  local c = assert(p:fork())
  local w = p:translate(x)
  lu.assertNotNil(w.swap)                   -- reclaim took it during the fork
  lu.assertFalse(w.swap.exclusive)
  lu.assertTrue(m:check())
  p:write(x, "PARENT!!")
  lu.assertEquals(c:read(x, 8), "original")
  c:write(x, "CHILD!!!")
  lu.assertEquals(p:read(x, 8), "PARENT!!")
  lu.assertTrue(m:check())
end

-- A write to a page still in the swap cache with no other user reuses it
-- (wp_can_reuse_anon_folio drops the swap-cache copy) and leaks nothing.
function TestSwap:test_write_reuses_swap_cache_page()
  local m = machine()
  local p = m:spawn{ name = "p" }
  local a = assert(p:mmap(nil, PAGE, "rw", "private|anonymous"))
  p:write(a, "hello")
  local c = p:fork()
  c:exit()
  assert(p:madvise(a, PAGE, "pageout"))
  lu.assertEquals(p:read(a, 5), "hello")
  local old = p:translate(a).pfn
  assert(p:write(a, "world"))
  lu.assertEquals(p:translate(a).pfn, old)          -- reused, not copied
  lu.assertFalse(m:page(old).swapcache)
  p:exit()
  lu.assertEquals(meminfo(m, "SwapCached"), 0)
  lu.assertEquals(meminfo(m, "SwapFree"), meminfo(m, "SwapTotal"))
  lu.assertTrue(m:check())
end

-- MADV_FREE on a page read back from swap: its swap-cache copy goes first.
function TestSwap:test_madv_free_of_swap_cache_page()
  local m, p, a = swapped_out(8)
  lu.assertEquals(p:read(a, 8), "00000000")
  lu.assertTrue(m:page(p:translate(a).pfn).swapcache)
  assert(p:madvise(a, 8 * PAGE, "free"))
  local pg = m:page(p:translate(a).pfn)
  lu.assertFalse(pg.swapcache)
  lu.assertTrue(pg.swapbacked)                       -- waits in the lru_lazyfree batch
  m:lru_add_drain_all()
  pg = m:page(p:translate(a).pfn)
  lu.assertFalse(pg.swapbacked)
  lu.assertEquals(pg.lru_list, "inactive_file")
  lu.assertTrue(m:check())
  assert(p:madvise(a, PAGE, "pageout"))              -- a lazily freed page: dropped
  lu.assertEquals(p:read(a, 1), "\0")
  lu.assertTrue(m:check())
end

-- A swap-in whose swap copy goes (a write fault that is the page's only
-- user: should_try_to_free_swap() sees the write; a locked VMA) leaves
-- the swap cache and is dirty: folio_free_swap() sets PG_dirty, for the
-- next reclaim must write it again.
function TestSwap:test_swap_copy_freed_on_swapin()
  local m = machine()
  local B = 0x7e0000000000
  local p = m:spawn{ name = "p", aslr = false, root = true }
  assert(p:mmap(B, 16 * PAGE, "rw-", "private|anonymous|fixed_noreplace"))
  for i, how in ipairs{ "write", "mlock" } do
    local a = B + (i - 1) * PAGE
    assert(p:write(a, "a"))
    m:lru_add_drain_all()
    assert(p:madvise(a, PAGE, "pageout"))
    lu.assertNotNil(p:translate(a).swap)
    if how == "write" then assert(p:write(a, "b")) else assert(p:mlock(a, PAGE)) end
    local info = m:page(p:pagemap(a)[1].pfn)
    lu.assertFalse(info.swapcache, how)
    lu.assertTrue(info.dirty, how)
  end
  lu.assertEquals(meminfo(m, "SwapCached"), 0)
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run(), true)
