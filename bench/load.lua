-- wrk script of bench/run: one scenario per run, chosen by the arguments after "--":
--   get                                  GET the URL as it is (the baseline view)
--   post   BODY_FILE                     POST the same GraphQL body on every request
--   tokens BODY_FILE TOKENS_FILE         the same body, each request with the next user's access token; a body
--                                        with __NONCE__ gets a value of its own in every request (cache misses)
--   rate   TEMPLATE_FILE TOKENS_FILE MOVIES_FILE
--                                        rateMovie bodies: __MOVIE__ and __SCORE__ replaced by a random movie
--                                        id and half-star score, with a random user's token
-- Requests are built once in init() (wrk's advice: building one per request costs the generator CPU that the
-- server shares). A response is an error unless it is a 200 with no object in any "errors" list (top-level
-- GraphQL errors or a mutation payload's errors); done() prints one "bench-result" line and a few
-- "bench-sample" lines, which the harness parses.

local threads = {}
local next_thread_number = 1
local PREPARED_REQUESTS = 4000
local MAX_SAMPLES_PER_THREAD = 3

function setup(thread)
   thread:set("thread_number", next_thread_number)
   next_thread_number = next_thread_number + 1
   table.insert(threads, thread)
end

local function read_file(path)
   local file = assert(io.open(path, "rb"))
   local content = file:read("*a")
   file:close()
   return content
end

local function read_lines(path)
   local lines = {}
   for line in io.lines(path) do
      if line ~= "" then
         table.insert(lines, line)
      end
   end
   assert(#lines > 0, path .. " is empty")
   return lines
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
   math.randomseed(thread_number * 7919)
   if mode == "get" then
      table.insert(prepared, wrk.format("GET"))
   elseif mode == "post" then
      table.insert(prepared, json_post(read_file(args[2])))
   elseif mode == "tokens" then
      local body = read_file(args[2])
      local tokens = read_lines(args[3])
      if body:find("__NONCE__", 1, true) then
         -- Each request with a variable value of its own (this run's start, thread and request number), so that
         -- no two requests share a response-cache entry, not even with the warm-up run's.
         for i = 1, PREPARED_REQUESTS do
            local nonce = string.format("%d-%d-%d", os.time(), thread_number, i)
            table.insert(prepared, json_post(body:gsub("__NONCE__", nonce), tokens[i % #tokens + 1]))
         end
      else
         for _, token in ipairs(tokens) do
            table.insert(prepared, json_post(body, token))
         end
      end
      -- Threads start at different users, so that all of them are used from the first second.
      cursor = (thread_number * 7) % #prepared
   elseif mode == "rate" then
      local template = read_file(args[2])
      local tokens, movies = read_lines(args[3]), read_lines(args[4])
      for _ = 1, PREPARED_REQUESTS do
         local body = template:gsub("__MOVIE__", movies[math.random(#movies)])
         body = body:gsub("__SCORE__", string.format("%.1f", math.random(10) / 2))
         table.insert(prepared, json_post(body, tokens[math.random(#tokens)]))
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
