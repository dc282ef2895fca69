-- wrk script: POST the JSON body in env WRK_BODY to the URL's path (GET when it is empty),
-- keep-alive; counts non-2xx answers so a run full of errors is not mistaken for a fast one.
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
else
  wrk.method = "GET"
end

-- Each wrk thread runs its own Lua state: the count is a global of each thread's state, and
-- done() (in the main state) adds them up through thread:get().
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
