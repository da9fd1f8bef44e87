-- The shared frontier's atomic steps, run by Redis one at a time (EVALSHA).
--
-- Every script takes KEYS[1] = the crawl's key prefix, "crawl:{ID}:", and derives its keys from
-- it. The braces make a Redis Cluster hash tag: every key of one crawl lives in one slot, so a
-- script never touches two slots.
--
-- Keys (P is the prefix):
--   P.."meta"        hash: magic, settings (JSON), created
--   P.."seen:"..B    set of 64-bit fingerprints (decimal), B = fp mod 4096: small sets stay
--                    intsets, 8 bytes a URL
--   P.."queue"       list of "DEPTH URL": admitted, not leased
--   P.."leases"      sorted set of "NODE DEPTH URL", scored by expiry (ms, Redis clock)
--   P.."out"         hash DEPTH -> pages admitted and not finished at that depth
--   P.."held:"..L    list of "B FP URL": links waiting to be admitted at depth L
--   P.."heldlevels"  sorted set of the L with a held list
--   P.."tally"       hash of crawl-wide counts (admitted, outstanding, records, ...)
--   P.."stopgen"     bumped by `crawl --stop-crawl`
--   P.."gcra:"..NAME a rate limit's theoretical arrival time (microseconds)
--   P.."nodes"       sorted set of live nodes, scored by when each last looked (ms)
--   P.."robots:"..O  the verdict on origin O's robots.txt (the first a node found)
--   P.."holds"       sorted set of origins that asked the crawl to pause (Retry-After) or
--                    that a node paused after a run of connection failures, scored by the
--                    end of the pause (ms)
--   P.."gone"        hash origin -> why a node gave it up (its probes kept failing)
--   P.."gonelog"     list of those origins, in the order given up: each node reads on from
--                    where it stopped
--
-- This file is split at the "--@ NAME" lines into one script each, prefixed with the common
-- part above the first marker.

local P = KEYS[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function tally(field, by)
  return redis.call('HINCRBY', P .. 'tally', field, by)
end

-- Most held links one script admits: at about 6 us each, 20,000 keep a script well under
-- Redis's 5 s busy limit however many links a level collected; the rest go on the next call.
local RELEASE_BUDGET = 20000

-- The crawl's keys were lost (a restart without persistence, an eviction, a FLUSHALL): the
-- node must stop, not take an empty crawl for a finished one.
local function alive()
  if redis.call('EXISTS', P .. 'meta') == 0 then
    return redis.error_reply('CRAWLGONE the crawl\'s keys are gone from Redis (restarted ' ..
      'without appendonly, evicted under maxmemory, or deleted); records written so far stand')
  end
  return nil
end

-- Whether links found on a page at `depth` must wait: a page at a smaller depth is still
-- outstanding (it could find them first, one level up), or links held for a level up to
-- `depth` are not all admitted yet (a release cut short by its budget).
local function blocked(depth)
  local all = redis.call('HGETALL', P .. 'out')
  for i = 1, #all, 2 do
    if tonumber(all[i]) < depth and tonumber(all[i + 1]) > 0 then
      return true
    end
  end
  return #redis.call('ZRANGEBYSCORE', P .. 'heldlevels', '-inf', depth, 'LIMIT', 0, 1) > 0
end

-- counts = {duplicate, over_max_pages, admitted}
local function admit(level, bucket, fp, url, max_pages, counts)
  local seen = P .. 'seen:' .. bucket
  if redis.call('SISMEMBER', seen, fp) == 1 then
    counts[1] = counts[1] + 1
    return
  end
  if max_pages > 0 and tonumber(redis.call('HGET', P .. 'tally', 'admitted') or '0') >= max_pages then
    counts[2] = counts[2] + 1
    return
  end
  redis.call('SADD', seen, fp)
  tally('admitted', 1)
  tally('outstanding', 1)
  redis.call('HINCRBY', P .. 'out', level, 1)
  redis.call('RPUSH', P .. 'queue', level .. ' ' .. url)
  counts[3] = counts[3] + 1
end

-- "B FP URL" -> B, FP, URL
local function split3(item)
  local a = string.find(item, ' ', 1, true)
  local b = string.find(item, ' ', a + 1, true)
  return string.sub(item, 1, a - 1), string.sub(item, a + 1, b - 1), string.sub(item, b + 1)
end

-- Admits held links that no shallower page can find first any more (the in-memory
-- frontier's rule, crawl-wide: links held for level L came from pages at L - 1).
local function release(max_pages, counts)
  local budget = RELEASE_BUDGET
  while true do
    local levels = redis.call('ZRANGE', P .. 'heldlevels', 0, 0)
    if #levels == 0 then return end
    local level = tonumber(levels[1])
    if blocked(level - 1) then return end
    local key = P .. 'held:' .. level
    while true do
      if budget <= 0 then return end
      local items = redis.call('LPOP', key, math.min(1000, budget))
      if not items then break end
      budget = budget - #items
      for _, item in ipairs(items) do
        local b, fp, url = split3(item)
        admit(level, b, fp, url, max_pages, counts)
      end
    end
    redis.call('ZREM', P .. 'heldlevels', levels[1])
  end
end

-- Pages outstanding anywhere, counting a level of held links not yet admitted as work left.
local function left()
  return tonumber(redis.call('HGET', P .. 'tally', 'outstanding') or '0') +
    redis.call('ZCARD', P .. 'heldlevels')
end

-- A page at `depth` is finished crawl-wide.
local function finished(depth)
  local left = redis.call('HINCRBY', P .. 'out', depth, -1)
  if left <= 0 then redis.call('HDEL', P .. 'out', depth) end
  tally('outstanding', -1)
end

--@ open
-- ARGV: magic, settings, has_seeds (0/1), max_pages, then B FP URL triples (seeds, depth 0).
-- Returns {"created", settings, dup, over, admitted} | {"joined", settings, 0, 0, 0}
--       | {"missing"} | {"other", what}
local meta = P .. 'meta'
local kind = redis.call('TYPE', meta)['ok']
if kind == 'hash' then
  if redis.call('HGET', meta, 'magic') ~= ARGV[1] then
    return {'other', 'a hash without this version of crawl\'s mark'}
  end
  return {'joined', redis.call('HGET', meta, 'settings'), 0, 0, 0}
elseif kind ~= 'none' then
  return {'other', 'a ' .. kind}
end
if ARGV[3] ~= '1' then return {'missing'} end
redis.call('HSET', meta, 'magic', ARGV[1], 'settings', ARGV[2], 'created', now_ms())
local counts = {0, 0, 0}
local max_pages = tonumber(ARGV[4])
for i = 5, #ARGV, 3 do
  admit(0, ARGV[i], ARGV[i + 1], ARGV[i + 2], max_pages, counts)
end
return {'created', ARGV[2], counts[1], counts[2], counts[3]}

--@ seed
-- A joining node's seeds (the crawl exists): ARGV: max_pages, then triples at depth 0.
local counts = {0, 0, 0}
local max_pages = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  admit(0, ARGV[i], ARGV[i + 1], ARGV[i + 2], max_pages, counts)
end
return counts

--@ claim
-- ARGV: node, n, lease_ms, max_pages, gone_seen. Takes back expired leases first (their
-- pages go to the front of the queue), then leases up to n queued pages to `node`.
-- Returns {entries, reclaimed, outstanding, stopgen, records, holds, nodes, gone}, holds
-- being origins paused now and the milliseconds left of each, flattened, nodes the live
-- nodes (this one included: those that looked within a lease), and gone the origins given up
-- since the node's `gone_seen`th and why, flattened. It also goes on admitting held links a
-- completion left for later (its budget ran out).
local gone = alive()
if gone then return gone end
local node, n, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
release(tonumber(ARGV[4]), {0, 0, 0})
redis.call('ZADD', P .. 'nodes', now, node)
redis.call('ZREMRANGEBYSCORE', P .. 'nodes', '-inf', now - lease)
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  local sp = string.find(member, ' ', 1, true)
  redis.call('LPUSH', P .. 'queue', string.sub(member, sp + 1))
  redis.call('ZREM', P .. 'leases', member)
end
if #expired > 0 then tally('reclaimed', #expired) end
local got = {}
if n > 0 then
  got = redis.call('LPOP', P .. 'queue', n) or {}
  for _, entry in ipairs(got) do
    redis.call('ZADD', P .. 'leases', now + lease, node .. ' ' .. entry)
  end
end
redis.call('ZREMRANGEBYSCORE', P .. 'holds', '-inf', now)
local held = redis.call('ZRANGEBYSCORE', P .. 'holds', now, '+inf', 'WITHSCORES')
local holds = {}
for i = 1, #held, 2 do
  holds[#holds + 1] = held[i]
  holds[#holds + 1] = tostring(math.floor(tonumber(held[i + 1]) - now))
end
local given_up = {}
for _, origin in ipairs(redis.call('LRANGE', P .. 'gonelog', tonumber(ARGV[5]), -1)) do
  given_up[#given_up + 1] = origin
  given_up[#given_up + 1] = redis.call('HGET', P .. 'gone', origin) or ''
end
return {got, #expired, left(),
  tonumber(redis.call('GET', P .. 'stopgen') or '0'),
  tonumber(redis.call('HGET', P .. 'tally', 'records') or '0'), holds,
  redis.call('ZCARD', P .. 'nodes'), given_up}

--@ renew
-- ARGV: node, lease_ms, entries... Extends each lease `node` still holds; returns the
-- 1-based positions of those it no longer holds (expired and taken back).
local gone = alive()
if gone then return gone end
local node, lease = ARGV[1], tonumber(ARGV[2])
local until_ms = now_ms() + lease
local lost = {}
for i = 3, #ARGV do
  local member = node .. ' ' .. ARGV[i]
  if redis.call('ZSCORE', P .. 'leases', member) then
    redis.call('ZADD', P .. 'leases', until_ms, member)
  else
    lost[#lost + 1] = i - 2
  end
end
return lost

--@ complete
-- ARGV: node, max_pages, then for each page this node finished: its lease entry ("DEPTH
-- URL"), how many links it yielded, and those links as triples, to be admitted at DEPTH + 1.
-- A node sends the pages whose records it wrote since its last turn in one call.
-- Returns {dropped, dup, over, admitted}: a page whose lease `node` no longer holds is
-- another node's (it has it, or will); nothing of it is changed, and it counts as dropped.
-- (Keys that vanished show as leases gone; the node's next claim says why.)
local node, max_pages = ARGV[1], tonumber(ARGV[2])
local counts = {0, 0, 0}
local dropped = 0
local i = 3
while i <= #ARGV do
  local entry, n = ARGV[i], tonumber(ARGV[i + 1])
  local first, last = i + 2, i + 1 + 3 * n
  i = last + 1
  if redis.call('ZREM', P .. 'leases', node .. ' ' .. entry) == 0 then
    dropped = dropped + 1
  else
    -- The depth the page was admitted at, from the entry itself: the count it leaves must
    -- be the one it was added to.
    local depth = tonumber(string.sub(entry, 1, string.find(entry, ' ', 1, true) - 1))
    local level = depth + 1
    if n > 0 then
      if not blocked(depth) then
        for j = first, last, 3 do
          admit(level, ARGV[j], ARGV[j + 1], ARGV[j + 2], max_pages, counts)
        end
      else
        local key = P .. 'held:' .. level
        for j = first, last, 3 do
          redis.call('RPUSH', key, ARGV[j] .. ' ' .. ARGV[j + 1] .. ' ' .. ARGV[j + 2])
        end
        redis.call('ZADD', P .. 'heldlevels', level, tostring(level))
      end
    end
    finished(depth)
    tally('records', 1)
  end
end
-- Once for the whole batch, within one budget: holding links is always safe (a page above
-- whose links find a level not yet released holds them too), and one call must stay well
-- under Redis's busy limit however many pages it carries.
release(max_pages, counts)
if dropped > 0 then tally('dropped', dropped) end
return {dropped, counts[1], counts[2], counts[3]}

--@ give_back
-- ARGV: node, leaving (1/0), entries... Leases `node` gives up (Ctrl-C, a stop): their pages
-- go back to the front of the queue at once. A node leaving no longer counts as live.
-- Returns how many it still held.
local gone = alive()
if gone then return gone end
local node = ARGV[1]
if ARGV[2] == '1' then redis.call('ZREM', P .. 'nodes', node) end
local back = 0
for i = 3, #ARGV do
  if redis.call('ZREM', P .. 'leases', node .. ' ' .. ARGV[i]) == 1 then
    redis.call('LPUSH', P .. 'queue', ARGV[i])
    back = back + 1
  end
end
return back

--@ robots
-- ARGV: origin, verdict. Keeps the first verdict any node found for the origin's robots.txt
-- and returns the one kept: every node obeys the same one.
local key = P .. 'robots:' .. ARGV[1]
redis.call('SET', key, ARGV[2], 'NX')
return redis.call('GET', key)

--@ hold
-- ARGV: origin, ms. The origin asked for a pause (Retry-After): every node holds its pages
-- until then (a later end wins; an earlier one does not shorten it).
redis.call('ZADD', P .. 'holds', 'GT', now_ms() + tonumber(ARGV[2]), ARGV[1])
return 1

--@ giveup
-- ARGV: origin, reason. A node gave the origin up (its probes kept failing): every node does,
-- and records its pages as unreachable at once. The first reason is kept.
if redis.call('HSETNX', P .. 'gone', ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', P .. 'gonelog', ARGV[1])
end
return 1

--@ gcra
-- ARGV: name, interval_us, tolerance_us. GCRA, as governor does it in one process: a request
-- may go when now >= TAT - tolerance; it moves TAT on by one interval. Returns 0 (go) or the
-- microseconds to wait; a refusal changes nothing.
local key = P .. 'gcra:' .. ARGV[1]
local interval, tolerance = tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local next_tat = tat + interval
redis.call('SET', key, string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return 0
