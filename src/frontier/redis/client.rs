//! One connection to the shared frontier's Redis, and the patience to ride out a restart, a
//! failover or a stall.
//!
//! Every call goes through [`Redis::call`]: a connection error, a timeout or a server still
//! loading its append-only file is retried with backoff (reconnecting each time) until the
//! patience (`--redis-wait`), counted from the first failure, runs out, then reported with the
//! URL (never its password) and the cause. A stalled server (`DEBUG SLEEP`, SIGSTOP, a long
//! fork for a snapshot) is waited for a lease at a time (the read timeout), then asked again on
//! a new connection. A call retried after a timeout may have run once already: every script
//! is safe to run twice (a second completion finds its leases gone and is dropped; a second
//! claim's pages go back to the queue when their leases run out).

use std::time::{Duration, Instant};

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{Client, Connection, ConnectionLike, RedisError, RedisResult, Script};

use super::RedisFrontierError;
use crate::config::FrontierUrl;

/// The scripts, cut from `scripts.lua` at its `--@ NAME` lines, each with the common part.
pub(super) struct Scripts {
    pub open: Script,
    pub seed: Script,
    pub claim: Script,
    pub renew: Script,
    pub complete: Script,
    pub give_back: Script,
    pub look: Script,
    pub peek: Script,
    pub raise_gate: Script,
    pub leave: Script,
    pub fail: Script,
    pub login: Script,
    pub hold: Script,
    pub giveup: Script,
    pub robots: Script,
    pub gcra: Script,
}

const SOURCE: &str = include_str!("scripts.lua");

impl Scripts {
    fn all(&self) -> [&Script; 16] {
        [
            &self.open,
            &self.seed,
            &self.claim,
            &self.renew,
            &self.complete,
            &self.give_back,
            &self.look,
            &self.peek,
            &self.raise_gate,
            &self.leave,
            &self.fail,
            &self.login,
            &self.hold,
            &self.giveup,
            &self.robots,
            &self.gcra,
        ]
    }

    fn load() -> Scripts {
        let mut parts = SOURCE.split("\n--@ ");
        let common = parts.next().unwrap_or_default();
        let mut named = std::collections::HashMap::new();
        for part in parts {
            let (name, body) = part.split_once('\n').unwrap_or((part, ""));
            named.insert(name.trim(), format!("{common}\n{body}"));
        }
        let mut take = |name: &str| Script::new(named.remove(name).as_deref().unwrap_or(""));
        Scripts {
            open: take("open"),
            seed: take("seed"),
            claim: take("claim"),
            renew: take("renew"),
            complete: take("complete"),
            give_back: take("give_back"),
            look: take("look"),
            peek: take("peek"),
            raise_gate: take("raise_gate"),
            leave: take("leave"),
            fail: take("fail"),
            login: take("login"),
            hold: take("hold"),
            giveup: take("giveup"),
            robots: take("robots"),
            gcra: take("gcra"),
        }
    }
}

/// One Redis, or a Redis Cluster's client (which routes each call by its key's slot).
enum Server {
    One(Client),
    Cluster(ClusterClient),
}

/// A connection to either.
enum Conn {
    One(Connection),
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::One(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }
}

pub(super) struct Redis {
    server: Server,
    conn: Option<Conn>,
    url: FrontierUrl,
    /// How long one command may take before the connection is taken for lost.
    timeout: Duration,
    /// How long to keep trying after a failure.
    patience: Duration,
    pub scripts: Scripts,
    /// Round trips made, for the summary (what the shared frontier costs).
    pub round_trips: u64,
}

impl Redis {
    /// Connects, or says why not: the first contact is not retried (a wrong address or
    /// password should be said at once, not after the patience).
    pub fn connect(
        url: &FrontierUrl,
        timeout: Duration,
        patience: Duration,
    ) -> Result<Redis, RedisFrontierError> {
        let bad = |e: RedisError| RedisFrontierError::Url {
            url: url.clone(),
            why: e.to_string(),
        };
        let server = if url.is_cluster() {
            Server::Cluster(
                ClusterClient::builder(url.nodes())
                    .connection_timeout(Duration::from_secs(5).min(timeout))
                    .response_timeout(timeout)
                    .build()
                    .map_err(bad)?,
            )
        } else {
            Server::One(Client::open(url.url().as_str()).map_err(bad)?)
        };
        let conn = open(&server, timeout).map_err(|e| first_contact(url, e))?;
        let mut redis = Redis {
            server,
            conn: Some(conn),
            url: url.clone(),
            timeout,
            patience,
            scripts: Scripts::load(),
            round_trips: 0,
        };
        // A server that accepts the connection but not our commands (a password needed, a
        // replica, an old server) is found here, before anything is written.
        let pong: RedisResult<String> = redis::cmd("PING").query(redis.conn_mut()?);
        pong.map_err(|e| first_contact(url, e))?;
        if url.is_cluster() {
            // INFO goes to every node of a cluster; each answers for itself. The scripts say
            // it with Redis's own error if a node is too old.
            return Ok(redis);
        }
        let info: RedisResult<String> = redis::cmd("INFO").arg("server").query(redis.conn_mut()?);
        let info = info.map_err(|e| first_contact(url, e))?;
        let version = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .to_owned();
        if !new_enough(&version) {
            return Err(RedisFrontierError::TooOld {
                url: url.clone(),
                version,
            });
        }
        Ok(redis)
    }

    fn conn_mut(&mut self) -> Result<&mut dyn ConnectionLike, RedisFrontierError> {
        self.conn
            .as_mut()
            .map(Conn::like)
            .ok_or_else(|| RedisFrontierError::Lost {
                url: self.url.clone(),
                waited: 0.0,
                cause: "not connected".into(),
            })
    }

    /// Runs `f`, retrying through connection losses for up to the patience.
    pub fn call<T>(
        &mut self,
        mut f: impl FnMut(&mut dyn ConnectionLike, &Scripts) -> RedisResult<T>,
    ) -> Result<T, RedisFrontierError> {
        self.retry(|conn, scripts| f(conn.like(), scripts))
    }

    /// Sends the commands `make` gives as one pipeline (on a cluster, one per master they go
    /// to), retrying as [`Redis::call`] does; returns their replies in order.
    pub fn pipeline<T: redis::FromRedisValue>(
        &mut self,
        make: impl Fn(&Scripts) -> Vec<redis::Cmd>,
    ) -> Result<T, RedisFrontierError> {
        self.retry(|conn, scripts| {
            let cmds = make(scripts);
            match conn {
                Conn::One(c) => {
                    let mut pipe = redis::pipe();
                    for cmd in cmds {
                        pipe.add_command(cmd);
                    }
                    pipe.query(c)
                }
                Conn::Cluster(c) => {
                    let mut pipe = redis::cluster::ClusterPipeline::new();
                    for cmd in cmds {
                        pipe.add_command(cmd);
                    }
                    pipe.query(c.as_mut())
                }
            }
        })
    }

    fn retry<T>(
        &mut self,
        mut f: impl FnMut(&mut Conn, &Scripts) -> RedisResult<T>,
    ) -> Result<T, RedisFrontierError> {
        // The patience runs from the first failure, not from the call: a node stopped
        // mid-call (SIGSTOP, Ctrl-Z) wakes with its read interrupted and the call's start long
        // past, and must still get its reconnect, as after any other loss.
        let mut deadline = None;
        let mut pause = Duration::from_millis(50);
        let mut loaded = false;
        let cluster = matches!(self.server, Server::Cluster(_));
        loop {
            self.round_trips += 1;
            let result = match self.conn.as_mut() {
                Some(conn) => f(conn, &self.scripts),
                None => open(&self.server, self.timeout).and_then(|conn| {
                    let conn = self.conn.insert(conn);
                    f(conn, &self.scripts)
                }),
            };
            match result {
                Ok(value) => return Ok(value),
                // A pipeline of EVALSHA on a server that does not have the scripts (new, or a
                // replica just promoted): load them, then again. Calls that ran on another
                // node of a cluster run twice, which every script allows.
                Err(e) if !loaded && has_code(&e, "NOSCRIPT") => {
                    loaded = true;
                    if let Some(conn) = self.conn.as_mut() {
                        for script in self.scripts.all() {
                            // An error here shows again in the next try.
                            let _ = script.load(conn.like());
                        }
                    }
                }
                Err(e)
                    if passing(&e, cluster)
                        && Instant::now() + pause
                            < *deadline.get_or_insert_with(|| Instant::now() + self.patience) =>
                {
                    self.conn = None;
                    // A new connection may reach a server without the scripts (a promoted
                    // replica): it may load them again.
                    loaded = false;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) if has_code(&e, "CRAWLGONE") => {
                    return Err(RedisFrontierError::Gone {
                        url: self.url.clone(),
                    });
                }
                Err(e) if passing(&e, cluster) => {
                    self.conn = None;
                    return Err(RedisFrontierError::Lost {
                        url: self.url.clone(),
                        waited: self.patience.as_secs_f64(),
                        cause: e.to_string(),
                    });
                }
                Err(e) => {
                    return Err(RedisFrontierError::Refused {
                        url: self.url.clone(),
                        cause: e.to_string(),
                    });
                }
            }
        }
    }
}

/// Whether a server of `version` runs the scripts: LPOP with a count and ZADD GT came in 6.2.
/// A version that does not read as numbers is given the benefit of the doubt (a fork may
/// report its own); the scripts then fail with Redis's own error if it lacks them.
fn new_enough(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (6, 2),
        _ => true,
    }
}

fn open(server: &Server, timeout: Duration) -> RedisResult<Conn> {
    match server {
        Server::One(client) => {
            let conn = client.get_connection_with_timeout(Duration::from_secs(5).min(timeout))?;
            // A stalled server is waited for a while, then asked again, rather than taken for
            // dead.
            conn.set_read_timeout(Some(timeout))?;
            conn.set_write_timeout(Some(timeout))?;
            Ok(Conn::One(conn))
        }
        // A new connection reads the slot map again: after a failover, the new masters.
        Server::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
    }
}

/// Errors that pass: the server restarting, loading its data, or briefly unreachable.
/// Whether `e` is, or (a pipeline's) holds, a server error with `code`: a pipeline's error
/// has no code of its own, its items do.
fn has_code(e: &RedisError, code: &str) -> bool {
    e.code() == Some(code)
        || e.clone()
            .into_server_errors()
            .is_some_and(|items| items.iter().any(|(_, item)| item.code() == code))
}

/// Server errors that pass: a script running past the busy limit, a server loading its data,
/// a master demoted behind the same address, a cluster electing a master.
const PASSING_CODES: [&str; 6] = [
    "BUSY",
    "LOADING",
    "TRYAGAIN",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "READONLY",
];

/// Whether `e` passes; a slot moving (MOVED, ASK) only on a cluster connection, which
/// follows it (one Redis that answers MOVED is a cluster node given as redis://).
fn passing(e: &RedisError, cluster: bool) -> bool {
    // BUSY: another client's script is running past Redis's busy limit; it ends, or an
    // operator kills it.
    PASSING_CODES.iter().any(|code| has_code(e, code))
        || (cluster && (has_code(e, "MOVED") || has_code(e, "ASK")))
        || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::ClusterDown
            ) | redis::ErrorKind::ClusterConnectionNotFound
        )
}

fn first_contact(url: &FrontierUrl, e: RedisError) -> RedisFrontierError {
    let text = e.to_string();
    if matches!(e.kind(), redis::ErrorKind::AuthenticationFailed)
        || text.contains("NOAUTH")
        || text.contains("WRONGPASS")
        || text.contains("invalid password")
    {
        RedisFrontierError::Auth { url: url.clone() }
    } else {
        RedisFrontierError::Unreachable {
            url: url.clone(),
            cause: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::new_enough;

    #[test]
    fn the_scripts_need_redis_6_2() {
        for (version, ok) in [
            ("7.0.15", true),
            ("6.2.0", true),
            ("6.0.16", false),
            ("5.0.7", false),
            ("10.1", true),
            ("valkey-8", true),
        ] {
            assert_eq!(new_enough(version), ok, "{version}");
        }
    }
}
