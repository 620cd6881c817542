-- test_page_types.lua: the frames as Linux shows them to root --
-- m:kpageflags (the words of /proc/kpageflags and /proc/kpagecount,
-- fs/proc/page.c) and m:page_types (tools/mm/page-types's output over
-- them) -- and p:clear_refs, which resets what they and smaps show as
-- referenced.  tests/diff/diff_thp.c compares the flags of the pages of its
-- scenarios with the host's; these tests pin the format and the options.
--
-- Run from the source root:  build/memlab run tests/lua/test_page_types.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE, HP, BASE = 4096, 2 * 1024 * 1024, 0x7e0000000000

local function machine()
  return memlab.new{ ram = "256M", seed = 1, debug_vm = true }
end

-- A process with one written small page at BASE, a read (zero) page
-- after it, and a huge page at BASE + HP.
local function process(m)
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 2 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:write(BASE, "x"))
  assert(p:read(BASE + PAGE, 1))
  assert(p:madvise(BASE + HP, HP, "hugepage"))
  assert(p:write(BASE + HP, "y"))
  return p
end

function test_kpageflags_fields()
  local m = machine()
  local p = process(m)
  local small = m:kpageflags(p:pagemap(BASE)[1].pfn)[1]
  -- on the LRU: adding the huge page to the CPU's folio batch flushed it
  lu.assertEquals(small.flags, "uptodate,lru,mmap,anonymous,swapbacked,owner_2")
  lu.assertEquals(small.raw, 0x400005828)
  lu.assertEquals(small.count, 1)
  lu.assertTrue(small.anonymous and small.mmap and small.owner_2 and small.lru)
  lu.assertNil(small.dirty)              -- the PTE is dirty, not the page
  local zero = m:kpageflags(p:pagemap(BASE + PAGE)[1].pfn)[1]
  lu.assertEquals(zero.flags, "zero_page,reserved")
  lu.assertEquals(zero.count, 0)
  local head = p:pagemap(BASE + HP)[1].pfn
  local ks = m:kpageflags(head, 3)
  lu.assertEquals(#ks, 3)
  lu.assertEquals(ks[1].pfn, head)
  lu.assertTrue(ks[1].compound_head and ks[1].thp)
  lu.assertTrue(ks[3].compound_tail and ks[3].thp and not ks[3].compound_head)
  lu.assertEquals(ks[3].count, 1)        -- the PMD
end

-- A file page read from a block on disk is PG_mappedtodisk (owner_2); a
-- page of a hole is not, nor one a write created.
function test_kpageflags_file_pages()
  local m = machine()
  local f = m:file{ path = "/data/f", size = 4 * PAGE, contents = string.rep("d", PAGE),
                    writable = true }
  local p = m:spawn{ name = "p", aslr = false }
  local a = assert(p:mmap(0, 4 * PAGE, "r--", "private", f, 0))
  assert(p:read(a, 1))
  assert(p:read(a + PAGE, 1))
  local on_disk = m:kpageflags(p:pagemap(a)[1].pfn)[1]
  local hole = m:kpageflags(p:pagemap(a + PAGE)[1].pfn)[1]
  lu.assertTrue(on_disk.owner_2 and on_disk.mmap and on_disk.uptodate)
  lu.assertNil(on_disk.anonymous)
  lu.assertNil(hole.owner_2)
  lu.assertTrue(hole.mmap and hole.uptodate)
  local g = m:file{ path = "/data/g", contents = string.rep("g", 2 * PAGE), writable = true }
  assert(g:write(10, "zz"))               -- write_begin reads the block: not mappedtodisk
  local r = m:spawn{ name = "r", aslr = false }
  local c = assert(r:mmap(0, 2 * PAGE, "r--", "shared", g, 0))
  assert(r:read(c, 1))
  assert(r:read(c + PAGE, 1))             -- a read of a block: mappedtodisk
  lu.assertNil(m:kpageflags(r:pagemap(c)[1].pfn)[1].owner_2)
  lu.assertTrue(m:kpageflags(r:pagemap(c + PAGE)[1].pfn)[1].owner_2)
  assert(f:write(5 * PAGE, "new"))       -- a page past the end, made by the write
  local q = m:spawn{ name = "q", aslr = false }
  local b = assert(q:mmap(0, 6 * PAGE, "r--", "private", f, 0))
  assert(q:read(b + 5 * PAGE, 1))
  lu.assertNil(m:kpageflags(q:pagemap(b + 5 * PAGE)[1].pfn)[1].owner_2)
end

-- The files end with RAM's last 128 MiB section: 256 MiB, 65536 frames.
function test_kpageflags_end()
  local m = machine()
  lu.assertEquals(#m:kpageflags(65534, 8), 2)
  lu.assertEquals(#m:kpageflags(65536, 8), 0)
  lu.assertErrorMsgContains("pfn must not be negative", function() m:kpageflags(-1) end)
  lu.assertErrorMsgContains("kpageflags", function() m:kpageflags(0, 0) end)
end


-- page-types' summary: its header, one line per flag combination, and
-- the total of every frame; the compound bits hidden outside hugetlb.
function test_page_types_summary()
  local m = machine()
  process(m)
  local text = m:page_types()
  local lines = H.lines(text)
  lu.assertEquals(lines[1], "             flags\tpage-count       MB  symbolic-flags\t\t\tlong-symbolic-flags")
  lu.assertEquals(lines[#lines], "             total\t     65536      256")
  lu.assertStrContains(text, "0x0000000000405828\t       512        2  ___U_l_____Ma_b_______t_____________________\tuptodate,lru,mmap,anonymous,swapbacked,thp\n")
  lu.assertStrContains(text, "0x0000000001000000\t         1        0  ________________________z___________________\tzero_page\n")
  local sum = 0
  for _, l in ipairs(lines) do
    local n = l:match("^0x%x+\t%s*(%d+)")
    if n then sum = sum + tonumber(n) end
  end
  lu.assertEquals(sum, 65536)
  lu.assertEquals(m:page_types{ summary = false }, "")
end

-- -p: the process's pages through its pagemap; -r: the hacker and
-- overloaded bits; -l: ranges of pages with the same flags.
function test_page_types_task_list_raw()
  local m = machine()
  local p = process(m)
  local head = p:pagemap(BASE + HP)[1].pfn
  local text = m:page_types{ task = p, list = true, raw = true }
  local lines = H.lines(text)
  lu.assertEquals(lines[1], "voffset\toffset\tlen\tflags")
  lu.assertEquals(lines[2], string.format("%x\t%x\t1\t___U_l_____Ma_b______________________d_____1",
                                          BASE // PAGE, p:pagemap(BASE)[1].pfn))
  lu.assertEquals(lines[3], string.format("%x\t%x\t1\t________________________z__r________________",
                                          BASE // PAGE + 1, p:pagemap(BASE + PAGE)[1].pfn))
  lu.assertStrContains(text, string.format("%x\t%x\t1ff\t___U_l_____Ma_b_T_____t______________d_____1\n",
                                           (BASE + HP) // PAGE + 1, head + 1))
  lu.assertStrContains(text, "anon_exclusive,mmap_exclusive")
  lu.assertStrContains(lines[#lines], "             total\t       514        2")
  local mm = p:mm()                      -- the walk reads the VMAs as maps does
  m:page_types{ task = p }
  lu.assertEquals(p:mm().vmacache_hits + p:mm().vmacache_misses,
                  mm.vmacache_hits + mm.vmacache_misses)
  local each = m:page_types{ task = p, list = "each", mapcnt = true, summary = false }
  lu.assertEquals(H.lines(each)[1], "voffset\tmap-cnt\toffset\tflags")
  lu.assertEquals(#H.lines(each), 1 + 514)
end

-- -b: filters by flag names (prefixes, ~ for "not", = for exact); -a:
-- ranges of frames, or of a task's virtual pages.
function test_page_types_bits_and_addr()
  local m = machine()
  local p = process(m)
  local function total(text) return tonumber(H.lines(text)[#H.lines(text)]:match("total\t%s*(%d+)")) end
  lu.assertEquals(total(m:page_types{ bits = "thp" }), 512)
  lu.assertEquals(total(m:page_types{ bits = "anon,~thp" }), 1)       -- the small page
  lu.assertEquals(total(m:page_types{ bits = "anon,thp=anon" }), 1)
  lu.assertEquals(total(m:page_types{ bits = { "thp", "compound_h" }, raw = true }), 1)
  lu.assertEquals(total(m:page_types{ bits = "=zero_page,reserved", raw = true }), 1)
  lu.assertEquals(total(m:page_types{ bits = "0x400" }), total(m:page_types{ bits = "buddy" }))
  lu.assertEquals(total(m:page_types{ addr = "0x100" }), 1)
  lu.assertEquals(total(m:page_types{ addr = "0x100+0x10" }), 16)
  lu.assertEquals(total(m:page_types{ addr = "0x100,0x110" }), 16)
  lu.assertEquals(total(m:page_types{ addr = { ",0x10", "0xfff0," } }), 32)
  local vpage = BASE // PAGE
  lu.assertEquals(total(m:page_types{ task = p, addr = string.format("%d+2", vpage) }), 2)
  lu.assertEquals(total(m:page_types{ task = p, addr = string.format("%d,", vpage + 1) }), 513)
  lu.assertErrorMsgContains("invalid name or number 'nosuch'", function() m:page_types{ bits = "nosuch" } end)
  lu.assertErrorMsgContains("invalid range '5,3'", function() m:page_types{ addr = "5,3" } end)
  lu.assertErrorMsgContains("option 'bits' must be a string or a list of strings",
                            function() m:page_types{ bits = 4 } end)
end

local function referenced(m, p, addr)
  local text = m:proc(p.pid .. "/smaps")
  return tonumber(text:match(string.format("%x%%-.-Referenced:%%s+(%%d+)", addr)))
end

-- /proc/PID/clear_refs: the accessed bits and PG_referenced of a type's
-- VMAs cleared, no TLB flush; 5 resets VmHWM.
function test_clear_refs()
  local m = machine()
  local f = m:file{ path = "/data/f", contents = string.rep("d", 4 * PAGE) }
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 16 * PAGE, "rw-", "private|anonymous|fixed_noreplace"))
  local fa = assert(p:mmap(0, 4 * PAGE, "r--", "private", f, 0))
  assert(p:write(BASE, string.rep("x", 8 * PAGE)))
  assert(p:read(fa, 4 * PAGE))
  lu.assertEquals(referenced(m, p, BASE), 32)
  lu.assertEquals(referenced(m, p, fa), 16)
  lu.assertTrue(p:clear_refs(3))         -- file-backed VMAs only
  lu.assertEquals(referenced(m, p, BASE), 32)
  lu.assertEquals(referenced(m, p, fa), 0)
  lu.assertTrue(p:clear_refs(2))         -- anonymous ones
  lu.assertEquals(referenced(m, p, BASE), 0)
  lu.assertNil(m:kpageflags(p:pagemap(BASE)[1].pfn)[1].referenced)
  assert(p:read(BASE, 1))                -- through the TLB's entry: not seen
  lu.assertEquals(referenced(m, p, BASE), 0)
  m:tlb_flush_all()
  assert(p:read(BASE + PAGE, 1))         -- a walk: the accessed bit is set
  lu.assertEquals(referenced(m, p, BASE), 4)
  assert(p:write(BASE + 12 * PAGE, "y"))  -- a new page is young
  lu.assertEquals(referenced(m, p, BASE), 8)
  lu.assertTrue(p:clear_refs(1))
  lu.assertEquals(referenced(m, p, BASE) + referenced(m, p, fa), 0)
  assert(p:munmap(BASE, 8 * PAGE))
  local function rss(mm) return mm.rss_anon + mm.rss_file + mm.rss_shmem end
  local mm = p:mm()
  lu.assertTrue(mm.hiwater_rss > rss(mm))  -- the peak before the munmap
  lu.assertTrue(p:clear_refs(4))
  lu.assertTrue(p:clear_refs(5))
  mm = p:mm()
  lu.assertEquals(mm.hiwater_rss, rss(mm))
  for _, bad in ipairs{ 0, 6, -1, 2^40 } do
    lu.assertEquals({ p:clear_refs(bad) }, { nil, "EINVAL", 22 })
  end
  lu.assertErrorMsgContains("clear_refs", function() p:clear_refs("x") end)
  assert(m:check())
end

-- A huge PMD is made old whatever it maps (pmd_folio(), no
-- vm_normal_folio()): the huge zero page's too; a PTE of the zero page not.
function test_clear_refs_huge_zero()
  local m = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 2 * HP, "rw-", "private|anonymous|fixed_noreplace"))
  assert(p:madvise(BASE, HP, "hugepage"))
  assert(p:read(BASE, 1))                 -- the huge zero page, by a PMD
  assert(p:read(BASE + HP, 1))            -- the zero page, by a PTE
  lu.assertTrue(p:translate(BASE).huge and p:translate(BASE).accessed)
  lu.assertTrue(p:translate(BASE + HP).accessed)
  assert(p:clear_refs(1))
  lu.assertFalse(p:translate(BASE).accessed)
  lu.assertTrue(p:translate(BASE + HP).accessed)
  assert(m:check())
end

function test_page_types_bad_options()
  local m, other = machine(), machine()
  local q = other:spawn{ name = "q" }
  lu.assertErrorMsgContains("unknown option 'pid'", function() m:page_types{ pid = 1 } end)
  lu.assertErrorMsgContains("option 'raw' must be a boolean", function() m:page_types{ raw = 1 } end)
  lu.assertErrorMsgContains("option 'list' must be a boolean or \"each\"",
                            function() m:page_types{ list = "all" } end)
  lu.assertErrorMsgContains("a task of another machine", function() m:page_types{ task = q } end)
  lu.assertErrorMsgContains("page_types", function() m:page_types(5) end)
end

os.exit(lu.LuaUnit.run())
