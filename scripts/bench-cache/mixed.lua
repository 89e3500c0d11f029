-- Mixed workload of scripts/bench-cache.sh: a share NEW_FRACTION of requests
-- asks for a variant no one has asked for yet (a real miss: the original is
-- cached, the transform is not); the rest repeat one of the warmed variants
-- listed in HOT_FILE, drawn by Zipf's law (s = 1.0) in file order.
--
-- Every thread draws from its own seed, and its new variants come from its
-- own key range, so no request of a run asks for a new variant twice:
-- widths 100..1999 px at a quality from the thread's own band of 20..79
-- (80, the default, is left out: the warmed variants carry no q). A thread
-- that used up its range (57,000 variants with 2 threads) counts
-- "exhausted" and asks for a warmed variant instead.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local hot, cdf, new_fraction, band, qbase
local n = 0

function init(args)
  bench_seed()
  hot = read_lines(os.getenv("HOT_FILE"))
  cdf = zipf_cdf(#hot, 1.0)
  new_fraction = tonumber(os.getenv("NEW_FRACTION"))
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  band = math.floor(60 / threads)
  assert(band >= 1, "at most 60 threads")
  qbase = 20 + (id - 1) * band
end

function request()
  if math.random() < new_fraction then
    if n < 1900 * band then
      local w = 100 + n % 1900
      local q = qbase + math.floor(n / 1900)
      n = n + 1
      count("new")
      return wrk.format("GET", "/bench/tr:w-" .. w .. ",q-" .. q .. "/nature/Garden.jpg")
    end
    count("exhausted")
  end
  count("hot")
  return wrk.format("GET", hot[zipf_draw(cdf)])
end
