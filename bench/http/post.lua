-- wrk script: POST the body in env WRK_BODY (JSON) to the URL's path, keep-alive.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"

-- count non-2xx answers so a run full of errors is not mistaken for a fast one
local errors = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non2xx_lua %d\n", errors))
end
