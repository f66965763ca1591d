-- Line-protocol ingest load for wrk: POST pre-generated bodies, count answers by status.
--
-- Usage: wrk -t T -c C -d D --timeout 60s -s ingest.lua URL -- DIR COUNT PATH AUTH T
--   DIR    directory of bodies named 00000.lp, 00001.lp, ... (bench/tsbs.py writes them)
--   COUNT  number of bodies; a multiple of T, so each thread owns every T-th body
--   PATH   write path and query, e.g. /write?db=bench&precision=ns
--   AUTH   value of the Authorization header, or "" for none
--   T      the thread count again (a thread's environment cannot see the others)
--
-- Each thread sends its own bodies in order, so no two requests carry the same points
-- until a thread has sent all of its share (then it starts over and `wrapped` says so).
-- Bodies are read from disk (the page cache) per request instead of being held in Lua,
-- which keeps gigabytes of bodies out of LuaJIT's heap. done() prints one line,
-- `WRK_RESULT {...}`, that bench/wrk_runner.py parses.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   dir = args[1]
   count = tonumber(args[2])
   path = args[3]
   headers = { ["Content-Type"] = "text/plain; charset=utf-8" }
   if args[4] ~= nil and args[4] ~= "" then
      headers["Authorization"] = args[4]
   end
   thread_count = tonumber(args[5])
   sent = 0
   ok = 0
   codes = {}
   wrapped = false
end

function request()
   local slot = id + sent * thread_count
   if slot >= count then
      wrapped = true
   end
   sent = sent + 1
   local file = assert(io.open(string.format("%s/%05d.lp", dir, slot % count), "rb"))
   local body = file:read("*a")
   file:close()
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      codes[status] = (codes[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local sent_total, ok_total, wrapped_any = 0, 0, false
   local merged, others = {}, {}
   for _, thread in ipairs(threads) do
      sent_total = sent_total + thread:get("sent")
      ok_total = ok_total + thread:get("ok")
      wrapped_any = wrapped_any or thread:get("wrapped")
      for status, n in pairs(thread:get("codes")) do
         merged[status] = (merged[status] or 0) + n
      end
   end
   for status, n in pairs(merged) do
      others[#others + 1] = string.format('"%d": %d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"sent": %d, "ok": %d, "other_status": {%s}, "wrapped": %s, '
         .. '"completed": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, '
         .. '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"mean": %.0f, '
         .. '"p50": %d, "p99": %d, "max": %d}}\n',
      sent_total, ok_total, table.concat(others, ", "), tostring(wrapped_any),
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
