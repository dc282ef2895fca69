-- wrk script: bench/http/post.lua (POST the body in env WRK_BODY, count non-2xx answers) with
-- a different Inferd-Routing-Key on every request, so key-hashing balancers spread the load.
-- Run from the source root (bench/gateway/run does).
dofile("bench/http/post.lua")

local counter = 0

function init(args)
  counter = math.random(1, 1000000000)
end

request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Inferd-Routing-Key"] = "k" .. counter}, wrk.body)
end
