-- VMA merging and splitting: when Linux 6.x joins neighbouring mappings and when it cannot
--
-- A process's address space is a list of VMAs (struct vm_area_struct), one
-- line each in /proc/PID/maps.  Linux keeps that list short: a new or
-- changed range merges with a neighbour when the two are indistinguishable
-- (same flags, same file or none, contiguous offsets, compatible anon_vma),
-- and a change to part of a VMA splits it.  This lab maps anonymous memory
-- with MAP_FIXED in a free region at 0x7e0000000000, one 1 MiB window per
-- experiment, and prints the window's lines of /proc/PID/maps and
-- mm->map_count after every step.  The merge functions named are those of
-- Linux 6.12's mm/vma.c.  Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local P = 4096
local BASE = 0x7e0000000000

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
local p = m:spawn{ name = "vma_merge", aslr = false }
local last_count = p:mm().map_count
say("A fresh process has map_count %d (the image, ld.so, vDSO, stack).", last_count)

-- The VMAs of one window as { {start, end, perms, anon_vma}, ... }.
local function window(w)
  local t = {}
  for _, v in ipairs(p:vmas()) do
    if v.start >= w and v["end"] <= w + 0x100000 then t[#t + 1] = v end
  end
  return t
end

-- Print the window's maps lines and map_count; assert the VMAs are exactly
-- `want`, a list of { first page, last page + 1, perms } relative to w.
local function show(w, want)
  for line in p:maps():gmatch("[^\n]*\n") do
    local s = tonumber(line:match("^(%x+)-"), 16)
    if s >= w and s < w + 0x100000 then io.write("    ", line) end
  end
  local count = p:mm().map_count
  say("    map_count %d (%+d)", count, count - last_count)
  local got = window(w)
  assert(#got == #want, string.format("expected %d VMAs, found %d", #want, #got))
  for i, v in ipairs(want) do
    assert(got[i].start == w + v[1] * P and got[i]["end"] == w + v[2] * P and
           got[i].perms == v[3], "VMA " .. i .. " differs")
  end
  last_count = count
  return got
end

local function map(addr, pages, flags)
  return assert(p:mmap(addr, pages * P, "rw-", (flags or "private") .. "|anonymous|fixed"))
end

------------------------------------------------------------------------------
section("1. Two adjacent anonymous mappings become one VMA")

local A = BASE
say("mmap(0x%x, 4 pages, rw-, private|anonymous|fixed):", A)
map(A, 4)
show(A, { { 0, 4, "rw-p" } })
say("mmap(0x%x, 4 pages, ...) right after it:", A + 4 * P)
map(A + 4 * P, 4)
show(A, { { 0, 8, "rw-p" } })
print("vma_merge_new_range() found a previous VMA ending where the new range starts,")
print("with the same flags, no file and contiguous vm_pgoff (addr >> 12 for private")
print("anonymous memory): it extended that VMA instead of making a new one.")

------------------------------------------------------------------------------
section("2. mprotect of a middle page splits 1 VMA into 3, and back into 1")

say("mprotect(0x%x, 1 page, r--):", A + 3 * P)
assert(p:mprotect(A + 3 * P, P, "r--"))
show(A, { { 0, 3, "rw-p" }, { 3, 4, "r--p" }, { 4, 8, "rw-p" } })
print("A VMA has one set of permissions, so mprotect_fixup() split it twice")
print("(split_vma at both ends of the page): 1 VMA became 3.")
say("mprotect(0x%x, 1 page, rw-):", A + 3 * P)
assert(p:mprotect(A + 3 * P, P, "rw-"))
show(A, { { 0, 8, "rw-p" } })
print("vma_merge_existing_range() saw the changed page now matches both neighbours")
print("and merged all three back into one VMA.")

------------------------------------------------------------------------------
section("3. A written VMA still merges with a new, unwritten neighbour")

say('p:touch(0x%x, 1, "w"): the first write gives the VMA an anon_vma', A)
assert(p:touch(A, 1, "w"))
assert(window(A)[1].anon_vma, "the written VMA has an anon_vma")
say("mmap(0x%x, 4 pages, ...) right after it:", A + 8 * P)
map(A + 8 * P, 4)
local v = show(A, { { 0, 12, "rw-p" } })
assert(v[1].anon_vma)
print("The anon_vma (which tracks the VMA's anonymous pages for reclaim) must be")
print("compatible on both sides: the same, or absent on one side.  The new mapping")
print("has none yet, so is_mergeable_anon_vma() allows the merge.")

------------------------------------------------------------------------------
section("4. Two separately written VMAs stay apart")

local B = BASE + 0x100000
say("Pages 0-1 and 3-4 at 0x%x, mapped and written separately:", B)
map(B, 2); assert(p:touch(B, 1, "w"))
map(B + 3 * P, 2); assert(p:touch(B + 3 * P, 1, "w"))
show(B, { { 0, 2, "rw-p" }, { 3, 5, "rw-p" } })
say("mmap(0x%x, 1 page, ...) fills the hole:", B + 2 * P)
map(B + 2 * P, 1)
v = show(B, { { 0, 3, "rw-p" }, { 3, 5, "rw-p" } })
assert(v[1].anon_vma and v[2].anon_vma)
print("The filler could join either side, but merging all three would put pages of")
print("two different anon_vmas in one VMA: can_vma_merge_right() also requires the")
print("left and right anon_vmas to be compatible with each other.  They are not,")
print("so vma_merge_new_range() merged the filler with the left VMA only.")

local C = BASE + 0x200000
print()
say("The same at 0x%x without the writes (no anon_vma anywhere):", C)
map(C, 2); map(C + 3 * P, 2)
show(C, { { 0, 2, "rw-p" }, { 3, 5, "rw-p" } })
say("mmap(0x%x, 1 page, ...) fills the hole:", C + 2 * P)
map(C + 2 * P, 1)
show(C, { { 0, 5, "rw-p" } })
print("Here the filler joined both neighbours: the right one was removed and the")
print("left one extended over all five pages (map_count -1).")

------------------------------------------------------------------------------
section("5. Shared next to private never merges")

local S = BASE + 0x300000
say("mmap(0x%x, 2 pages, private) and mmap(0x%x, 2 pages, shared):", S, S + 2 * P)
map(S, 2)
map(S + 2 * P, 2, "shared")
v = show(S, { { 0, 2, "rw-p" }, { 2, 4, "rw-s" } })
assert(v[2].name == "/dev/zero (deleted)")
print("A MAP_SHARED anonymous mapping is backed by a shmem file (shown as")
print("/dev/zero (deleted)) and has VM_SHARED: different flags and a different")
print("vm_file, so is_mergeable_vma() refuses.")

------------------------------------------------------------------------------
section("6. mremap grows a VMA in place")

local R = BASE + 0x400000
say("A 2-page mapping at 0x%x and another at page 6:", R)
map(R, 2); map(R + 6 * P, 2)
show(R, { { 0, 2, "rw-p" }, { 6, 8, "rw-p" } })
say("mremap(0x%x, 2 pages, 4 pages, 0):", R)
assert(p:mremap(R, 2 * P, 4 * P, 0) == R, "grown in place, same address")
show(R, { { 0, 4, "rw-p" }, { 6, 8, "rw-p" } })
print("The pages above were free, so the VMA simply got longer (vma_merge_extend()).")
local r, err, errno = p:mremap(R, 4 * P, 8 * P, 0)
say("mremap(0x%x, 4 pages, 8 pages, 0) --> %s, %s, %s", R, tostring(r), err, errno)
assert(r == nil and err == "ENOMEM" and errno == 12)
print("Growing into the mapping at page 6 is impossible in place, and without")
print("MREMAP_MAYMOVE the VMA may not move: ENOMEM.")
say("mremap(0x%x, 4 pages, 6 pages, 0):", R)
assert(p:mremap(R, 4 * P, 6 * P, 0) == R)
show(R, { { 0, 8, "rw-p" } })
print("Growing exactly up to the neighbour goes through vma_merge_new_range() with")
print("that neighbour as next: the two VMAs became one.")

------------------------------------------------------------------------------
section("7. munmap of a middle page splits a VMA in two")

say("munmap(0x%x, 1 page) in the 12-page VMA of section 3:", A + 5 * P)
assert(p:munmap(A + 5 * P, P))
show(A, { { 0, 5, "rw-p" }, { 6, 12, "rw-p" } })
print("do_vmi_munmap() split the VMA at both ends of the page and freed the middle")
print("piece: two VMAs where there was one (net +1).")

------------------------------------------------------------------------------
section("8. The whole region")

local total = 0
for _, vma in ipairs(p:vmas()) do
  if vma.start >= BASE and vma["end"] <= BASE + 0x500000 then total = total + 1 end
end
say("%d VMAs in 0x%x-0x%x; map_count %d.", total, BASE, BASE + 0x500000, p:mm().map_count)
assert(total == 2 + 2 + 1 + 2 + 1)
p:exit()
assert(m:check(), "the machine's invariants hold")
print("m:check() --> true")
