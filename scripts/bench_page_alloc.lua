-- The page allocator benchmark through Lua, against the C core's figures
--
--   build/memlab run scripts/bench_page_alloc.lua [--time SECONDS]
--       [--bench PATH | --c-json JSON | --no-c]
--
-- Runs the workloads of scripts/bench_page_alloc.c (order-0 alloc+free,
-- order-0 in batches of 1000, a mixed-order pool of 2048 blocks) through
-- m:alloc_pages and m:free_pages, then prints ns per alloc+free pair in Lua
-- and in C and what Lua adds per call (the difference / 2: the binding's
-- cost plus the script's own loop work).  The C
-- figures come from running PATH --json (default build/bench_page_alloc,
-- relative to the working directory), or from --c-json (the text that
-- printed), or are left out with --no-c.  Progress goes to stderr.
-- Timing is os.clock() (processor time): a measurement, never a test.

local memlab = require("memlab")

local args = { ... }
if #args == 0 and type(arg) == "table" then
  for i = 1, #arg do args[i] = arg[i] end
end

local budget, bench, c_json, no_c = 0.5, "build/bench_page_alloc", nil, false
do
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--time" then budget = assert(tonumber(args[i + 1]), "--time SECONDS"); i = i + 1
    elseif a == "--bench" then bench = assert(args[i + 1], "--bench PATH"); i = i + 1
    elseif a == "--c-json" then c_json = assert(args[i + 1], "--c-json JSON"); i = i + 1
    elseif a == "--no-c" then no_c = true
    else error("usage: bench_page_alloc.lua [--time SECONDS] [--bench PATH | --c-json JSON | --no-c]") end
    i = i + 1
  end
end

local function progress(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local GFP_KERNEL = memlab.GFP_KERNEL
local BATCH, POOL = 1000, 2048

-- xorshift-style generator on 64-bit integers: a fixed sequence per run.
local rng = 0x5eed
local function random()
  rng = rng ~ (rng << 13)
  rng = rng ~ (rng >> 7)
  rng = rng ~ (rng << 17)
  return rng >> 1 -- non-negative
end

local m = memlab.new{ arch = "x86_64", ram = "256M", seed = 1 }

-- Each workload runs `rounds` rounds and returns the pairs it did.
local function order0(rounds)
  local alloc, free = m.alloc_pages, m.free_pages
  for _ = 1, rounds do
    local pfn = alloc(m, 0, GFP_KERNEL)
    free(m, pfn, 0)
  end
  return rounds
end

local function order0_default_gfp(rounds)
  for _ = 1, rounds do
    local pfn = m:alloc_pages(0)
    m:free_pages(pfn, 0)
  end
  return rounds
end

local function order0_gfp_string(rounds)
  for _ = 1, rounds do
    local pfn = m:alloc_pages(0, "GFP_KERNEL")
    m:free_pages(pfn, 0)
  end
  return rounds
end

local batch_pfns = {}
local function order0_batch(rounds)
  for _ = 1, rounds do
    for i = 1, BATCH do batch_pfns[i] = m:alloc_pages(0, GFP_KERNEL) end
    for i = 1, BATCH do m:free_pages(batch_pfns[i], 0) end
  end
  return rounds * BATCH
end

-- The mixed pool: orders 0..3 weighted 8:4:2:1, three migrate types.
local MIXED_GFP = { memlab.GFP_KERNEL, memlab.GFP_HIGHUSER_MOVABLE,
                    memlab.GFP_KERNEL | memlab.__GFP_RECLAIMABLE }
local ORDER_OF = { [0] = 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3 }
local pool_pfn, pool_order = {}, {}

local function pool_alloc(slot)
  local r = random()
  local order = ORDER_OF[r % 15]
  local pfn, err = m:alloc_pages(order, MIXED_GFP[(r >> 8) % 3 + 1])
  pool_pfn[slot], pool_order[slot] = assert(pfn, err), order
end

local function mixed(rounds)
  for _ = 1, rounds do
    local slot = random() % POOL + 1
    m:free_pages(pool_pfn[slot], pool_order[slot])
    pool_alloc(slot)
  end
  return rounds
end

-- Double the rounds until one run takes a tenth of the budget, then run
-- chunks of that size until the budget is spent (as the C bench does).
local function measure(what, fn)
  progress("bench_page_alloc.lua: %s ...", what)
  local rounds = 1
  while true do
    local t0 = os.clock()
    fn(rounds)
    if os.clock() - t0 >= budget / 10 then break end
    rounds = rounds * 2
  end
  local pairs_done, seconds = 0, 0
  while seconds < budget do
    local t0 = os.clock()
    pairs_done = pairs_done + fn(rounds)
    seconds = seconds + (os.clock() - t0)
  end
  return seconds * 1e9 / pairs_done
end

local lua_ns = {}
lua_ns.order0 = measure("order-0 alloc+free", order0)
lua_ns.order0_default = measure("order-0, gfp omitted", order0_default_gfp)
lua_ns.order0_string = measure("order-0, gfp as a string", order0_gfp_string)
lua_ns.order0_batch = measure("order-0 batch", order0_batch)
for slot = 1, POOL do pool_alloc(slot) end
lua_ns.mixed = measure("mixed pool", mixed)
for slot = 1, POOL do m:free_pages(pool_pfn[slot], pool_order[slot]) end
assert(m:check())

-- The C figures.
local c
if not no_c then
  if not c_json then
    progress("bench_page_alloc.lua: running %s --json", bench)
    local quoted = "'" .. bench:gsub("'", "'\\''") .. "'"
    local p = io.popen(quoted .. " --json --time " .. budget .. " 2>/dev/null")
    if p then
      c_json = p:read("a")
      p:close()
    end
  end
  local ok, decoded = pcall(memlab.json.decode, c_json or "")
  if ok and type(decoded) == "table" then
    c = decoded
  else
    progress("bench_page_alloc.lua: no C figures (build %s, or pass --c-json)", bench)
  end
end

local function c_ns(key)
  return c and c[key] and c[key].ns_per_pair
end

local rows = {
  { "order-0 alloc+free (gfp integer)", "order0", "order0" },
  { "order-0 alloc+free (gfp omitted)", "order0_default", "order0" },
  { 'order-0 alloc+free (gfp "GFP_KERNEL")', "order0_string", "order0" },
  { "order-0, 1000 allocs then 1000 frees", "order0_batch", "order0_batch" },
  { "mixed orders 0-3, pool of 2048", "mixed", "mixed" },
}

print("memlab page allocator through Lua (x86_64, 256M RAM, 4 KiB pages)")
print("ns per alloc+free pair; the last column is (Lua - C) / 2: what the binding")
print("and the Lua loop add to each call")
print(string.format("%-40s %10s %10s %14s", "workload", "Lua", "C", "added/call"))
for _, r in ipairs(rows) do
  local l, cn = lua_ns[r[2]], c_ns(r[3])
  print(string.format("%-40s %10.1f %10s %14s", r[1], l,
    cn and string.format("%.1f", cn) or "-",
    cn and string.format("%.1f", (l - cn) / 2) or "-"))
end
if c_ns("order0") then
  local target = c.target_ns or 50
  print(string.format("target: an order-0 pair in the C core under %.0f ns: %s (%.1f ns)",
    target, c_ns("order0") < target and "met" or "NOT met", c_ns("order0")))
end
