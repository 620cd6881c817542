-- sbrk and the heap: the break, the [heap] VMA, VmData, and glibc's quirks
--
-- The seed notes' experiment: a C program calls sbrk(1 MiB), prints the old
-- and the new break (0x55555557a000 and 0x55555567a000 with ASLR off) and
-- looks at /proc/PID/maps.  This lab runs it on a simulated process whose
-- image ends where the notes' program's did, then looks closer: where the
-- [heap] VMA starts, what VmData counts, what touching the heap does, how
-- the heap shrinks away, and brk(2) itself, which never reports an errno.
-- Every claim is checked with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local MiB, PAGE = 1024 * 1024, 4096

-- The lines of /proc/PID/maps for the program and its heap (everything
-- below 0x600000000000; the libraries, vDSO and stack live near the top).
local function image_maps(p)
  local out = {}
  for line in p:maps():gmatch("[^\n]*\n") do
    local start = tonumber(line:match("^(%x+)-"), 16) -- [vsyscall] wraps negative
    if start >= 0 and start < 0x600000000000 then out[#out + 1] = line end
  end
  return table.concat(out)
end
local function heap_vma(p)
  for _, v in ipairs(p:vmas()) do
    if v.name == "[heap]" then return v end
  end
end
local function status_kb(m, p, field)
  return tonumber(m:proc(p.pid .. "/status"):match(field .. ":%s+(%d+) kB"))
end

------------------------------------------------------------------------------
section("1. The process before the first sbrk")

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }
-- One page of ELF headers, then text, rodata, data and a bss of 0x22000
-- bytes: the image spans 0x555555554000..0x55555557a000.
local p = m:spawn{ name = "sbrk", aslr = false,
                   exe = { text = "4K", rodata = "4K", data = "4K", bss = 0x22000 } }
local start_brk = p:mm().start_brk
local old = p:sbrk(0)
say("ASLR off: the PIE image is loaded at 0x555555554000 (ELF_ET_DYN_BASE).")
say("sbrk(0) = 0x%x, and mm->start_brk = 0x%x: the break starts at the", old, start_brk)
print("page-aligned end of the bss.")
assert(old == 0x55555557a000 and start_brk == old, "the notes' program saw 0x55555557a000")
print()
io.write(image_maps(p))
local vmas0 = #p:vmas()
assert(not heap_vma(p), "no [heap] before the first sbrk")
print("No [heap] line yet: a VMA for the heap exists only once the break has grown.")
print("The last line is the bss beyond the data page: anonymous, rw-p.")

------------------------------------------------------------------------------
section("2. sbrk(1 MiB), as the notes' C program does it")

local vmdata0, vmrss0 = status_kb(m, p, "VmData"), status_kb(m, p, "VmRSS")
local ret = assert(p:sbrk(MiB))
local new = p:sbrk(0)
print('printf("old:%p\\tp=%p\\n", p, old); printf("new:%p\\n", sbrk(0)) prints:')
say("old:0x%x\tp=0x%x", ret, old)
say("new:0x%x", new)
assert(ret == 0x55555557a000 and new == 0x55555567a000, "the notes' output")
print("sbrk returns the OLD break, so 'old' and 'p' are the same address; the")
print("new break is 1 MiB (0x100000) higher.")

------------------------------------------------------------------------------
section("3. /proc/PID/maps: the [heap] VMA")

io.write(image_maps(p))
local heap = assert(heap_vma(p), "a [heap] VMA after the first grow")
assert(heap.start == start_brk and heap["end"] == new and heap.perms == "rw-p")
local bss
for _, v in ipairs(p:vmas()) do
  if v["end"] == heap.start then bss = v end
end
assert(bss and bss.name == "" and bss.perms == "rw-p" and bss.inode == 0,
       "an anonymous rw-p bss VMA right below the heap")
assert(#p:vmas() == vmas0 + 1, "the heap is one new VMA")
say("[heap] is 0x%x-0x%x: it starts at start_brk and ends at the break.", heap.start, heap["end"])
say("Just below it the bss VMA 0x%x-0x%x is also anonymous rw-p and adjacent,",
    bss.start, bss["end"])
print("yet the two never merge: Linux 6.x's brk() looks for a VMA to extend only at")
print("or above start_brk (vma_prev_limit), then do_brk_flags() extends that one or")
print("creates a new VMA; the bss is never considered (4.4's vma_merge could join them).")

local vmdata1 = status_kb(m, p, "VmData")
print()
say("VmData in /proc/%d/status: %d kB -> %d kB (+%d kB)", p.pid, vmdata0, vmdata1,
    vmdata1 - vmdata0)
assert(vmdata1 - vmdata0 == 1024, "VmData counts the heap's 1024 kB")
print("VmData counts private writable mappings (data_vm): .data, .bss, the heap.")

------------------------------------------------------------------------------
section("4. Lazy allocation: address space, not memory")

local vmrss1 = status_kb(m, p, "VmRSS")
say("VmRSS: %d kB before the sbrk, %d kB after it.", vmrss0, vmrss1)
assert(vmrss0 == 0 and vmrss1 == 0)
print("The sbrk only created a VMA: no page is allocated until the program")
print("touches it (a page fault per page), so RSS does not grow by 1 MiB.  (A real")
print("process also shows its resident image pages; this one never ran its code.)")
print("The labs lazy_alloc and demand_paging count the faults and frames; here,")
print("the bounds of the heap:")
local ok, sig, code = p:touch(start_brk, 1, "w")
say('  p:touch(0x%x, 1, "w")      --> %s   (first heap byte)', start_brk, tostring(ok))
assert(ok == true)
ok = p:touch(new - 1, 1, "w")
say('  p:touch(0x%x, 1, "w")      --> %s   (last heap byte)', new - 1, tostring(ok))
assert(ok == true)
ok, sig, code = p:touch(new, 1, "w")
say('  p:touch(0x%x, 1, "w")      --> %s, %s, %s', new, tostring(ok), sig, code)
assert(ok == nil and sig == "SIGSEGV" and code == "SEGV_MAPERR", "above the break nothing is mapped")
assert(heap_vma(p).anon_vma, "the write gave the heap VMA an anon_vma")
assert(status_kb(m, p, "VmRSS") == 8, "the two written pages are resident")
print("The byte at the break itself is above the heap: SIGSEGV with SEGV_MAPERR.")

------------------------------------------------------------------------------
section("5. sbrk(-1 MiB): the heap goes away")

ret = assert(p:sbrk(-MiB))
say("sbrk(-1 MiB) --> 0x%x (the old break); the break is now 0x%x", ret, p:sbrk(0))
assert(ret == new and p:sbrk(0) == start_brk)
io.write(image_maps(p))
assert(not heap_vma(p) and #p:vmas() == vmas0, "the [heap] VMA is gone")
assert(status_kb(m, p, "VmData") == vmdata0, "VmData is back")
print("The break is back at start_brk, brk() unmapped [start_brk, old break) and the")
print("[heap] line is gone; VmData is back to " .. vmdata0 .. " kB.")

print()
local maps_before = p:maps()
ret = p:sbrk(-PAGE)
say("sbrk(-4096) at start_brk --> 0x%x, and the break is still 0x%x", ret, p:sbrk(0))
assert(ret == start_brk and p:sbrk(0) == start_brk and p:maps() == maps_before)
print("glibc's quirk: the kernel refuses a break below start_brk by returning the")
print("unchanged break; glibc's brk() only counts a result BELOW the request as a")
print("failure, so the refused shrink looks like success: no -1, no errno, no change.")

------------------------------------------------------------------------------
section("6. brk(2) itself")

local function brk(addr, why)
  local r = p:brk(addr)
  say("  brk(start_brk + %-9s --> start_brk + %-7s %s", string.format("0x%x)", addr - start_brk),
      string.format("0x%x", r - start_brk), why)
  return r
end
say("brk(0) --> 0x%x: 0 is below start_brk, refused, so brk(2) returns the", p:brk(0))
print("current break.  That is how glibc reads the break.")
assert(p:brk(0) == start_brk)
print()
local cur = brk(start_brk + 1, "(success: mm->brk keeps the exact value)")
heap = assert(heap_vma(p))
assert(cur == start_brk + 1 and heap["end"] == start_brk + PAGE)
say("  [heap] is 0x%x-0x%x: the VMA ends at PAGE_ALIGN(brk), so the rest", heap.start,
    heap["end"])
assert(p:touch(start_brk + 100, 1, "w"), "the rest of the page is mapped")
print("  of that page is accessible (p:touch(start_brk + 100, 1, \"w\") --> true).")
assert(p:brk(start_brk) == start_brk and not heap_vma(p))

print()
local guard = assert(p:mmap(start_brk + 0x10000, PAGE, "rw-", "private|anonymous|fixed_noreplace"))
say("Now an mmap()ed page sits at start_brk + 0x10000 (0x%x), in the heap's way:", guard)
assert(brk(start_brk + 0x100000, "(refused: the page is in the way)") == start_brk)
assert(brk(start_brk + 0x10000, "(refused: no free page would be left)") == start_brk)
assert(brk(start_brk + 0xf000, "(success: one free page remains)") == start_brk + 0xf000)
print("An impossible brk returns the OLD break, never an errno; the caller compares.")
print("Growing the heap must leave at least one free page below the next mapping.")
local r, err, errno = p:sbrk(MiB)
say("glibc's sbrk(1 MiB) gets back a break below the one it asked for --> %s, %s, %s",
    tostring(r), err, errno)
assert(r == nil and err == "ENOMEM" and errno == 12)
print("which is why malloc falls back to mmap() when the heap cannot grow.")

p:exit()
assert(m:check(), "the machine's invariants hold")
print()
print("m:check() --> true")
