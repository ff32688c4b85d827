-- wrk script of bench/run: one scenario per run, chosen by the arguments after "--":
--   get                 GET the URL as it is (the baseline view)
--   lines REQUESTS_FILE POST GraphQL requests built by the harness (bench/scenarios.py), one per line as
--                       "TOKEN<TAB>JSON BODY" ("-" for no token); thread N of T takes lines N, N+T, N+2T, ... and
--                       sends them in turn, over and over, so no two threads send the same request
-- Requests are built once in init() (wrk's advice: building one per request costs the generator CPU that the
-- server shares). A response is an error unless it is a 200 with no object in any "errors" list (top-level
-- GraphQL errors or a mutation payload's errors); done() prints one "bench-result" line and a few
-- "bench-sample" lines, which the harness parses.

local threads = {}
local next_thread_number = 1
local MAX_SAMPLES_PER_THREAD = 3

function setup(thread)
   thread:set("thread_number", next_thread_number)
   next_thread_number = next_thread_number + 1
   table.insert(threads, thread)
end

local function json_post(body, token)
   local headers = { ["Content-Type"] = "application/json" }
   if token then
      headers["Authorization"] = "Bearer " .. token
   end
   return wrk.format("POST", nil, headers, body)
end

function init(args)
   local mode = args[1]
   prepared = {}
   cursor = 0
   errors = 0
   cache_hits = 0
   samples = ""
   sampled = 0
   if mode == "get" then
      table.insert(prepared, wrk.format("GET"))
   elseif mode == "lines" then
      local threads_total = tonumber(args[3])
      local number = 0
      for line in io.lines(args[2]) do
         if line ~= "" then
            if number % threads_total == thread_number - 1 then
               local token, body = line:match("^([^\t]*)\t(.*)$")
               table.insert(prepared, json_post(body, token ~= "-" and token or nil))
            end
            number = number + 1
         end
      end
      if #prepared == 0 then  -- fewer lines than threads: every thread sends them all
         for line in io.lines(args[2]) do
            local token, body = line:match("^([^\t]*)\t(.*)$")
            if body then
               table.insert(prepared, json_post(body, token ~= "-" and token or nil))
            end
         end
      end
   else
      error("unknown mode: " .. tostring(mode))
   end
end

function request()
   cursor = cursor % #prepared + 1
   return prepared[cursor]
end

function response(status, headers, body)
   body = body or ""
   if headers["X-Cache"] == "HIT" then
      cache_hits = cache_hits + 1
   end
   if status ~= 200 or body:find('"errors"%s*:%s*%[%s*{') then
      errors = errors + 1
      if sampled < MAX_SAMPLES_PER_THREAD then
         sampled = sampled + 1
         local excerpt = body:sub(1, 400):gsub("%s+", " ")
         samples = samples .. status .. " " .. excerpt .. "\n"
      end
   end
end

function done(summary, latency, requests)
   local answer_errors, cache_hits, sample_text = 0, 0, ""
   for _, thread in ipairs(threads) do
      answer_errors = answer_errors + thread:get("errors")
      cache_hits = cache_hits + thread:get("cache_hits")
      sample_text = sample_text .. thread:get("samples")
   end
   local socket = summary.errors
   io.write(string.format(
      "bench-result requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d answer_errors=%d "
         .. "cache_hits=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, answer_errors, cache_hits,
      socket.connect, socket.read, socket.write, socket.timeout))
   for line in sample_text:gmatch("[^\n]+") do
      io.write("bench-sample ", line, "\n")
   end
end
