-- The shared frontier's atomic steps, run by Redis one at a time (EVALSHA).
--
-- A crawl's keys live in hash slots of two kinds, so that a Redis Cluster spreads them over its
-- masters and every script touches one slot (KEYS[1], a key prefix; every key a script uses
-- is derived from it):
--
-- The crawl's own slot, prefix C = "crawl:{ID}:" (`open`, `look`, `raise_gate`, `robots`,
-- `hold`, `giveup`, `gcra` for --rate):
--   C.."meta"        hash: magic (with "+sitemaps" for a crawl whose levels make room for
--                    sitemaps, so that a crawler that predates them refuses it), settings
--                    (JSON, with the shard and bucket counts), created
--   C.."stopgen"     bumped by `crawl --stop-crawl`
--   C.."nodes"       sorted set of live nodes, scored by when each stops counting as live
--                    (ms): its last look plus its own lease, since nodes' leases may differ
--   C.."nodestats"   hash node -> "RECORDS PAGES_PER_S LEASE_MS WHEN_MS", for `crawl status`
--   C.."gate"        the deepest depth whose pages' links may be admitted at once (below)
--   C.."robots:"..O  the verdict on origin O's robots.txt (the first a node found)
--   C.."holds"       sorted set of origins paused crawl-wide, scored by the end of the pause
--   C.."gone"        hash origin -> why a node gave it up; C.."gonelog" the same origins in
--                    order, each node reading on from where it stopped
--   C.."cookies"     list of "URL\nSET-COOKIE\n...": every response that set cookies, for
--                    every node's jar (--cookies), each node reading on from where it stopped
--   C.."fails"       hash origin -> its run of connection failures, counted over every node
--                    (--host-failures); an answer to any node ends it
--   C.."gcra:rate"   --rate's theoretical arrival time (microseconds)
--   C.."login"       Config::login, run once per run of the crawl: "run NODE" while that
--                    node sends the login requests (expires after a lease unless renewed),
--                    "done" once the session is open (its cookies are in C.."cookies"; a
--                    session from a run no node is live in any more is opened again),
--                    "failed URL\nWHY" for a lease after they failed (the others stop too)
--
-- A shard's slot, prefix P = "crawl:{ID/K.J}:" (K the shard, J whatever puts it in the K-th
-- of equal slot ranges, so shards spread evenly over a cluster's masters), or C itself when
-- the crawl has one shard. A URL's shard is its host's (xxh3 of the host name, mod shards):
-- a host's queue, seen set, leases, held links and rate limit are in one slot.
--   P.."tally"       hash: admitted, records, reclaimed, dropped (made with the shard: a
--                    shard without one lost its keys)
--   P.."lgen"        hash LEVEL -> bumped by every call that admitted or held links at that
--                    level (see `peek`)
--   P.."seen:"..B    set of 64-bit fingerprints (signed decimal), B = fp mod buckets per
--                    shard: sets of up to 512 integers stay intsets, 8 bytes a URL
--   P.."queue"       list of "LEVEL URL": admitted, not leased
--   P.."leases"      sorted set of "NODE LEVEL URL", scored by expiry (ms, Redis clock)
--   P.."out"         hash LEVEL -> pages admitted and not finished at that level
--   P.."seedmaps"    set of the entries put in the queue at level 0 (--sitemaps), one per
--                    seed origin: its /sitemap.xml with the fragment #sitemaps (no admitted
--                    URL has a fragment, so a node never mistakes one for the other), once
--                    each, outside the seen set and --max-pages, since one process does not
--                    admit it either: the sitemaps are found from it, and it is never read
--   P.."held:"..L    list of "B FP URL": links waiting to be admitted at depth L
--   P.."heldlevels"  sorted set of the L with a held list
--   P.."gcra:host:"..O  origin O's --per-host-rate / Crawl-delay arrival time
--
-- Levels. A page's level is its depth; with --sitemaps, sitemaps take levels 0 (a seed
-- origin's, to find) and 1 (to read), and a page at depth D sits at level D + 2, so that the
-- rule below holds pages' links back until no sitemap can list them at depth 0 (`layout::Levels`
-- in Rust). The scripts see only levels, and call them depths.
--
-- Exact depths. Links found on a page at depth D are admitted at D + 1 only once no page at a
-- smaller depth is outstanding anywhere and no links are held for a level up to D; until then
-- they are held. With one shard the scripts see the whole crawl and decide that themselves
-- ("whole"). With several, a node sweeps every shard (`peek`, twice) and raises C.."gate" to
-- the deepest D for which it holds; that stays true (no shallower page can appear again), so
-- any node may act on any gate it read, however old: a lower one only holds links longer.
-- It takes the smallest depths over both sweeps, and needs only that nothing was admitted or
-- held at a level up to D between a shard's two reads (lgen counts those calls per level):
-- pages merely finishing between the reads do not upset it, so a busy crawl's sweeps agree.
--
-- Nothing is lost between slots: a completion first offers the page's links to the shards
-- they belong to, then finishes the page in its own; a node that dies in between leaves the
-- page leased, it is fetched again, and its links offered again are found already seen.
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

-- The shard's keys were lost (a restart without persistence, an eviction, a FLUSHALL): the
-- node must stop, not take an empty crawl for a finished one. Every shard's tally is made
-- when the crawl is.
local function alive()
  if redis.call('EXISTS', P .. 'tally') == 0 then
    return redis.error_reply('CRAWLGONE the crawl\'s keys are gone from Redis (restarted ' ..
      'without appendonly, evicted under maxmemory, or deleted); records written so far stand')
  end
  return nil
end

-- Whether links found on a page at `depth` must wait, judged on this shard alone (a crawl
-- of one shard): a page at a smaller depth is outstanding, or links held for a level up to
-- `depth` are not all admitted yet (a release cut short by its budget).
local function blocked_here(depth)
  local all = redis.call('HGETALL', P .. 'out')
  for i = 1, #all, 2 do
    if tonumber(all[i]) < depth and tonumber(all[i + 1]) > 0 then
      return true
    end
  end
  return #redis.call('ZRANGEBYSCORE', P .. 'heldlevels', '-inf', depth, 'LIMIT', 0, 1) > 0
end

-- Whether links of a page at `depth` wait: `gate` < 0 means "judge here" (one shard).
local function blocked(depth, gate)
  if gate < 0 then return blocked_here(depth) end
  return depth > gate
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
  redis.call('HINCRBY', P .. 'out', level, 1)
  redis.call('RPUSH', P .. 'queue', level .. ' ' .. url)
  counts[3] = counts[3] + 1
end

-- A seed's entry: LEVEL is a level, or "sitemaps" for a seed origin's sitemaps to find (its
-- /sitemap.xml at level 0), which go in once per origin, outside the seen set and
-- --max-pages. Returns the level it went in at.
local function seed_one(level, bucket, fp, url, max_pages, counts)
  if level ~= 'sitemaps' then
    admit(tonumber(level), bucket, fp, url, max_pages, counts)
    return tonumber(level)
  end
  if redis.call('SADD', P .. 'seedmaps', url) == 1 then
    redis.call('HINCRBY', P .. 'out', 0, 1)
    redis.call('RPUSH', P .. 'queue', '0 ' .. url)
  end
  return 0
end

-- "B FP URL" -> B, FP, URL
local function split3(item)
  local a = string.find(item, ' ', 1, true)
  local b = string.find(item, ' ', a + 1, true)
  return string.sub(item, 1, a - 1), string.sub(item, a + 1, b - 1), string.sub(item, b + 1)
end

-- Admits held links no shallower page can find first any more (links held for level L came
-- from pages at L - 1). Returns whether it admitted anything.
local function release(max_pages, gate, counts)
  local budget = RELEASE_BUDGET
  local changed = false
  while true do
    local levels = redis.call('ZRANGE', P .. 'heldlevels', 0, 0)
    if #levels == 0 then return changed end
    local level = tonumber(levels[1])
    if blocked(level - 1, gate) then return changed end
    local key = P .. 'held:' .. level
    while true do
      if budget <= 0 then return changed end
      local items = redis.call('LPOP', key, math.min(1000, budget))
      if not items then break end
      if not changed then redis.call('HINCRBY', P .. 'lgen', level, 1) end
      changed = true
      budget = budget - #items
      for _, item in ipairs(items) do
        local b, fp, url = split3(item)
        admit(level, b, fp, url, max_pages, counts)
      end
    end
    redis.call('ZREM', P .. 'heldlevels', levels[1])
  end
end

-- Pages outstanding in this shard, counting a level of held links not yet admitted as work.
local function left()
  local n = 0
  local all = redis.call('HVALS', P .. 'out')
  for _, v in ipairs(all) do n = n + tonumber(v) end
  return n + redis.call('ZCARD', P .. 'heldlevels')
end

-- A page at `depth` is finished.
local function finished(depth)
  local remaining = redis.call('HINCRBY', P .. 'out', depth, -1)
  if remaining <= 0 then redis.call('HDEL', P .. 'out', depth) end
end

-- Offers links at `level` (triples from ARGV[first..last]): admitted, or held for later.
local function offer(level, first, last, max_pages, gate, counts)
  if first > last then return end
  redis.call('HINCRBY', P .. 'lgen', level, 1)
  if not blocked(level - 1, gate) then
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

-- The crawl-wide part of a node's look, on the crawl's prefix `c`: {stopgen, holds, nodes,
-- gone, gate, failing, cookies} (see `look`). `stats` is what `crawl status` shows of the node: "RECORDS
-- PAGES_PER_S LEASE_MS", kept with the time it was said.
local function look(c, node, lease, gone_seen, stats, cookies_seen)
  local now = now_ms()
  redis.call('ZADD', c .. 'nodes', now + lease, node)
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', c .. 'nodes', '-inf', now)) do
    redis.call('HDEL', c .. 'nodestats', dead)
  end
  redis.call('ZREMRANGEBYSCORE', c .. 'nodes', '-inf', now)
  redis.call('HSET', c .. 'nodestats', node, stats .. ' ' .. now)
  redis.call('ZREMRANGEBYSCORE', c .. 'holds', '-inf', now)
  local held = redis.call('ZRANGEBYSCORE', c .. 'holds', now, '+inf', 'WITHSCORES')
  local holds = {}
  for i = 1, #held, 2 do
    holds[#holds + 1] = held[i]
    holds[#holds + 1] = tostring(math.floor(tonumber(held[i + 1]) - now))
  end
  local given_up = {}
  for _, origin in ipairs(redis.call('LRANGE', c .. 'gonelog', gone_seen, -1)) do
    given_up[#given_up + 1] = origin
    given_up[#given_up + 1] = redis.call('HGET', c .. 'gone', origin) or ''
  end
  return {tonumber(redis.call('GET', c .. 'stopgen') or '0'), holds,
    redis.call('ZCARD', c .. 'nodes'), given_up,
    tonumber(redis.call('GET', c .. 'gate') or '0'), redis.call('HKEYS', c .. 'fails'),
    redis.call('LRANGE', c .. 'cookies', cookies_seen, cookies_seen + 999)}
end

--@ open
-- The crawl's slot. ARGV: magic, settings, create (0/1), mark (the magic a new crawl is
-- marked with: magic, or magic.."+sitemaps"), then, with one shard only, max_pages and the
-- seeds as LEVEL B FP URL quads: they are admitted here, in the same step (a crawl of
-- several shards has its seeds admitted by `seed` on each shard first). A crawl marked
-- either way is joined.
-- Returns {"created", settings, dup, over, admitted} | {"joined", settings, 0, 0, 0}
--       | {"missing"} | {"other", what}
local meta = P .. 'meta'
local kind = redis.call('TYPE', meta)['ok']
if kind == 'hash' then
  local mark = redis.call('HGET', meta, 'magic') or 'none'
  if mark ~= ARGV[1] and mark ~= ARGV[1] .. '+sitemaps' then
    return {'other', 'a hash marked ' .. mark .. ', not this version of crawl\'s ' .. ARGV[1]}
  end
  return {'joined', redis.call('HGET', meta, 'settings'), 0, 0, 0}
elseif kind ~= 'none' then
  return {'other', 'a ' .. kind}
end
if ARGV[3] ~= '1' then return {'missing'} end
redis.call('HSET', meta, 'magic', ARGV[4], 'settings', ARGV[2], 'created', now_ms())
redis.call('HSETNX', P .. 'tally', 'gen', 0)
local counts = {0, 0, 0}
if #ARGV >= 5 then
  local max_pages = tonumber(ARGV[5])
  for i = 6, #ARGV, 4 do
    seed_one(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], max_pages, counts)
  end
end
return {'created', ARGV[2], counts[1], counts[2], counts[3]}

--@ seed
-- A shard's slot. ARGV: create (1: the crawl is being made, and the shard with it; 0: a
-- node joins with seeds, and a shard whose keys are gone must say so, not start afresh),
-- max_pages, then seeds as LEVEL B FP URL quads (see `seed_one`). Returns {dup, over,
-- admitted}.
if ARGV[1] == '1' then
  redis.call('HSETNX', P .. 'tally', 'gen', 0)
else
  local gone = alive()
  if gone then return gone end
end
local counts = {0, 0, 0}
local max_pages = tonumber(ARGV[2])
local levels = {}
for i = 3, #ARGV, 4 do
  local level = seed_one(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], max_pages, counts)
  levels[level] = true
end
for level in pairs(levels) do redis.call('HINCRBY', P .. 'lgen', level, 1) end
return counts

--@ claim
-- A shard's slot. ARGV: node, n, lease_ms, max_pages, gate (-1: one shard, judged here),
-- look (0/1), gone_seen, stats, cookies_seen. Admits held links the gate allows, takes back expired leases (their
-- pages go to the front of the queue), then leases up to n queued pages to `node`.
-- Returns {entries, reclaimed, left, records, look}: left and records this shard's, look
-- the crawl-wide part when asked (one shard: the crawl's keys are this slot's), else {}.
local gone = alive()
if gone then return gone end
local node, n, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local gate = tonumber(ARGV[5])
local now = now_ms()
release(tonumber(ARGV[4]), gate, {0, 0, 0})
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
local crawl = {}
if ARGV[6] == '1' then
  crawl = look(P, node, lease, tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9]))
end
return {got, #expired, left(), tonumber(redis.call('HGET', P .. 'tally', 'records') or '0'), crawl}

--@ look
-- The crawl's slot. ARGV: node, lease_ms, gone_seen, stats, cookies_seen. Marks the node
-- live and returns {stopgen, holds, nodes, gone, gate, failing, cookies}: holds the origins paused now and the milliseconds left
-- of each, flattened; nodes how many looked within a lease; gone the origins given up since
-- the node's gone_seen-th, and why, flattened; failing the origins in a run of failures
-- (an answer to any node ends one); cookies the crawl's Set-Cookie entries from the node's
-- cookies_seen-th on (at most 1,000 a look).
if redis.call('EXISTS', P .. 'meta') == 0 then
  return redis.error_reply('CRAWLGONE the crawl\'s keys are gone from Redis')
end
return look(P, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]))

--@ peek
-- A shard's slot, read only. Returns {0 (unused), min depth outstanding (-1: none), min held level
-- (-1: none), left, records, admitted, queued, leased, out (flattened DEPTH COUNT), held
-- (flattened LEVEL COUNT), lgen (flattened LEVEL N)}.
local gone = alive()
if gone then return gone end
local out = redis.call('HGETALL', P .. 'out')
local min_out = -1
for i = 1, #out, 2 do
  local d = tonumber(out[i])
  if tonumber(out[i + 1]) > 0 and (min_out < 0 or d < min_out) then min_out = d end
end
local levels = redis.call('ZRANGE', P .. 'heldlevels', 0, -1)
local held = {}
for _, l in ipairs(levels) do
  held[#held + 1] = l
  held[#held + 1] = redis.call('LLEN', P .. 'held:' .. l)
end
local min_held = -1
if #levels > 0 then min_held = tonumber(levels[1]) end
local t = redis.call('HMGET', P .. 'tally', 'records', 'admitted')
return {0, min_out, min_held, left(), tonumber(t[1] or '0'),
  tonumber(t[2] or '0'), redis.call('LLEN', P .. 'queue'), redis.call('ZCARD', P .. 'leases'),
  out, held, redis.call('HGETALL', P .. 'lgen')}

--@ raise_gate
-- The crawl's slot. ARGV: gate. Raises the gate (never lowers it); returns the gate.
local g = tonumber(redis.call('GET', P .. 'gate') or '0')
if tonumber(ARGV[1]) > g then
  g = tonumber(ARGV[1])
  redis.call('SET', P .. 'gate', g)
end
return g

--@ renew
-- A shard's slot. ARGV: node, lease_ms, entries... Extends each lease `node` still holds;
-- returns the 1-based positions of those it no longer holds (expired and taken back).
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
-- A shard's slot. ARGV: node, max_pages, gate (-1: judged here), G, then G groups of links
-- from pages of other shards (level, count, triples), then, for each page of this shard
-- `node` finished: its lease entry ("LEVEL URL"), how many of its links are of this shard
-- (-1 - N: N, and no record was written for it: a seed origin's sitemaps to find, which are
-- never read themselves), and those links as triples. A node sends the links bound for other shards first (in
-- calls of their own), then each shard its pages.
-- Returns {dropped, dup, over, admitted}: a page whose lease `node` no longer holds is
-- another node's (it has it, or will); nothing of it is changed, its own links are not
-- offered, and it counts as dropped. Links from other shards are offered whatever became of
-- their pages (those are checked in their own shards, after): they are the page's links all
-- the same. So a shard whose keys vanished must say so here, not take them in afresh.
local gone = alive()
if gone then return gone end
local node, max_pages, gate = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local counts = {0, 0, 0}
local dropped = 0
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local level, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  offer(level, i + 2, i + 1 + 3 * n, max_pages, gate, counts)
  i = i + 2 + 3 * n
end
local finishing = 0
while i <= #ARGV do
  local entry, n = ARGV[i], tonumber(ARGV[i + 1])
  local recorded = n >= 0
  if not recorded then n = -1 - n end
  local first, last = i + 2, i + 1 + 3 * n
  i = last + 1
  if redis.call('ZREM', P .. 'leases', node .. ' ' .. entry) == 0 then
    dropped = dropped + 1
  else
    -- The depth the page was admitted at, from the entry itself: the count it leaves must
    -- be the one it was added to.
    local depth = tonumber(string.sub(entry, 1, string.find(entry, ' ', 1, true) - 1))
    offer(depth + 1, first, last, max_pages, gate, counts)
    finished(depth)
    if recorded then finishing = finishing + 1 end
  end
end
if finishing > 0 then tally('records', finishing) end
-- Once for the whole batch, within one budget: holding links is always safe, and one call
-- must stay well under Redis's busy limit however many pages it carries.
release(max_pages, gate, counts)
if dropped > 0 then tally('dropped', dropped) end
return {dropped, counts[1], counts[2], counts[3]}

--@ give_back
-- A shard's slot. ARGV: node, entries... Leases `node` gives up (Ctrl-C, a stop): their
-- pages go back to the front of the queue at once. Returns how many it still held.
local gone = alive()
if gone then return gone end
local node = ARGV[1]
local back = 0
for i = 2, #ARGV do
  if redis.call('ZREM', P .. 'leases', node .. ' ' .. ARGV[i]) == 1 then
    redis.call('LPUSH', P .. 'queue', ARGV[i])
    back = back + 1
  end
end
return back

--@ leave
-- The crawl's slot. ARGV: node. The node leaves: it no longer counts as live.
redis.call('ZREM', P .. 'nodes', ARGV[1])
redis.call('HDEL', P .. 'nodestats', ARGV[1])
return 1

--@ robots
-- The crawl's slot. ARGV: origin, verdict. Keeps the first verdict any node found for the
-- origin's robots.txt and returns the one kept: every node obeys the same one.
local key = P .. 'robots:' .. ARGV[1]
redis.call('SET', key, ARGV[2], 'NX')
return redis.call('GET', key)

--@ hold
-- The crawl's slot. ARGV: origin, ms. The origin asked for a pause (Retry-After): every node
-- holds its pages until then (a later end wins; an earlier one does not shorten it).
redis.call('ZADD', P .. 'holds', 'GT', now_ms() + tonumber(ARGV[2]), ARGV[1])
-- Paused: the run that did it is over (the probe speaks next).
redis.call('HDEL', P .. 'fails', ARGV[1])
return 1

--@ giveup
-- The crawl's slot. ARGV: origin, reason. A node gave the origin up (its probes kept
-- failing): every node does, and records its pages as unreachable at once. The first reason
-- is kept.
redis.call('HDEL', P .. 'fails', ARGV[1])
if redis.call('HSETNX', P .. 'gone', ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', P .. 'gonelog', ARGV[1])
end
return 1

--@ login
-- The crawl's slot. ARGV: node, lease_ms, what, cookies_seen. what = "take": whose turn it is
-- to log in; the node whose turn it is (or stays) is this one renews it for a lease. Returns
-- {state, cookies}: state "mine", "wait" (another node is logging in), "done" (the session
-- is open: cookies are the crawl's Set-Cookie entries from cookies_seen on, for the jar), or
-- "failed URL\nWHY". what = "done": the session is open, for this run of the crawl (the
-- node counts as live from now, so that the others find the session current). what =
-- "failed URL\nWHY": the login failed; the others stop too for a lease, after which a node
-- may try again. what = "release": the node stops without logging in; the turn is free.
local key = P .. 'login'
local node, lease, what = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
if what == 'done' then
  redis.call('SET', key, 'done')
  redis.call('ZADD', P .. 'nodes', now + lease, node)
  return {'done', {}}
end
if string.sub(what, 1, 7) == 'failed ' then
  redis.call('SET', key, what, 'PX', lease)
  return {what, {}}
end
local v = redis.call('GET', key)
if what == 'release' then
  if v == 'run ' .. node then redis.call('DEL', key) end
  return {'released', {}}
end
-- A session an earlier run opened (no node live since) may have expired: log in again.
if v == 'done' and redis.call('ZCOUNT', P .. 'nodes', now, '+inf') == 0 then
  v = nil
end
if not v or v == 'run ' .. node then
  redis.call('SET', key, 'run ' .. node, 'PX', lease)
  return {'mine', {}}
end
if v == 'done' then
  local seen = tonumber(ARGV[4])
  return {'done', redis.call('LRANGE', P .. 'cookies', seen, seen + 999)}
end
if string.sub(v, 1, 7) == 'failed ' then return {v, {}} end
return {'wait', {}}

--@ fail
-- The crawl's slot. ARGV: origin, 1 (a node counted one more failure of it: returns the
-- crawl's run) or 0 (it answered a node: the run is over). Runs nobody touched for ten
-- minutes are forgotten (every node gone, say).
if ARGV[2] == '0' then
  redis.call('HDEL', P .. 'fails', ARGV[1])
  return 0
end
local run = redis.call('HINCRBY', P .. 'fails', ARGV[1], 1)
redis.call('PEXPIRE', P .. 'fails', 600000)
return run

--@ gcra
-- The slot of the limit: the crawl's for --rate, the host's shard for a host's. ARGV: name,
-- interval_us, tolerance_us. GCRA, as governor does it in one process: a request may go when
-- now >= TAT - tolerance; it moves TAT on by one interval. Returns 0 (go) or the
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
