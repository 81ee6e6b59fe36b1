-- wrk script: POSTs realistic survey responses (the "support" survey of generate.py) and counts what
-- came back. Environment:
--   BENCH_TOKEN   bearer token sent with every request (an ingest token; empty: anonymous)
--   BENCH_PATH    default /v1/surveys/support/responses
--   BENCH_RUN     a tag unique to this run: interactions and Idempotency-Keys never repeat across runs
--   BENCH_IDS     if set, each thread writes the id of every 201'd response to BENCH_IDS.<thread>
--   BENCH_AGENTS  agents to draw from (default 200; bench.py passes generate.py's --agents)
-- Every body differs: answers drawn per question with realistic skip rates and distributions, one of
-- six channels, one of BENCH_AGENTS agents (5% none), a customer, a unique interaction, properties on 70%,
-- an Idempotency-Key on every fourth request. done() prints one line "BENCH {json}" with the
-- request rate, latency percentiles, socket errors and status counts (201, other 2xx, the rest).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local counter = 0
local token, path, run, idfile, agents

local function pick(r, cumulative)
   -- cumulative: { {upto, value}, ... } with r in 1..100
   for _, c in ipairs(cumulative) do
      if r <= c[1] then return c[2] end
   end
   return nil
end

local NPS = { {8, nil}, {10, 0}, {11, 1}, {12, 2}, {14, 3}, {16, 4}, {20, 5}, {25, 6}, {34, 7}, {48, 8}, {70, 9}, {100, 10} }
local CSAT = { {20, nil}, {24, 1}, {30, 2}, {42, 3}, {66, 4}, {100, 5} }
local CES = { {30, nil}, {32, 1}, {35, 2}, {40, 3}, {47, 4}, {59, 5}, {78, 6}, {100, 7} }
local YESNO = { {25, nil}, {82, "true"}, {100, "false"} }
local CHOICE = { {60, nil}, {84, '"met"'}, {94, '"exceeded"'}, {99, '"fell short"'}, {100, '{"other":"no expectations"}'} }
local COMMENT = { {80, nil}, {84, '"Quick and friendly"'}, {87, '"Thanks, all sorted"'},
                  {90, '"Took too long to get an answer"'}, {92, '"The agent knew the product well"'},
                  {94, '"Had to explain my issue twice"'}, {96, '"Great service, as always!"'},
                  {98, '"Not resolved yet"'}, {99, '"Friendly, but still waiting for the refund"'},
                  {100, '"Very helpful \\u2014 merci !"'} }
local CHANNEL = { {35, "chat"}, {60, "email"}, {75, "phone"}, {87, "web"}, {95, "sms"}, {100, "social"} }
local PLAN = { {50, "free"}, {85, "pro"}, {100, "enterprise"} }
local REGION = { {40, "eu"}, {75, "us"}, {90, "apac"}, {100, "latam"} }

function init(args)
   math.randomseed(os.time() * 1000 + id * 7919)
   token = os.getenv("BENCH_TOKEN") or ""
   path = os.getenv("BENCH_PATH") or "/v1/surveys/support/responses"
   run = os.getenv("BENCH_RUN") or tostring(os.time())
   agents = tonumber(os.getenv("BENCH_AGENTS") or "200")
   local ids = os.getenv("BENCH_IDS")
   if ids and ids ~= "" then
      idfile = io.open(ids .. "." .. id, "w")
      idfile:setvbuf("line") -- wrk never closes a thread's Lua state: nothing may stay buffered
   end
   s201, s2xx, non2xx, statuses = 0, 0, 0, ""
end

local function answers()
   local parts = {}
   local v = pick(math.random(100), NPS)
   if v then parts[#parts + 1] = '"rec":' .. v end
   v = pick(math.random(100), CSAT)
   if v then parts[#parts + 1] = '"sat":' .. v end
   v = pick(math.random(100), CES)
   if v then parts[#parts + 1] = '"easy":' .. v end
   v = pick(math.random(100), YESNO)
   if v then parts[#parts + 1] = '"resolved":' .. v end
   v = pick(math.random(100), CHOICE)
   if v then parts[#parts + 1] = '"expect":' .. v end
   v = pick(math.random(100), COMMENT)
   if v then parts[#parts + 1] = '"comment":' .. v end
   if #parts == 0 then parts[1] = '"rec":10' end
   return "{" .. table.concat(parts, ",") .. "}"
end

function request()
   counter = counter + 1
   local body = {'{"answers":', answers(), ',"channel":"', pick(math.random(100), CHANNEL), '"'}
   if math.random(100) > 3 then
      body[#body + 1] = string.format(',"customer":"cust-%07d"', math.random(0, 3333333))
   end
   if math.random(100) > 5 then
      body[#body + 1] = string.format(',"agent":"agent-%03d","interaction":"wrk-%s-%d-%d"',
                                      math.random(agents), run, id, counter)
   end
   if math.random(100) <= 70 then
      body[#body + 1] = string.format(',"properties":{"plan":"%s","region":"%s"}',
                                      pick(math.random(100), PLAN), pick(math.random(100), REGION))
   end
   body[#body + 1] = "}"
   local headers = {["Content-Type"] = "application/json"}
   if token ~= "" then headers["Authorization"] = "Bearer " .. token end
   if counter % 4 == 0 then headers["Idempotency-Key"] = string.format("wrk-%s-%d-%d", run, id, counter) end
   return wrk.format("POST", path, headers, table.concat(body))
end

function response(status, headers, body)
   if status == 201 then
      s201 = s201 + 1
      if idfile then
         local rid = body:match('"id":"([^"]+)"')
         idfile:write(rid or "?", "\n")
      end
   elseif status >= 200 and status < 300 then
      s2xx = s2xx + 1
   else
      non2xx = non2xx + 1
      if non2xx <= 5 then statuses = statuses .. status .. " " .. body:sub(1, 160):gsub('[%c"\\]', " ") .. " | " end
   end
end

function done(summary, latency, requests)
   local t201, t2xx, tnon, st = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      t201 = t201 + (t:get("s201") or 0)
      t2xx = t2xx + (t:get("s2xx") or 0)
      tnon = tnon + (t:get("non2xx") or 0)
      st = st .. (t:get("statuses") or "")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
      '"max_ms":%.3f,"mean_ms":%.3f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
      '"status_errors":%d,"timeouts":%d,"s201":%d,"s2xx":%d,"non2xx":%d,"samples":"%s"}\n',
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000, e.connect, e.read, e.write, e.status, e.timeout,
      t201, t2xx, tnon, st))
end
