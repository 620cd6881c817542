-- anon_vma: how Linux finds the processes that map an anonymous page, and
-- why a server that forks and exits for ever does not drown in them
--
-- A private VMA's anonymous pages hang off an anon_vma (mm/rmap.c).  At
-- fork the child's copy of the VMA shares the parent's pages, so it is
-- linked -- by an anon_vma_chain object -- to the parent's anon_vma and to
-- every one that anon_vma was forked from, and gets an anon_vma of its own
-- for the pages it will copy on write.  Reclaim, migration and compaction
-- start from a page's anon_vma and visit every VMA linked to it.  Before
-- Linux 3.19 a process that forked a child and exited, generation after
-- generation (a daemon re-executing itself, a fork-server), grew the chain
-- by one anon_vma each time, and every fork copied the whole chain.
-- anon_vma_clone() now reuses an old anon_vma that no VMA uses any more
-- and that has fewer than two children.  This lab follows one mapping
-- through twelve generations and prints each one's anon_vma, its chain,
-- and the anon_vma and anon_vma_chain objects in the slab caches, then
-- the order a reverse-map walk visits the mappings of a page in (an
-- anonymous page's and a file page's).  Every claim is checked with
-- assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local P = 4096
local BASE = 0x7e0000000000

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }

local function objects(name) return m:slab_cache(name):info().objects end
local function vma(t) return assert(t:find_vma(BASE)) end
local function describe(id)
  local a = assert(m:anon_vma(id))
  return string.format("anon_vma %2d (parent %2d, root %d, children %d, VMAs %d, linked %d)",
                       a.id, a.parent, a.root, a.num_children, a.num_active_vmas, a.chains)
end

------------------------------------------------------------------------------
section("1. A first write makes a root")

local p = m:spawn{ name = "server", aslr = false }
assert(p:mmap(BASE, 16 * P, "rw", "private|anonymous|fixed"))
local avs0, chains0 = objects("anon_vma"), objects("anon_vma_chain")
say("p:mmap(0x%x, 64K, \"rw\"): no anon_vma yet (anon_vma_id %d, chain %d).", BASE,
    vma(p).anon_vma_id, vma(p).anon_vma_chain)
assert(not vma(p).anon_vma)
assert(p:write(BASE, "generation 0"))
local root = vma(p).anon_vma_id
say("p:write(): anon_vma_prepare() makes a new one and links the VMA to it:")
say("    %s", describe(root))
assert(objects("anon_vma") == avs0 + 1 and objects("anon_vma_chain") == chains0 + 1)
local a = m:anon_vma(root)
assert(a.parent == root and a.root == root and a.num_children == 1,
       "a root is its own parent; that self-link counts as a child")

------------------------------------------------------------------------------
section("2. fork: a link to each ancestor, and an anon_vma of its own")

local c = assert(p:fork())
say("p:fork(): the child's VMA is linked to %d anon_vmas:", vma(c).anon_vma_chain)
say("    its own: %s", describe(vma(c).anon_vma_id))
say("    parent:  %s", describe(root))
assert(vma(c).anon_vma_chain == 2)
assert(m:anon_vma(vma(c).anon_vma_id).parent == root)
say("The page written before the fork is shared: %d mappings of frame 0x%x (m:rmap).",
    #m:rmap(p:translate(BASE).pfn), p:translate(BASE).pfn)
assert(#m:rmap(p:translate(BASE).pfn) == 2)
assert(m:check())

------------------------------------------------------------------------------
section("3. Twelve generations: fork, and the parent exits")

print("gen  VMA's anon_vma, chain  anon_vma objs  anon_vma_chain objs  (no reuse: chain)")
p:exit()
p = c
local seen = {}
for gen = 1, 12 do
  if gen > 1 then
    local child = assert(p:fork())
    p:exit()
    p = child
  end
  assert(p:write(BASE + gen * P, "generation " .. gen))
  local v = vma(p)
  say("%3d  %14d, %d  %13d  %19d  %9d", gen, v.anon_vma_id, v.anon_vma_chain,
      objects("anon_vma"), objects("anon_vma_chain"), gen + 1)
  seen[v.anon_vma_id] = (seen[v.anon_vma_id] or 0) + 1
  assert(v.anon_vma_chain <= 3, "the chain stops growing")
  assert(m:check())
end
local ids = 0
for _ in pairs(seen) do ids = ids + 1 end
print()
say("From the third generation on the child reuses its grandparent's anon_vma: no VMA uses")
say("it any more (its process exited) and its only child is the parent's.  Two anon_vmas")
say("take turns under the root (%d different ones in twelve generations); the stack's", ids)
say("hierarchy does the same.")
assert(ids == 2)
say("    %s", describe(vma(p).anon_vma_id))
say("    %s", describe(root))

------------------------------------------------------------------------------
section("4. Every generation's page is still there, found through the chain")

for gen = 0, 12, 4 do
  local s = p:read(BASE + gen * P, #("generation " .. gen))
  local pfn = p:translate(BASE + gen * P).pfn
  say("page %2d: %-16s frame 0x%x, mapped %d time(s)", gen, string.format("%q", s), pfn,
      #m:rmap(pfn))
  assert(s == "generation " .. gen)
end
assert(m:check())
print()
print("m:check() --> true  (every chain, every count above, every page's anon_vma reachable)")

------------------------------------------------------------------------------
section("5. The order the walk takes: Linux's interval trees")

-- An anon_vma keeps its chains, and a file its VMAs (i_mmap), in interval
-- trees keyed by the VMA's offset in pages (vm_pgoff): a walk visits them
-- by offset, and equal offsets in the order they went in.  A VMA whose
-- range changes (a split, a merge, a stack growing) is taken out and put
-- back -- after its equals.  Fork puts a file VMA's copy right after its
-- parent's (vma_interval_tree_insert_after), an anonymous VMA's chain
-- after all its equals.
local m2 = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
local f = m2:file{ path = "/data/shared", size = 4 * P, writable = true }
local a = m2:spawn{ name = "a", aslr = false }
assert(a:mmap(BASE, 4 * P, "rw", "private|anonymous|fixed"))
assert(a:mmap(BASE + 16 * P, 4 * P, "rw", "shared|fixed", f, 0))
assert(a:write(BASE, "anon"))
assert(a:write(BASE + 16 * P, "file"))
local b = assert(a:fork())
local c = assert(a:fork())
assert(b:read(BASE + 16 * P, 4) and c:read(BASE + 16 * P, 4))
local names = { [a.pid] = "a", [b.pid] = "b", [c.pid] = "c" }
local function walk(addr)
  local t = {}
  for _, e in ipairs(m2:rmap(a:translate(addr).pfn)) do t[#t + 1] = names[e.pid] end
  return table.concat(t, " ")
end
say("a forks b, then c; both read the shared file page.")
say("  anonymous page (anon_vma chains):   %s", walk(BASE))
say("  file page (the file's i_mmap):      %s", walk(BASE + 16 * P))
assert(walk(BASE) == "a b c" and walk(BASE + 16 * P) == "a c b")
assert(a:mprotect(BASE + 2 * P, P, "r"))
assert(a:mprotect(BASE + 18 * P, P, "r"))
say("a mprotects a page in the middle of each mapping (both split):")
say("  anonymous page:                     %s", walk(BASE))
say("  file page:                          %s", walk(BASE + 16 * P))
assert(walk(BASE) == "b c a" and walk(BASE + 16 * P) == "c b a")
assert(m2:check())
m2:close()
