-- Remote-write load for wrk: each thread is one connection that owns its series.
--
-- Usage: wrk -t N -c N -d D --timeout 60s -s remote_write.lua URL -- DIR STEPS PATH AUTH FIRST
--   DIR    bodies as DIR/<thread>/<step>.bin (snappy WriteRequests; bench/rw_payloads.py)
--   STEPS  bodies per thread, in time order
--   PATH   write path and query, e.g. /api/v1/write
--   AUTH   value of the Authorization header, or "" for none
--   FIRST  the first step to send (the ones before it were sent as a warm-up)
--
-- One connection per thread (-t equal to -c) and no pipelining, so a thread's requests
-- reach the server one after the other, in time order: Prometheus rejects a sample older
-- than the last one of its series. A thread that has sent all its bodies goes on with an
-- empty request (no samples), so nothing is sent twice; `exhausted` then says so.
-- Responses answer the thread's last request, so each is attributed to a real body or not.
-- done() prints one line, `WRK_RESULT {...}`, that bench/remote_write.py parses.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   dir = args[1]
   steps = tonumber(args[2])
   path = args[3]
   headers = {
      ["Content-Encoding"] = "snappy",
      ["Content-Type"] = "application/x-protobuf",
      ["X-Prometheus-Remote-Write-Version"] = "0.1.0",
   }
   if args[4] ~= nil and args[4] ~= "" then
      headers["Authorization"] = args[4]
   end
   first = tonumber(args[5] or "0")
   sent = 0
   ok = 0
   empty = 0
   codes = {}
   exhausted = false
   last_real = false
end

function request()
   if first + sent >= steps then
      exhausted = true
      last_real = false
      empty = empty + 1
      return wrk.format("POST", path, headers, "\0")
   end
   local file = assert(io.open(string.format("%s/%d/%05d.bin", dir, id, first + sent), "rb"))
   local body = file:read("*a")
   file:close()
   sent = sent + 1
   last_real = true
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   if not last_real then
      return
   end
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      codes[status] = (codes[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local sent_total, ok_total, empty_total, exhausted_any = 0, 0, 0, false
   local merged, others = {}, {}
   for _, thread in ipairs(threads) do
      sent_total = sent_total + thread:get("sent")
      ok_total = ok_total + thread:get("ok")
      empty_total = empty_total + thread:get("empty")
      exhausted_any = exhausted_any or thread:get("exhausted")
      for status, n in pairs(thread:get("codes")) do
         merged[status] = (merged[status] or 0) + n
      end
   end
   for status, n in pairs(merged) do
      others[#others + 1] = string.format('"%d": %d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"sent": %d, "ok": %d, "empty": %d, "other_status": {%s}, "exhausted": %s, '
         .. '"duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, '
         .. '"timeout": %d}, "latency_us": {"mean": %.0f, "p50": %d, "p99": %d, "max": %d}}\n',
      sent_total, ok_total, empty_total, table.concat(others, ", "), tostring(exhausted_any),
      summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
