-- wrk script of the soak benchmark: cycles through five routes (POST /process, identity infer,
-- digits infer, GET ready, GET digits stats); each thread stops after its share of env
-- SOAK_REQUESTS answers, then writes SOAK_DONE_DIR/<id> (wrk's main thread only stops at -d or
-- SIGINT: bench/soak/run sends SIGINT once every thread's file is there). Counts answers by
-- status so errors are not mistaken for throughput.
local digits = "[0,0,2,14,13,3,0,0,0,0,13,13,9,11,0,0,0,0,16,7,0,12,0,0,0,3,16,5,0,10,5,0," ..
               "0,5,16,1,0,8,5,0,0,3,16,1,0,10,5,0,0,0,16,8,5,14,3,0,0,0,4,16,16,9,1,0]"
local json = {["Content-Type"] = "application/json"}
local routes = {
  {"POST", "/process", '{"message": "hello world"}'},
  {"POST", "/v2/models/identity/infer",
   '{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}'},
  {"POST", "/v2/models/digits/infer",
   '{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": ' .. digits .. '}]}'},
  {"GET", "/v2/health/ready", nil},
  {"GET", "/v2/models/digits/stats", nil},
}

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- globals, so that done() can read them with thread:get()
ok, bad = 0, 0
local quota, answered, next_route, reqs, finished
function init(args)
  local total = tonumber(os.getenv("SOAK_REQUESTS") or "100000")
  local nthreads = tonumber(os.getenv("SOAK_THREADS") or "1")
  quota = math.floor(total / nthreads)
  if id < total % nthreads then quota = quota + 1 end
  answered, ok, bad, next_route = 0, 0, 0, id
  reqs = {}
  for i, r in ipairs(routes) do
    reqs[i] = wrk.format(r[1], r[2], r[3] and json or nil, r[3])
  end
end

function request()
  next_route = next_route % #reqs + 1
  return reqs[next_route]
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 200 and status <= 299 then ok = ok + 1 else bad = bad + 1 end
  if answered >= quota and not finished then
    finished = true
    local f = io.open((os.getenv("SOAK_DONE_DIR") or "/tmp") .. "/" .. id, "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local n_ok, n_bad = 0, 0
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok")
    n_bad = n_bad + t:get("bad")
  end
  io.write(string.format("soak_answers ok=%d non2xx=%d p50_us=%d p99_us=%d\n", n_ok, n_bad,
                         latency:percentile(50), latency:percentile(99)))
end
