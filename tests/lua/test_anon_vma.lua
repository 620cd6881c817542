-- test_anon_vma.lua: anon_vmas and anon_vma_chains as Linux 6.18 keeps them
-- (mm/rmap.c): a first write gives a private VMA an anon_vma (a root), a
-- split or a merge links the new VMA to the same ones, fork gives the
-- child's copy a chain to each of the parent's and an anon_vma of its own
-- -- or reuses an old one that no VMA uses any more and that has fewer
-- than two children (anon_vma_clone, Linux 3.19's "prevent endless growth
-- of anon_vma hierarchy") -- and each link is an object of the
-- anon_vma_chain cache.  m:check() verifies every count below on every
-- call (rmap.c anon_vma_check).  The merges these decide are compared
-- with the host's kernel by tests/diff/diff_vma; the hierarchy itself no
-- file of the host shows.  (By hand on the reference host, Linux 6.18: a
-- process that forked a child and exited, 300 generations in a row, each
-- writing a private page, left /sys/kernel/slab/anon_vma/objects where it
-- was, 546; without the reuse each of its written VMAs would hold 300.)
--
-- Run from the source root:  build/memlab run tests/lua/test_anon_vma.lua -o text

local lu = require("luaunit")
local memlab = require("memlab")
local H = dofile(((arg and arg[0] or ""):match("^(.*/)") or "") .. "helpers.lua")

local PAGE = 4096
local BASE = 0x7e0000000000

local function machine()
  return memlab.new{ ram = "64M", seed = 1 }
end

local function objects(m, name)
  return m:slab_cache(name):info().objects
end

-- The VMA of t holding addr.
local function vma(t, addr)
  return assert(t:find_vma(addr or BASE))
end

-- The anon_vma of t's VMA at addr.
local function anon_vma(m, t, addr)
  return assert(m:anon_vma(vma(t, addr).anon_vma_id))
end

-- A task with BASE..BASE+n pages mapped private and the first page written.
local function writer(m, n)
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, (n or 4) * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE, "gen0"))
  return p
end

function test_first_write_makes_a_root()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, 4 * PAGE, "rw", "private|anonymous|fixed"))
  lu.assertEquals({ vma(p).anon_vma, vma(p).anon_vma_id, vma(p).anon_vma_chain }, { false, 0, 0 })
  assert(p:write(BASE, "x"))
  local v = vma(p)
  lu.assertEquals(v.anon_vma_chain, 1)
  -- its own parent and root; the self-parent link counts as a child
  lu.assertEquals(m:anon_vma(v.anon_vma_id), { id = v.anon_vma_id, parent = v.anon_vma_id,
    root = v.anon_vma_id, num_children = 1, num_active_vmas = 1, chains = 1, refcount = 1 })
  lu.assertNil(m:anon_vma(v.anon_vma_id + 1000))
  H.assert_raises({ "anon_vma", "id must be positive" }, m.anon_vma, m, 0)
  H.assert_raises({ "anon_vma", "id" }, m.anon_vma, m, "x")
  lu.assertTrue(m:check())
end

function test_split_links_the_new_vma_to_the_same_anon_vma()
  local m <close> = machine()
  local p = writer(m)
  local chains = objects(m, "anon_vma_chain")
  assert(p:mprotect(BASE + PAGE, PAGE, "r--"))           -- three VMAs, one anon_vma
  local a = anon_vma(m, p)
  lu.assertEquals({ a.num_active_vmas, a.chains }, { 3, 3 })
  lu.assertEquals(vma(p, BASE + 2 * PAGE).anon_vma_id, a.id)
  lu.assertEquals(objects(m, "anon_vma_chain"), chains + 2)
  assert(p:mprotect(BASE + PAGE, PAGE, "rw"))            -- merged back: two links freed
  a = anon_vma(m, p)
  lu.assertEquals({ a.num_active_vmas, a.chains }, { 1, 1 })
  lu.assertEquals(objects(m, "anon_vma_chain"), chains)
  lu.assertTrue(m:check())
end

-- A neighbour's anon_vma is taken at the first write when the VMAs could
-- share one (find_mergeable_anon_vma: they differ in access flags at most,
-- their offsets run on), so that mprotect can merge them later.
function test_first_write_takes_a_compatible_neighbours_anon_vma()
  local m <close> = machine()
  local p = writer(m, 2)
  assert(p:mmap(BASE + 2 * PAGE, 2 * PAGE, "rwx", "private|anonymous|fixed"))
  lu.assertFalse(vma(p, BASE + 2 * PAGE).anon_vma)       -- [rw- written][rwx unwritten]
  local chains, avs = objects(m, "anon_vma_chain"), objects(m, "anon_vma")
  assert(p:write(BASE + 2 * PAGE, "y"))
  lu.assertEquals(vma(p, BASE + 2 * PAGE).anon_vma_id, vma(p).anon_vma_id)
  lu.assertEquals(objects(m, "anon_vma_chain"), chains + 1)   -- a link, no anon_vma
  lu.assertEquals(objects(m, "anon_vma"), avs)
  lu.assertEquals(anon_vma(m, p).num_active_vmas, 2)
  assert(p:mprotect(BASE + 2 * PAGE, 2 * PAGE, "rw"))    -- so they merge
  lu.assertEquals(vma(p)["end"], BASE + 4 * PAGE)
  lu.assertEquals(anon_vma(m, p).num_active_vmas, 1)
  lu.assertTrue(m:check())
end

function test_fork_links_the_child_to_the_parents_anon_vma()
  local m <close> = machine()
  local p = writer(m)
  local pa = anon_vma(m, p)
  local avs, chains = objects(m, "anon_vma"), objects(m, "anon_vma_chain")
  local c = assert(p:fork())
  local v = vma(c)
  lu.assertEquals(v.anon_vma_chain, 2)                    -- the parent's and its own
  local ca = m:anon_vma(v.anon_vma_id)
  lu.assertEquals({ ca.parent, ca.root, ca.num_children, ca.num_active_vmas, ca.chains, ca.refcount },
                  { pa.id, pa.id, 0, 1, 1, 1 })
  pa = anon_vma(m, p)
  -- the parent's: a child more, a chain more (the child's VMA), a reference
  -- more (the child's anon_vma pins its root)
  lu.assertEquals({ pa.num_children, pa.num_active_vmas, pa.chains, pa.refcount }, { 2, 1, 2, 2 })
  -- the stack and the mapping were written: an anon_vma each, two links each
  lu.assertEquals(objects(m, "anon_vma") - avs, 2)
  lu.assertEquals(objects(m, "anon_vma_chain") - chains, 4)
  -- the pages they share stay on the parent's anon_vma, a copy goes on the child's
  lu.assertEquals(c:translate(BASE).pfn, p:translate(BASE).pfn)
  assert(c:write(BASE, "kid"))
  lu.assertNotEquals(c:translate(BASE).pfn, p:translate(BASE).pfn)
  lu.assertTrue(m:check())
  c:exit()
  pa = anon_vma(m, p)
  lu.assertEquals({ pa.num_children, pa.chains, pa.refcount }, { 1, 1, 1 })
  lu.assertEquals({ objects(m, "anon_vma"), objects(m, "anon_vma_chain") }, { avs, chains })
  lu.assertTrue(m:check())
end

-- An anonymous page's reverse map walks its anon_vma's chains in the order
-- of Linux's interval tree: by the VMA's offset, then as linked; a VMA
-- whose range moves (a split, a stack growing down, a merge) goes after
-- its equals again, and mremap's copy (which keeps the moved pages'
-- offset) after its equals too.
function test_rmap_walks_the_chains_by_offset()
  local m <close> = machine()
  local p = writer(m)
  assert(p:write(BASE + 3 * PAGE, "last"))
  local c1, c2 = assert(p:fork()), assert(p:fork())
  local function pids(addr)
    local t = {}
    for _, e in ipairs(m:rmap(p:translate(addr).pfn)) do t[#t + 1] = e.pid end
    return t
  end
  lu.assertEquals(pids(BASE), { p.pid, c1.pid, c2.pid })  -- linked in turn, one offset
  assert(p:mprotect(BASE + 2 * PAGE, PAGE, "r"))         -- p's VMA split: after the others
  lu.assertEquals(pids(BASE), { c1.pid, c2.pid, p.pid })
  assert(c1:mprotect(BASE + PAGE, PAGE, "r"))            -- and c1's
  lu.assertEquals(pids(BASE), { c2.pid, p.pid, c1.pid })
  -- the last page: c1's VMA holding it starts at offset 2 (first), p's at 3
  -- (split off by its mprotect); c2 moves it away, its copy at offset 3 too,
  -- linked last
  local moved = assert(c2:mremap(BASE + 3 * PAGE, PAGE, PAGE, "maymove|fixed", BASE + 64 * PAGE))
  lu.assertEquals(moved, BASE + 64 * PAGE)
  lu.assertEquals(m:rmap(p:translate(BASE + 3 * PAGE).pfn),
                  { { pid = c1.pid, addr = BASE + 3 * PAGE }, { pid = p.pid, addr = BASE + 3 * PAGE },
                    { pid = c2.pid, addr = moved } })
  lu.assertTrue(m:check())
end

-- A merge, a stack growing down and a break moving up move a VMA's range:
-- its chains are put back by their offset, after their equals
-- (vma_prepare()/vma_complete(), expand_downwards()), as a split's are.
function test_chains_move_when_a_vma_merges_or_grows()
  local m <close> = machine()
  local p = writer(m)
  local heap = p:sbrk(4 * PAGE)
  assert(p:write(heap, "heap"))
  local stack = vma(p, p:vmas()[#p:vmas()].start).start  -- [stack] is the last VMA
  assert(p:write(stack + PAGE, "stack"))
  local c = assert(p:fork())
  local function pids(addr)
    local t = {}
    for _, e in ipairs(m:rmap(p:translate(addr).pfn)) do t[#t + 1] = e.pid end
    return t
  end
  for _, a in ipairs{ BASE, heap, stack + PAGE } do
    lu.assertEquals(pids(a), { p.pid, c.pid })
  end
  assert(p:mprotect(BASE + 2 * PAGE, PAGE, "r"))  -- split: p after c
  assert(c:mprotect(BASE + 2 * PAGE, PAGE, "r"))  -- c after p
  lu.assertEquals(pids(BASE), { p.pid, c.pid })
  assert(p:mprotect(BASE + 2 * PAGE, PAGE, "rw")) -- p's three merge back into one
  lu.assertEquals(#p:vmas(), #c:vmas() - 2)
  lu.assertEquals(pids(BASE), { c.pid, p.pid })
  p:sbrk(PAGE)                                    -- the heap grows in place
  lu.assertEquals(pids(heap), { c.pid, p.pid })
  -- c's stack grows down: its VMA starts a page lower in offset too, so
  -- its chain goes before p's
  lu.assertEquals(pids(stack + PAGE), { p.pid, c.pid })
  assert(c:touch(stack - PAGE, 1, "w"))
  lu.assertEquals(vma(c, stack - PAGE).start, stack - PAGE)
  lu.assertEquals(pids(stack + PAGE), { c.pid, p.pid })
  lu.assertTrue(m:check())
end

-- A process that forks and exits, generation after generation: without
-- reuse each generation's VMA would link to every ancestor's anon_vma.
-- The child reuses the anon_vma of its grandparent -- no VMA uses it any
-- more, and its only child is the parent's -- so the chain stops at three
-- (root, and two that take turns).
function test_a_forking_chain_reuses_anon_vmas()
  local m <close> = machine()
  local p = writer(m)
  local root = vma(p).anon_vma_id
  local ids = {}
  for gen = 1, 12 do
    local c = assert(p:fork())
    p:exit()
    p = c
    assert(p:write(BASE + PAGE, "gen" .. gen))
    local v = vma(p)
    ids[gen] = v.anon_vma_id
    lu.assertEquals(v.anon_vma_chain, gen == 1 and 2 or 3, gen)
    local a = m:anon_vma(v.anon_vma_id)
    lu.assertEquals(a.root, root, gen)
    lu.assertEquals(a.num_active_vmas, 1, gen)
    lu.assertTrue(m:check())
  end
  -- generation 3 reuses generation 1's anon_vma, 4 generation 2's, ...
  for gen = 3, 12 do lu.assertEquals(ids[gen], ids[gen - 2], gen) end
  lu.assertNotEquals(ids[1], ids[2])
  -- the stack's hierarchy is bounded the same way: 3 anon_vmas and 3 links each
  lu.assertEquals(objects(m, "anon_vma"), 6)
  lu.assertEquals(objects(m, "anon_vma_chain"), 6)
  -- every generation's page is still found through the chain
  lu.assertEquals(p:read(BASE, 4), "gen0")
  lu.assertEquals(#m:rmap(p:translate(BASE).pfn), 1)
end

-- An anon_vma with two children is never reused: a process forking two
-- children keeps its own for both of theirs.
function test_an_anon_vma_with_two_children_is_not_reused()
  local m <close> = machine()
  local p = writer(m)
  local c1 = assert(p:fork())
  local c2 = assert(p:fork())
  p:exit()
  local a1, a2 = vma(c1).anon_vma_id, vma(c2).anon_vma_id
  lu.assertNotEquals(a1, a2)
  local root = m:anon_vma(m:anon_vma(a1).parent)
  lu.assertEquals({ root.num_children, root.num_active_vmas }, { 3, 0 })
  local g = assert(c1:fork())                              -- root: 3 children; a1: used
  local ga = m:anon_vma(vma(g).anon_vma_id)
  lu.assertEquals(ga.parent, a1)
  lu.assertEquals(vma(g).anon_vma_chain, 3)
  lu.assertTrue(m:check())
end

-- A merge that must give the growing VMA the other's anon_vma links it
-- to the anon_vma (dup_anon_vma); when that link cannot be had mprotect
-- fails with ENOMEM and nothing changes.
function test_merge_that_cannot_link_fails_with_enomem()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE + 2 * PAGE, 2 * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE + 2 * PAGE, "x"))                   -- an anon_vma of its own
  assert(p:mprotect(BASE + 2 * PAGE, 2 * PAGE, "r--"))
  assert(p:mmap(BASE, 2 * PAGE, "rw", "private|anonymous|fixed"))          -- never written
  lu.assertFalse(vma(p).anon_vma)
  local maps = p:maps()
  -- the link is tried GFP_NOWAIT then GFP_KERNEL: both fail
  assert(m:inject("failslab", { probability = 100, times = 2, verbose = 0, ignore_gfp_wait = false }))
  lu.assertEquals({ p:mprotect(BASE + 2 * PAGE, 2 * PAGE, "rw") }, { nil, "ENOMEM", 12 })
  lu.assertEquals(m:injected("failslab").fired, 2)
  lu.assertEquals(p:maps(), maps)
  lu.assertTrue(m:check())
  assert(p:mprotect(BASE + 2 * PAGE, 2 * PAGE, "rw"))    -- and with memory, it merges
  lu.assertEquals(vma(p).vm_flags, vma(p, BASE + 3 * PAGE).vm_flags)
  lu.assertEquals(vma(p).start, BASE)
  lu.assertEquals(vma(p)["end"], BASE + 4 * PAGE)
  lu.assertEquals(vma(p).anon_vma_chain, 1)
  lu.assertTrue(m:check())
end

-- mmap between an unwritten VMA and a written one merges all three; when
-- the link cannot be had, the new range becomes a VMA of its own
-- ("callers ignore OOM for this case").
function test_mmap_merge_that_cannot_link_maps_a_vma_of_its_own()
  local m <close> = machine()
  local p = m:spawn{ name = "p", aslr = false }
  assert(p:mmap(BASE, PAGE, "rw", "private|anonymous|fixed"))
  assert(p:mmap(BASE + 2 * PAGE, PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE + 2 * PAGE, "x"))
  local vmas = #p:vmas()
  assert(m:inject("failslab", { probability = 100, times = 2, verbose = 0, ignore_gfp_wait = false }))
  assert(p:mmap(BASE + PAGE, PAGE, "rw", "private|anonymous|fixed"))
  lu.assertEquals(#p:vmas(), vmas + 1)
  lu.assertFalse(vma(p).anon_vma)
  lu.assertTrue(m:check())
  m:inject("failslab", false)
  assert(p:munmap(BASE + PAGE, PAGE))
  assert(p:mmap(BASE + PAGE, PAGE, "rw", "private|anonymous|fixed"))
  lu.assertEquals(#p:vmas(), vmas - 1)                     -- now one VMA
  lu.assertEquals(vma(p).anon_vma_chain, 1)
  lu.assertTrue(m:check())
end

-- mremap moves a written VMA: the copy links to the same anon_vmas.
function test_mremap_copy_keeps_the_chain()
  local m <close> = machine()
  local p = writer(m)
  local c = assert(p:fork())
  local before = vma(c)
  local to = BASE + 64 * PAGE
  lu.assertEquals(c:mremap(BASE, 4 * PAGE, 4 * PAGE, "maymove|fixed", to), to)
  local after = vma(c, to)
  lu.assertEquals({ after.anon_vma_id, after.anon_vma_chain }, { before.anon_vma_id, 2 })
  lu.assertEquals(c:read(to, 4), "gen0")
  lu.assertTrue(m:check())
  -- MREMAP_DONTUNMAP: the old range stays, without its anon_vmas
  lu.assertEquals(c:mremap(to, 4 * PAGE, 4 * PAGE, "maymove|dontunmap|fixed", BASE), BASE)
  lu.assertEquals({ vma(c, to).anon_vma, vma(c, to).anon_vma_chain }, { false, 0 })
  lu.assertEquals(vma(c).anon_vma_chain, 2)
  lu.assertTrue(m:check())
end

-- failslab's defaults skip GFP_KERNEL, but the links of a fork are tried
-- GFP_NOWAIT first: failslab fails each of those, the retry goes through.
function test_failslab_defaults_fail_the_nowait_links_of_a_fork()
  local m <close> = machine()
  local p = writer(m)
  assert(m:inject("failslab", { probability = 100, times = -1, verbose = 0 }))
  local c = assert(p:fork())
  -- the stack's link and the mapping's to the parent's anon_vmas
  lu.assertEquals(m:injected("failslab").fired, 2)
  lu.assertEquals(vma(c).anon_vma_chain, 2)
  lu.assertTrue(m:check())
end

-- The anon_vma and anon_vma_chain caches are SLAB_ACCOUNT: a task's
-- links are charged to its memory cgroup.
function test_chains_are_charged_to_the_cgroup()
  local m <close> = machine()
  local cg = m:cgroup("/box")
  local p = m:spawn{ name = "p", cgroup = "/box", aslr = false }
  assert(p:mmap(BASE, 64 * PAGE, "rw", "private|anonymous|fixed"))
  assert(p:write(BASE, "x"))
  local before = cg:stat().slab_unreclaimable + cg:stat().kernel
  for i = 1, 31 do assert(p:mprotect(BASE + 2 * i * PAGE, PAGE, "r--")) end
  -- 62 VMAs more, each a vm_area_struct and a chain: more is charged
  lu.assertTrue(cg:stat().slab_unreclaimable + cg:stat().kernel > before)
  lu.assertTrue(m:check())
end

os.exit(lu.LuaUnit.run())
