-- Injected bugs: a flipped PTE bit, a lost TLB flush, and what catches them
--
-- Fault injection is not only allocations failing.  This lab corrupts the
-- simulated kernel on purpose, the way a hardware error or a kernel bug
-- would, and watches the consequences: a bit flipped in a page-table
-- entry points a process at someone else's frame; a TLB flush that never
-- happened (memlab's tlb_stale_entry point) lets a process read a frame
-- after munmap freed it -- and after another process took it; a lost
-- shootdown IPI (tlb_lost_shootdown) is harmless to an idle CPU but lets
-- a thread on another CPU read a freed frame; a flipped link of an LRU
-- list is what CONFIG_DEBUG_LIST's checks catch when reclaim unlinks a
-- page, and a kernel BUG stops the machine.  Each time m:check() names
-- the damage.  Every claim is checked
-- with assert().

local memlab = require("memlab")

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function section(title) print() print("== " .. title .. " ==") end
local function check_fails(m)
  local ok, err = pcall(m.check, m)
  assert(not ok, "m:check() must see it")
  return tostring(err)
end
local function first_lines(text, n)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    out[#out + 1] = "    " .. line
    if #out == n then break end
  end
  return table.concat(out, "\n")
end
local A = 0x7e0000000000

------------------------------------------------------------------------------
section("1. A bit flipped in a page-table entry")

local m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
local p = m:spawn{ name = "victim", aslr = false }
local q = m:spawn{ name = "other", aslr = false }
assert(p:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(q:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:write(A, "mine"))
assert(q:write(A, "yours"))
local pp, qp = p:translate(A).pfn, q:translate(A).pfn
say("victim's page at 0x%x is frame 0x%x; other's page there is frame 0x%x.", A, pp, qp)
local bit
for b = 0, 30 do
  if pp ~ (1 << b) == qp then bit = b + 12 end
end
assert(bit, "the two frames differ in one bit (consecutive allocations)")
local c = assert(m:corrupt{ what = "pte", task = p, addr = A, bit = bit })
say("m:corrupt flips bit %d of the PTE: 0x%x -> 0x%x.", c.bit, c.before, c.after)
say("victim still reads %q: the TLB holds the old translation, and nothing", p:read(A, 4))
print("told it the entry changed.  Once the TLB lets it go (a context switch, a")
print("flush; here m:tlb_flush_all()), the flipped entry is what the MMU walks:")
assert(p:read(A, 4) == "mine")
m:tlb_flush_all()
local now = p:translate(A).pfn
say("victim now reads %q at 0x%x: frame 0x%x, other's.", p:read(A, 5), A, now)
assert(now == qp and p:read(A, 5) == "yours")
local err = check_fails(m)
print("m:check() says:")
print(first_lines(err, 4))
assert(err:match("rmap"), "the reverse map does not agree")
m:corrupt{ what = "pte", task = p, addr = A, bit = bit }	-- flip it back
m:tlb_flush_all()
assert(p:read(A, 4) == "mine" and m:check())
print("Flipped back: the victim reads \"mine\" again and m:check() passes.")
m:close()

------------------------------------------------------------------------------
section("2. A TLB flush that never happened")

m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
p = m:spawn{ name = "victim", aslr = false }
q = m:spawn{ name = "other", aslr = false }
assert(p:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(p:write(A, "secret"))
local frame = p:translate(A).pfn
assert(p:read(A, 6) == "secret")	-- the translation is in the TLB now
assert(m:inject("tlb_stale_entry", { probability = 100, times = 1, verbose = 0 }))
assert(p:munmap(A, 4096))
say("victim wrote \"secret\" to 0x%x (frame 0x%x), then munmap()ed it; the TLB", A, frame)
print("flush that munmap owes was injected away (tlb_stale_entry fired " ..
      m:injected("tlb_stale_entry").fired .. " time).")
local ok, sig = p:read(A, 6)
say("victim reads 0x%x after munmap: %q (Linux: SIGSEGV) -- a use after free.", A, tostring(ok))
assert(ok == "secret")
-- the frame goes back to the allocator, and another process gets it
m:drain_pages()
assert(q:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
local got
for i = 0, 255 do
  assert(q:write(A + 0, "x"))
  if q:translate(A).pfn == frame then got = true break end
  assert(q:munmap(A, 4096))
  assert(q:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
end
if got then
  assert(q:write(A, "other's"))
  say("other's new page is the same frame 0x%x; victim now reads %q:", frame, p:read(A, 7))
  print("another process's memory, through a translation that should not exist.")
  assert(p:read(A, 7) == "other's")
end
err = check_fails(m)
print("m:check() says:")
print(first_lines(err, 3))
assert(err:match("TLB") or err:match("tlb"), "a stale TLB entry")
m:tlb_flush_all()
ok, sig = p:read(A, 1)
say("After a full flush the victim's read is %s, %s, as it should have been.", tostring(ok), sig)
assert(ok == nil and sig == "SIGSEGV" and m:check())
m:close()

------------------------------------------------------------------------------
section("3. A lost shootdown, and why Linux survives most of them")

m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1, cpus = 2 }
p = m:spawn{ name = "mover", aslr = false }
assert(p:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
p:run_on(0)
assert(p:write(A, "cpu0"))			-- cached in CPU 0's TLB
p:run_on(1)					-- CPU 0 goes lazy, the mm still loaded
assert(m:inject("tlb_lost_shootdown", { probability = 100, times = -1, verbose = 0 }))
assert(p:munmap(A, 4096))			-- from CPU 1
p:run_on(0)
ok, sig = p:read(A, 4)
say("munmap on CPU 1 with every shootdown IPI lost; back on CPU 0 the read is %s, %s.",
    tostring(ok), sig)
assert(ok == nil and sig == "SIGSEGV" and m:check())
print("CPU 0 was lazy -- idle with the mm loaded -- so Linux sent it no IPI at all")
print("(or, when page tables were freed, one that makes it drop the mm); coming")
print("back, switch_mm() compares the mm's tlb_gen with the CPU's and flushes what")
print("it missed.  A lost IPI hurts only a CPU that runs the mm right now:")
print("another thread of the process -- section 4.")
m:close()

------------------------------------------------------------------------------
section("4. A lost shootdown to a CPU running another thread")

m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1, cpus = 2 }
p = m:spawn{ name = "server", aslr = false }
local t = p:thread()				-- same mm, the next CPU
q = m:spawn{ name = "other", aslr = false }
q:run_on(0)
assert(p:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(q:mmap(A + 4096, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(q:write(A + 4096, "-"))			-- other's page tables are in place
assert(p:write(A, "session key"))
assert(t:read(A, 11) == "session key")		-- cached in CPU 1's TLB
say("server (pid %d) on CPU %d and its thread (pid %d) on CPU %d share one mm;", p.pid,
    p.cpu, t.pid, t.cpu)
say("both have read 0x%x (frame 0x%x).", A, p:translate(A).pfn)
frame = p:translate(A).pfn
assert(m:inject("tlb_lost_shootdown", { probability = 100, times = 1, verbose = 0 }))
assert(p:munmap(A, 4096))
m:lru_add_drain_all()		-- the frame waited in CPU 0's lru_add batch; now it is free
local st = m:tlb_stats()
say("server munmap()s it on CPU 0: a local flush, and a shootdown IPI to CPU 1,")
say("where the thread runs (CPU 1 received %d) -- injected away: CPU 1 keeps the",
    st[2].nr_tlb_remote_flush_received)
print("translation, yet its tlb_gen says it is up to date, so nothing will flush it")
print("until CPU 1 switches to another mm.")
assert(q:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
assert(q:write(A, "other's data"))
assert(q:translate(A).pfn == frame, "the freed frame is the next one given out")
ok, sig = p:read(A, 1)
say("The server's own read on CPU 0: %s, %s.  Other's new page is frame 0x%x,", tostring(ok),
    sig, frame)
assert(ok == nil and sig == "SIGSEGV")
local leak = t:read(A, 12)
say("and the thread on CPU 1 reads %q at 0x%x: a freed page, now another", leak, A)
print("process's memory -- the bug that makes Linux free pages only after the")
print("flush has reached every CPU in mm_cpumask.")
assert(leak == "other's data")
err = check_fails(m)
print("m:check() says:")
print(first_lines(err, 6))
print("(munmap freed the page tables of that region too: CPU 1's page-walk caches")
print("still point into them, and a walk there would read freed frames.)")
assert(err:match("cpu 1 L1d: stale entry"), "CPU 1's stale entry")
assert(err:match("stale page%-walk cache entry"), "CPU 1's walk caches")
m:tlb_flush_all()
ok, sig = t:read(A, 1)
say("After a full flush the thread's read is %s, %s.", tostring(ok), sig)
assert(ok == nil and sig == "SIGSEGV" and m:check())
m:close()

------------------------------------------------------------------------------
section("5. A flipped link in an LRU list")

m = memlab.new{ arch = "x86_64", ram = "64M", seed = 1 }
p = m:spawn{ name = "reader", aslr = false }
local f = m:file{ path = "/data/log", size = 8 * 4096 }
local buf = assert(p:mmap(A, 4096, "rw-", "private|anonymous|fixed_noreplace"))
for i = 0, 7 do assert(p:pread(f, buf, 4096, i * 4096) == 4096) end
assert(#m:lru("inactive_file") == 0)
m:lru_add_drain_all()
local list = m:lru("inactive_file")
say("reader read 8 pages of a file: the page cache's frames wait in the CPU's")
say("lru_add batch, and once it drains (m:lru_add_drain_all) on inactive_file,")
say("oldest first: %s.", table.concat((function()
  local t = {}
  for i, pfn in ipairs(list) do t[i] = string.format("0x%x", pfn) end
  return t
end)(), " "))
c = assert(m:corrupt{ what = "lru", list = "inactive_file" })
say("m:corrupt flips bit %d of the newest page's next link: 0x%x -> 0x%x.", c.bit, c.before,
    c.after)
err = check_fails(m)
print("m:check() walks the list and says:")
print(first_lines(err, 3))
assert(err:match("inactive_file"))
m:drop_caches(1)
local oops = {}
for line in m:dmesg():gmatch("[^\n]+") do
  if line:match("list_del corruption") or line:match("kernel BUG") then oops[#oops + 1] = "    " .. line end
end
print("echo 1 > drop_caches: reclaim unlinks the pages one by one, and the first")
print("whose neighbour does not point back trips CONFIG_DEBUG_LIST's check (memlab")
print("prints pfns where Linux prints addresses); the reference host also has")
print("CONFIG_BUG_ON_DATA_CORRUPTION, which makes it a kernel BUG:")
print(table.concat(oops, "\n"))
assert(#oops == 2 and m:info().dead)
local ok, err = p:write(buf, "x")
say("The machine has stopped, as that kernel would: a write now gives %s, %s;", tostring(ok), err)
assert(ok == nil and err == "EIO")
print("m:check(), m:proc() and m:dmesg() still read the state the BUG found.")
m:close()
print()
print("done")
