-- wrk script: GET /v1/surveys/support/metrics. Environment:
--   BENCH_TOKEN  read token
--   BENCH_MODE   cached     - one dashboard query repeated (last 30 whole days): served from the cache
--                plain      - every request a distinct query (so never cached): a window of 1, 7, 30,
--                             90, 365 or 730 whole days; no channel filter or one of six; no grouping,
--                             group_by=day/week/month or compare=previous
--                agent      - the same with an agent filter (one of BENCH_AGENTS agents)
--                by_channel - distinct group_by=channel queries: windows as above, with or without an
--                             agent filter, with or without compare=previous
--                by_agent   - distinct group_by=agent queries over a year (365-day windows; BENCH_LENGTH
--                             changes that), with or without a channel filter and compare=previous
--                partial    - distinct windows with RFC 3339 edges inside a day (from 09:00, to 17:30),
--                             windows, channels and groupings as in plain, with or without an agent filter
--   BENCH_AGENTS   agents in the data (generate.py --agents; default 1000): agent-001 ... agent-1000
--   BENCH_DAYS     days the data spans (generate.py --days; default 730)
--   BENCH_LENGTH   only windows of this many days
--   BENCH_GROUP    only this grouping: none, day, week, month or compare (plain, agent, partial)
--   BENCH_CHANNEL  none: never a channel filter; one: always one (plain, agent, partial, by_agent)
--   BENCH_START    the first query's number (bench.py gives each run of a mode a fresh range)
-- Whole windows lie inside the data (a window of L days ends at most BENCH_DAYS - L days back), except
-- the longest ones, which end in the last 91 days so that they still have enough distinct variants.
-- Use one wrk thread (-t1) for the distinct modes: queries are numbered per thread; within one thread
-- no query repeats before the product of its dimensions (printed by done() as "distinct").
-- done() prints "BENCH {json}" like post.lua.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local counter = 0
local mode, token, today, agents, days

local LENGTHS = {1, 7, 30, 90, 365, 730}
local GROUPS = {false, "group_by=day", "group_by=week", "group_by=month", "compare=previous"}
local GROUP_NAMES = {none = 1, day = 2, week = 3, month = 4, compare = 5}
local CHANNELS = {false, "chat", "email", "phone", "web", "sms", "social"}
local ENDS = 365 -- window ends: one of the last 365 days (fewer for windows that would leave the data)

-- The dimensions of each mode, in mixed-radix order (the first varies fastest): every mix of
-- length, filter and grouping shows up within the first few hundred queries, and the n-th query
-- never repeats before the product of the sizes.
local lengths, groups, channels

-- The number of days a window of `length` days can end on: inside the data, at least 91.
local function room(length)
   local r = days - length
   if r < 91 then r = 91 end
   if r > ENDS then r = ENDS end
   return r
end

local function only(list, keep)
   local out = {}
   for _, v in ipairs(list) do
      if keep(v) then out[#out + 1] = v end
   end
   return out
end

function init(args)
   mode = os.getenv("BENCH_MODE") or "cached"
   token = os.getenv("BENCH_TOKEN") or ""
   agents = tonumber(os.getenv("BENCH_AGENTS") or "1000")
   days = tonumber(os.getenv("BENCH_DAYS") or "730")
   -- midnight UTC at the start of tomorrow: windows end there at the latest, so today's data counts
   local now = os.time()
   today = now - now % 86400 + 86400
   counter = (id - 1) * 100000000 + tonumber(os.getenv("BENCH_START") or "0")
   lengths = LENGTHS
   if mode == "by_agent" then lengths = {365} end
   if os.getenv("BENCH_LENGTH") then lengths = {tonumber(os.getenv("BENCH_LENGTH"))} end
   groups = GROUPS
   if mode == "by_channel" or mode == "by_agent" then groups = {false, "compare=previous"} end
   local g = os.getenv("BENCH_GROUP")
   if g then groups = {GROUPS[GROUP_NAMES[g]]} end
   channels = CHANNELS
   if mode == "by_channel" then channels = {false} end
   local c = os.getenv("BENCH_CHANNEL")
   if c == "none" then channels = {false} elseif c == "one" then channels = only(CHANNELS, function(v) return v end) end
   -- agent filter: by_channel and partial alternate none / one agent, agent always has one
   local agent_choices = 1
   if mode == "agent" then agent_choices = agents elseif mode == "by_channel" or mode == "partial" then agent_choices = 2 end
   -- how many distinct queries there are (a global, so that done() can read it): a window that has
   -- less room than ENDS days repeats its ends sooner
   space = 0
   for _, length in ipairs(lengths) do
      space = space + #channels * #groups * agent_choices * room(length)
   end
   s200, s2xx, non2xx, statuses = 0, 0, 0, ""
end

local function day(t)
   return os.date("!%Y-%m-%d", t)
end

-- How many days back the window of `length` days ends, for the end digit e (0 .. ENDS-1).
local function end_back(e, length)
   return e % room(length)
end

local function url()
   local k = counter
   counter = counter + 1
   local function digit(n)
      local d = k % n
      k = (k - d) / n
      return d
   end
   local length = lengths[digit(#lengths) + 1]
   local channel = channels[digit(#channels) + 1]
   local group = groups[digit(#groups) + 1]
   local agent = false
   if mode == "agent" then
      agent = string.format("agent-%03d", digit(agents) + 1)
   elseif mode == "by_channel" or mode == "partial" then
      if digit(2) == 1 then agent = string.format("agent-%03d", (counter * 7919) % agents + 1) end
   end
   local back = end_back(digit(ENDS), length)
   local q
   if mode == "cached" then
      q = "from=" .. day(today - 30 * 86400) .. "&to=" .. day(today)
   elseif mode == "partial" then
      -- to 17:30 of yesterday at the latest: today's 17:30 may still lie in the future
      local to = today - (back + 2) * 86400
      q = "from=" .. day(to - length * 86400) .. "T09:00:00Z&to=" .. day(to) .. "T17:30:00Z"
   elseif mode == "plain" or mode == "agent" or mode == "by_channel" or mode == "by_agent" then
      local to = today - back * 86400
      q = "from=" .. day(to - length * 86400) .. "&to=" .. day(to)
   else
      error("unknown BENCH_MODE " .. mode)
   end
   if mode ~= "cached" then
      if agent then q = q .. "&agent=" .. agent end
      if channel then q = q .. "&channel=" .. channel end
      if mode == "by_channel" then q = q .. "&group_by=channel" end
      if mode == "by_agent" then q = q .. "&group_by=agent" end
      if group then q = q .. "&" .. group end
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
   local t200, t2xx, tnon, st, distinct = 0, 0, 0, "", 0
   for _, t in ipairs(threads) do
      t200 = t200 + (t:get("s200") or 0)
      t2xx = t2xx + (t:get("s2xx") or 0)
      tnon = tnon + (t:get("non2xx") or 0)
      st = st .. (t:get("statuses") or "")
      distinct = distinct + (t:get("space") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
      '"max_ms":%.3f,"mean_ms":%.3f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
      '"status_errors":%d,"timeouts":%d,"s200":%d,"s2xx":%d,"non2xx":%d,"distinct":%d,"samples":"%s"}\n',
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000, e.connect, e.read, e.write, e.status, e.timeout,
      t200, t2xx, tnon, distinct, st))
end
