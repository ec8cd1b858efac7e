-- wrk script of scripts/bench.sh: GET /profile, the Cookie header rotating
-- over the signed-in users (one Cookie value a line in $BENCH_COOKIES; none
-- for a system without sessions).
local cookies = {}
local file = os.getenv("BENCH_COOKIES")
if file and #file > 0 then
  for line in io.lines(file) do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
end
local next_user = 0

request = function()
  if #cookies == 0 then
    return wrk.format("GET", "/profile")
  end
  next_user = next_user % #cookies + 1
  return wrk.format("GET", "/profile", { ["Cookie"] = cookies[next_user] })
end
