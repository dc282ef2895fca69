-- wrk script: POST digits infer requests whose input is one of KEYS distinct [1, 64] tensors,
-- picked with a Zipf law of exponent ZIPF_S (rank r has weight 1 / r^s), so a few inputs are
-- asked very often and most rarely. Every thread builds the same KEYS bodies (deterministic
-- values per key) and draws its own stream. Counts non-2xx answers.
local keys = tonumber(os.getenv("KEYS") or "10000")
local s = tonumber(os.getenv("ZIPF_S") or "1.0")
local reqs, cdf = {}, {}

function init(args)
  local path = wrk.path
  local headers = {["Content-Type"] = "application/json"}
  for k = 1, keys do
    local v = {}
    v[1] = string.format("%d", k) -- unique per key
    for j = 2, 64 do v[j] = string.format("%d", (k * 31 + j * 17) % 97) end
    local body = '{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": ['
                 .. table.concat(v, ",") .. ']}]}'
    reqs[k] = wrk.format("POST", path, headers, body)
  end
  local total = 0
  for r = 1, keys do
    total = total + 1 / (r ^ s)
    cdf[r] = total
  end
  for r = 1, keys do cdf[r] = cdf[r] / total end
  math.randomseed(tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 2147483647)
end

local function zipf_rank()
  local u, lo, hi = math.random(), 1, keys
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  return reqs[zipf_rank()]
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

errors = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("errors") end
  io.write(string.format("non2xx_lua %d\n", n))
end
