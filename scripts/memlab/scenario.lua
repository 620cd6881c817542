-- memlab.scenario: allocation-failure sweeps and probabilistic soaks.
--
-- A scenario is a function run(m) that drives a fresh machine (spawns,
-- maps, touches, forks...).  It returns normally, whatever its system
-- calls answered: an ENOMEM or SIGSEGV is an outcome it must handle, not a
-- crash.  The sweep runs it again and again, the Nth decision of a fault
-- point failing in run N (interval N, times 1, probability 100), as
-- SQLite's out-of-memory tests do, until a run completes without reaching
-- the Nth decision.  After each run every task exits and the sweep checks
-- that m:check() passes and that every frame is free again (but those the
-- page cache keeps) once every slab cache is shrunk (the slabs the tasks'
-- kernel objects came from stay with SLUB until then).  A soak runs the
-- scenario with random failures.
--
--   local scenario = require("memlab.scenario")
--   local r = scenario.sweep{ machine = { ram = "64M" }, run = function(m) ... end }
--   print(r.runs, r.injected)        -- raises with the first broken run
--
-- Options of sweep and soak: machine (memlab.new's table), run, point
-- (default "fail_page_alloc"), attrs (the point's other attributes; the
-- default lets every allocation fail: min_order 0, no ignored GFP flags),
-- max (runs, default 10000), progress (a line per 100 runs on stderr).
-- soak adds seed, runs and probability (percent).

local memlab = require("memlab")

local M = {}

local function default_attrs()
  return { min_order = 0, ignore_gfp_highmem = false, ignore_gfp_wait = false, verbose = 0 }
end

-- Free frames once the CPUs' folio batches (whose references keep the
-- pages an exit let go: exit_mmap drains none) and free lists are drained,
-- and every slab cache is shrunk: SLUB keeps a CPU's slab when its last
-- object (a task's VMA, task_struct, ...) is freed.  The frames the kernel
-- keeps for the next task count as free: each CPU's cache of up to two
-- kernel stacks and the vmalloc range's page tables.
local function free_pages(m)
  for _, info in ipairs(m:slabinfo()) do m:slab_cache(info.name):shrink() end
  m:lru_add_drain_all()
  m:drain_pages()
  local v = m:vmalloc_stats()
  return m:vmstat().nr_free_pages + v.cached_stack_pages + v.kernel_pgtables +
         (v.kernel_pgd and 1 or 0)
end

-- Run the scenario once on m; exit its tasks; return nil or what broke.
local function run_once(opts, m, baseline)
  local ok, err = pcall(opts.run, m)
  if not ok then return "the scenario raised: " .. tostring(err) end
  for _, t in ipairs(m:tasks()) do t:exit() end
  local checked, why = pcall(m.check, m)
  if not checked then return "m:check() failed: " .. tostring(why) end
  local cached = m:vmstat().nr_file_pages
  local free = free_pages(m)
  if free + cached ~= baseline then
    return string.format("frames leaked: %d free + %d cached, %d before the run", free, cached,
                         baseline)
  end
end

-- A fresh machine with the point armed by arm(attrs); its free frames.
local function machine(opts, arm)
  local m = memlab.new(opts.machine or { ram = "64M", seed = 1 })
  local baseline = free_pages(m)
  local attrs = default_attrs()
  for k, v in pairs(opts.attrs or {}) do attrs[k] = v end
  arm(attrs)
  assert(m:inject(opts.point or "fail_page_alloc", attrs))
  return m, baseline
end

-- The Nth-failure sweep.  Returns { runs =, injected = } or raises naming the run.
function M.sweep(opts)
  assert(type(opts) == "table" and type(opts.run) == "function", "sweep: run is required")
  local point, max = opts.point or "fail_page_alloc", opts.max or 10000
  local injected = 0
  for n = 1, max do
    local m, baseline = machine(opts, function(a)
      a.probability, a.interval, a.times = 100, n, 1
    end)
    local broken = run_once(opts, m, baseline)
    local fired = m:injected(point).fired
    m:close()
    if broken then error(string.format("sweep: run %d (failing decision %d): %s", n, n, broken), 2) end
    injected = injected + fired
    if opts.progress and n % 100 == 0 then io.stderr:write(string.format("sweep: %d runs\n", n)) end
    if fired == 0 then return { runs = n, injected = injected } end
  end
  error(string.format("sweep: still failing after %d runs", max), 2)
end

-- A probabilistic soak: runs with failures at random, from seed.
function M.soak(opts)
  assert(type(opts) == "table" and type(opts.run) == "function", "soak: run is required")
  local point, injected = opts.point or "fail_page_alloc", 0
  for i = 1, opts.runs or 100 do
    local mopts = {}
    for k, v in pairs(opts.machine or { ram = "64M" }) do mopts[k] = v end
    mopts.seed = (opts.seed or 1) * 1000003 + i
    local m, baseline = machine({ machine = mopts, point = point, attrs = opts.attrs },
                                function(a) a.probability, a.times = opts.probability or 10, -1 end)
    local broken = run_once(opts, m, baseline)
    injected = injected + m:injected(point).fired
    m:close()
    if broken then error(string.format("soak: run %d (seed %d): %s", i, mopts.seed, broken), 2) end
  end
  return { runs = opts.runs or 100, injected = injected }
end

return M
