-- Shared by the wrk scripts of scripts/bench-cache.sh (loaded with dofile
-- from each). wrk runs one Lua state per thread plus one for setup() and
-- done(); globals are per state, so each thread tallies into its own
-- tables and done() collects them with thread:get.
--
-- Per thread: `id` (1..threads, given in setup before the thread's init)
-- and a random seed mixed from BENCH_SEED and id (bench_seed). Per
-- response: the X-Cache value ("none" when absent, as on errors) and the
-- status code. Scripts count their own events with count(name). done()
-- prints
--   SEEDS <thread seeds>
--   XCACHE HIT-L1=… HIT-L2=… MISS=… STALE=… none=… total=…
--   STATUS 200=… 503=…
--   COUNT name=… …
-- for bench-cache.sh to parse.

bench_threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(bench_threads, thread)
end

xcache = {}
status = {}
counts = {}
seed = 0

-- bench_seed seeds this thread's generator and returns the seed.
function bench_seed()
  local base = tonumber(os.getenv("BENCH_SEED") or "") or os.time()
  seed = (base * 1000003 + id * 7919) % 2147483647
  math.randomseed(seed)
  -- LuaJIT's first draws after seeding are weakly mixed; skip a few.
  for _ = 1, 10 do math.random() end
  return seed
end

-- count(name): adds one to a per-thread counter done() reports.
function count(name)
  counts[name] = (counts[name] or 0) + 1
end

function response(code, headers, body)
  local xc = headers["X-Cache"] or headers["x-cache"] or "none"
  xcache[xc] = (xcache[xc] or 0) + 1
  status[code] = (status[code] or 0) + 1
end

-- zipf_cdf(n, s): cumulative probabilities of ranks 1..n under Zipf's law
-- with exponent s (rank k has weight 1/k^s).
function zipf_cdf(n, s)
  local cdf, total = {}, 0
  for k = 1, n do
    total = total + 1 / k ^ s
    cdf[k] = total
  end
  for k = 1, n do cdf[k] = cdf[k] / total end
  return cdf
end

-- zipf_draw(cdf): a rank drawn from the distribution (binary search).
function zipf_draw(cdf)
  local u, lo, hi = math.random(), 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- read_lines(path): the lines of a file as an array.
function read_lines(path)
  local t = {}
  for line in io.lines(path) do t[#t + 1] = line end
  return t
end

local function merged(name)
  local sum = {}
  for _, t in ipairs(bench_threads) do
    for k, v in pairs(t:get(name) or {}) do sum[k] = (sum[k] or 0) + v end
  end
  return sum
end

local function sorted_pairs(t)
  local keys, out = {}, {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. t[k] end
  return out
end

function done(summary, latency, requests)
  local seeds = {}
  for _, t in ipairs(bench_threads) do seeds[#seeds + 1] = tostring(t:get("seed")) end
  print("SEEDS " .. table.concat(seeds, " "))
  local xc, total, out = merged("xcache"), 0, {}
  for _, k in ipairs({ "HIT-L1", "HIT-L2", "MISS", "STALE", "none" }) do
    out[#out + 1] = k .. "=" .. (xc[k] or 0)
    total = total + (xc[k] or 0)
    xc[k] = nil
  end
  for k, v in pairs(xc) do
    out[#out + 1] = k .. "=" .. v
    total = total + v
  end
  print("XCACHE " .. table.concat(out, " ") .. " total=" .. total)
  print("STATUS " .. table.concat(sorted_pairs(merged("status")), " "))
  print("COUNT " .. table.concat(sorted_pairs(merged("counts")), " "))
end
