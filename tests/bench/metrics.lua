-- wrk script: GET /v1/surveys/support/metrics. Environment:
--   BENCH_TOKEN  read token
--   BENCH_MODE   cached   - one dashboard query repeated (last 30 whole days): served from the cache
--                plain    - every request a distinct query (so never cached): a window of 1, 7, 30,
--                           90 or 365 whole days ending on one of the last 293 days; no channel
--                           filter or one of six; no grouping, group_by=day/week/month/channel or
--                           compare=previous
--                agent    - distinct queries with an agent filter (one of 199 agents), windows ending
--                           in the last 61 days, channels and groupings as above
--                by_agent - distinct group_by=agent queries, windows and channel filter as above
--                partial  - distinct windows with RFC 3339 edges inside a day (from 09:00, to 17:30):
--                           the two edge days come from raw rows instead of rollups
--   BENCH_LENGTH  only windows of this many days (for latency by window length)
-- Use one wrk thread (-t1) for the distinct modes: queries are numbered per thread; within one
-- thread no query repeats (counts below).
-- done() prints "BENCH {json}" like post.lua.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local counter = 0
local mode, token, today
-- Each dimension of a query cycles with its own, pairwise coprime period, so every mix of windows,
-- filters and groupings shows up from the first second on, and the n-th query of a thread never
-- repeats before the product of the periods (Chinese remainder theorem).
local LENGTHS = {1, 7, 30, 90, 365}                                                   -- period 5
if os.getenv("BENCH_LENGTH") then LENGTHS = {tonumber(os.getenv("BENCH_LENGTH"))} end  -- period 1
local GROUPS = {false, "group_by=day", "group_by=week", "group_by=month", "group_by=channel",
                "compare=previous"}                                                   -- period 6
local CHANNELS = {false, "chat", "email", "phone", "web", "sms", "social"}            -- period 7

function init(args)
   mode = os.getenv("BENCH_MODE") or "cached"
   token = os.getenv("BENCH_TOKEN") or ""
   -- midnight UTC at the start of tomorrow: windows end there at the latest, so today's data counts
   local now = os.time()
   today = now - now % 86400 + 86400
   counter = (id - 1) * 1000000
   s200, s2xx, non2xx, statuses = 0, 0, 0, ""
end

local function day(t)
   return os.date("!%Y-%m-%d", t)
end

-- A window of `length` whole days ending `end_back` days before tomorrow.
local function window(end_back, length)
   local to = today - end_back * 86400
   return to - length * 86400, to
end

local function url()
   local k = counter
   counter = counter + 1
   local length, channel, group = LENGTHS[k % #LENGTHS + 1], CHANNELS[k % 7 + 1], GROUPS[k % 6 + 1]
   local q
   if mode == "cached" then
      local from, to = window(0, 30)
      q = "from=" .. day(from) .. "&to=" .. day(to)
   elseif mode == "plain" then          -- 5 * 6 * 7 * 293 = 61,530 distinct queries
      local from, to = window(k % 293, length)
      q = "from=" .. day(from) .. "&to=" .. day(to)
      if channel then q = q .. "&channel=" .. channel end
      if group then q = q .. "&" .. group end
   elseif mode == "agent" then          -- 5 * 6 * 7 * 61 * 199 = 2,549,190 distinct queries
      local from, to = window(k % 61, length)
      q = "from=" .. day(from) .. "&to=" .. day(to) .. string.format("&agent=agent-%03d", k % 199 + 1)
      if channel then q = q .. "&channel=" .. channel end
      if group then q = q .. "&" .. group end
   elseif mode == "by_agent" then       -- 5 * 7 * 293 = 10,255 distinct queries
      local from, to = window(k % 293, length)
      q = "from=" .. day(from) .. "&to=" .. day(to) .. "&group_by=agent"
      if channel then q = q .. "&channel=" .. channel end
   elseif mode == "partial" then        -- 5 * 7 * 293 = 10,255 distinct queries
      local from, to = window(k % 293 + 1, length)
      q = "from=" .. day(from) .. "T09:00:00Z&to=" .. day(to) .. "T17:30:00Z"
      if channel then q = q .. "&channel=" .. channel end
   else
      error("unknown BENCH_MODE " .. mode)
   end
   return "/v1/surveys/support/metrics?" .. q
end

function request()
   local headers = {}
   if token ~= "" then headers["Authorization"] = "Bearer " .. token end
   return wrk.format("GET", url(), headers)
end

function response(status, headers, body)
   if status == 200 then
      s200 = s200 + 1
   elseif status >= 200 and status < 300 then
      s2xx = s2xx + 1
   else
      non2xx = non2xx + 1
      if non2xx <= 5 then statuses = statuses .. status .. " " .. body:sub(1, 160):gsub('[%c"\\]', " ") .. " | " end
   end
end

function done(summary, latency, requests)
   local t200, t2xx, tnon, st = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      t200 = t200 + (t:get("s200") or 0)
      t2xx = t2xx + (t:get("s2xx") or 0)
      tnon = tnon + (t:get("non2xx") or 0)
      st = st .. (t:get("statuses") or "")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
      '"max_ms":%.3f,"mean_ms":%.3f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
      '"status_errors":%d,"timeouts":%d,"s200":%d,"s2xx":%d,"non2xx":%d,"samples":"%s"}\n',
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000, e.connect, e.read, e.write, e.status, e.timeout,
      t200, t2xx, tnon, st))
end
