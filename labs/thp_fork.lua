-- Huge pages and fork: a write copies 4 KiB, not 2 MiB
--
-- A process backed by transparent huge pages forks.  Both map the same
-- huge pages, each with one PMD entry, write-protected.  When one of them
-- writes a byte, Linux does not copy 2 MiB: do_huge_pmd_wp_page() finds
-- the huge page shared and splits the writer's PMD alone
-- (__split_huge_pmd) into 512 PTEs for the same frames, and do_wp_page()
-- copies the one small page written.  The huge page itself (the folio)
-- stays whole: PTE-mapped in the writer, PMD-mapped in the other.  When
-- the other process goes, the page the writer copied away is mapped by
-- no one, and the folio waits on the deferred split queue until memory
-- pressure (or drop_caches) splits it and frees that page.  Every claim
-- is checked with assert(); tests/diff/diff_thp.c shows the same numbers
-- on a real kernel.

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local KiB, MiB, HP = 1024, 1024 * 1024, 2 * 1024 * 1024
local BASE, LEN = 0x7e0000000000, 8 * MiB

local m = memlab.new{ arch = "x86_64", ram = "128M", seed = 1 }

-- smaps of the VMA at BASE: the fields this lab follows, in kB.
local FIELDS = { "Rss", "Shared_Dirty", "Private_Dirty", "AnonHugePages" }
local function smaps(t)
  local r, inside = {}, false
  for line in m:proc(t.pid .. "/smaps"):gmatch("[^\n]+") do
    if line:match("^%x+%-%x+ ") then
      inside = line:match(string.format("^%x%%-", BASE)) ~= nil
    elseif inside then
      local k, v = line:match("^([%w_]+):%s+(%d+) kB")
      if k then r[k] = tonumber(v) end
    end
  end
  return r
end
local function show(t, name)
  local r = smaps(t)
  local cols = {}
  for _, f in ipairs(FIELDS) do cols[#cols + 1] = string.format("%s %5d kB", f, r[f]) end
  say("  %-7s %s", name, table.concat(cols, "  "))
  return r
end
local function vm(name) return m:vmstat()[name] end

------------------------------------------------------------------------------
section("1. 8 MiB of huge pages")

local parent = m:spawn{ name = "parent", aslr = false }
assert(parent:mmap(BASE, LEN, "rw-", "private|anonymous|fixed_noreplace"))
assert(parent:madvise(BASE, LEN, "hugepage"))
assert(parent:write(BASE, string.rep("data", LEN // 4)))	-- every page holds data
local last = BASE + 7 * MiB			-- the middle of the last huge page
local t = parent:translate(last)
local folio = t.pfn
say("MADV_HUGEPAGE, then a write to every page: %d faults (thp_fault_alloc %d).",
    parent:mm().min_flt, vm("thp_fault_alloc"))
say("The last huge page is one PMD entry (huge = %s, %d KiB) for frames %#x..%#x.",
    tostring(t.huge), t.size // KiB, folio, folio + 511)
local r = show(parent, "parent")
assert(t.huge and r.AnonHugePages == 8192 and vm("thp_fault_alloc") == 4)

------------------------------------------------------------------------------
section("2. fork(): the PMDs are shared")

local child = assert(parent:fork())
show(parent, "parent")
show(child, "child")
local pg = m:page(folio)
say("Both PMDs map frame %#x: entire_mapcount %d, refcount %d.", folio,
    pg.entire_mapcount, pg.refcount)
assert(child:translate(last).huge and child:translate(last).pfn == folio)
assert(pg.entire_mapcount == 2 and not parent:translate(last).write)

------------------------------------------------------------------------------
section("3. The parent writes one byte")

local flt = parent:mm().min_flt
assert(parent:write(last + 100, "!"))
local p3, c3 = show(parent, "parent"), show(child, "child")
local off = (last - (last & ~(HP - 1))) // 4096
say("One fault (%d).  thp_split_pmd %d, thp_split_page %d: only the parent's PMD",
    parent:mm().min_flt - flt, vm("thp_split_pmd"), vm("thp_split_page"))
say("became PTEs; the write copied page %d of the huge page (Private_Dirty %d kB,",
    off, p3.Private_Dirty)
say("not 2048).  The parent's AnonHugePages fell by 2 MiB; the child's did not.")
assert(parent:mm().min_flt == flt + 1 and vm("thp_split_pmd") == 1 and vm("thp_split_page") == 0)
assert(p3.Private_Dirty == 4 and p3.Shared_Dirty == 8188 and p3.AnonHugePages == 6144)
assert(c3.AnonHugePages == 8192 and c3.Private_Dirty == 4)
local next_page = parent:translate(last + 4096)
say("The parent's next page: a PTE (huge = %s) for frame %#x, still the huge page's",
    tostring(next_page.huge), next_page.pfn)
pg = m:page(folio + off + 1)
say("(folio %#x): mapcount %d = its PTE in the parent + the child's PMD.", pg.folio, pg.mapcount)
assert(not next_page.huge and next_page.pfn == folio + off + 1 and pg.folio == folio)
assert(pg.mapcount == 2 and pg.entire_mapcount == 1)
local copy = parent:translate(last).pfn
say("The written page is frame %#x now, a small page of the parent's own.", copy)
assert(copy ~= folio + off and m:page(copy).folio == copy)

------------------------------------------------------------------------------
section("4. The child exits: a partially mapped huge page")

local anon = vm("nr_anon_pages")
child:exit()
say("The child's PMD went.  Page %d of the huge page is mapped by no one now,", off)
say("but the folio is not freed: thp_deferred_split_page %d, AnonPages counts the",
    vm("thp_deferred_split_page"))
say("pages still mapped (%d -> %d).", anon, vm("nr_anon_pages"))
assert(vm("thp_deferred_split_page") == 1 and m:page(folio).folio == folio)
assert(m:page(folio + off).mapcount == 0 and m:page(folio + off).refcount > 0)

------------------------------------------------------------------------------
section("5. The deferred split")

m:drain_pages()
local free = m:vmstat().nr_free_pages
m:drop_caches(2)		-- drop_slab(): the thp-deferred_split shrinker at priority 0
m:drain_pages()
say("drop_caches 2 runs the shrinkers: thp_split_page %d, %d frame freed (the page",
    vm("thp_split_page"), m:vmstat().nr_free_pages - free)
say("nobody mapped); the other 511 are small pages of the parent now.")
assert(vm("thp_split_page") == 1 and m:vmstat().nr_free_pages - free == 1)
assert(m:page(folio + off + 1).folio == folio + off + 1)
assert(parent:read(last + 100, 1) == "!")
assert(m:check())
