-- Zipf replay of scripts/bench-cache.sh: replays a request log made by the
-- script. VARIANTS_FILE lists every variant path, most popular first;
-- ZIPF_LOG lists the requests, one popularity rank (a line number of
-- VARIANTS_FILE) a line, drawn by Zipf's law from a seed.
--
-- Thread k of T replays log lines k, k+T, k+2T, … in order, so together the
-- threads ask for the log's requests roughly in its order and never the
-- same line twice. With ZIPF_POS_IN each thread starts where the run that
-- wrote that file (to ZIPF_POS_OUT, "id position" lines) stopped: the
-- measured run continues the log after the warm-up. A thread that reaches
-- the end of its share starts it again and counts "wrapped".
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local paths, ranks
pos = 0

function init(args)
  bench_seed() -- not used for drawing; reported with the others
  paths = read_lines(os.getenv("VARIANTS_FILE"))
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  ranks = {}
  local i = 0
  for line in io.lines(os.getenv("ZIPF_LOG")) do
    if i % threads == id - 1 then ranks[#ranks + 1] = tonumber(line) end
    i = i + 1
  end
  assert(#ranks > 0, "empty request log")
  local from = os.getenv("ZIPF_POS_IN") or ""
  if from ~= "" then
    for line in io.lines(from) do
      local k, p = line:match("^(%d+) (%d+)$")
      if tonumber(k) == id then pos = tonumber(p) % #ranks end
    end
  end
end

function request()
  pos = pos + 1
  if pos > #ranks then
    pos = 1
    count("wrapped")
  end
  count("replayed")
  return wrk.format(nil, paths[ranks[pos]])
end

local common_done = done
function done(summary, latency, requests)
  common_done(summary, latency, requests)
  local out = os.getenv("ZIPF_POS_OUT") or ""
  if out == "" then return end
  local f = assert(io.open(out, "w"))
  for _, t in ipairs(bench_threads) do f:write(t:get("id"), " ", t:get("pos"), "\n") end
  f:close()
end
