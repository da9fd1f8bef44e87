//! The settings a shared crawl is stored with: what every node must agree on for the union of
//! their records to be one crawl (seeds, scope, depth, page limit, robots, record format and
//! fields). Flags that only change how one node works (mode, workers, rates, timeouts) may
//! differ between nodes.

use serde::{Deserialize, Serialize};
use url::Url;

use super::RedisFrontierError;
use crate::config::{Config, Format, Setting};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub(crate) seeds: Vec<Url>,
    pub(crate) allow_domains: Vec<String>,
    // Absent from crawls stored before the rules existed: none.
    #[serde(default)]
    pub(crate) allow_paths: Vec<String>,
    #[serde(default)]
    pub(crate) allow: Vec<String>,
    #[serde(default)]
    pub(crate) deny: Vec<String>,
    pub(crate) depth: u32,
    pub(crate) max_pages: Option<u64>,
    pub(crate) obey_robots: bool,
    pub(crate) format: String,
    pub(crate) fields: Vec<String>,
    /// Hash slots the crawl's per-origin keys are spread over (`--shards`).
    #[serde(default = "one")]
    pub(crate) shards: u32,
    /// Seen-set buckets over all shards.
    #[serde(default = "default_buckets")]
    pub(crate) buckets: u64,
    /// `--sitemaps`: the crawl reads its seed origins' sitemaps, and its levels in Redis
    /// make room for them below depth 0 (see `layout::Levels`).
    #[serde(default)]
    pub(crate) sitemaps: bool,
}

fn one() -> u32 {
    1
}

fn default_buckets() -> u64 {
    super::layout::BUCKETS
}

impl Settings {
    pub(crate) fn of(config: &Config) -> Settings {
        let format = match &config.format {
            Format::Jsonl => "jsonl".to_owned(),
            Format::Csv { columns } => format!("csv {}", columns.join(",")),
        };
        let fields = config
            .extractor
            .as_ref()
            .map(|e| e.columns())
            .unwrap_or_default();
        Settings {
            seeds: config.seeds.clone(),
            allow_domains: config.allow_domains.clone(),
            allow_paths: config.allow_paths.clone(),
            allow: config.allow.clone(),
            deny: config.deny.clone(),
            depth: config.depth,
            max_pages: config.max_pages,
            obey_robots: config.obey_robots,
            format,
            fields,
            shards: super::layout::shards_for(config),
            buckets: super::layout::buckets_for(config),
            sitemaps: config.sitemaps,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_json(text: &str) -> Option<Settings> {
        serde_json::from_str(text).ok()
    }

    /// Makes `config` run with these settings (a joining node takes the crawl's).
    pub(crate) fn adopt(&self, config: &mut Config) {
        config.seeds = self.seeds.clone();
        config.allow_domains = self.allow_domains.clone();
        config.allow_paths = self.allow_paths.clone();
        config.allow = self.allow.clone();
        config.deny = self.deny.clone();
        config.depth = self.depth;
        config.max_pages = self.max_pages;
        config.obey_robots = self.obey_robots;
        config.sitemaps = self.sitemaps;
    }

    /// Checks `mine` (a node's) against these (the crawl's); a node without seeds takes the
    /// crawl's, so its seeds are not compared.
    pub(crate) fn check(
        &self,
        mine: &Settings,
        explicit: &[Setting],
        id: &str,
    ) -> Result<(), RedisFrontierError> {
        // A node with seeds says what the crawl is: all of it must agree. A node without
        // takes the crawl's settings, except those it set itself.
        let given = |s: Setting| !mine.seeds.is_empty() || explicit.contains(&s);
        let differ = |flag: &'static str, stored: String, given: String| {
            Err(RedisFrontierError::Disagrees {
                id: id.to_owned(),
                flag,
                stored,
                given,
            })
        };
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        if !mine.seeds.is_empty() && mine.seeds != self.seeds {
            let urls = |v: &[Url]| v.iter().map(Url::as_str).collect::<Vec<_>>().join(" ");
            return differ(
                "URLS_FILE",
                format!("seeds {}", urls(&self.seeds)),
                format!("seeds {}", urls(&mine.seeds)),
            );
        }
        if given(Setting::AllowDomains) && mine.allow_domains != self.allow_domains {
            return differ(
                "--allow-domain",
                list(&self.allow_domains),
                list(&mine.allow_domains),
            );
        }
        let rules = [
            (Setting::AllowPaths, &self.allow_paths, &mine.allow_paths),
            (Setting::Allow, &self.allow, &mine.allow),
            (Setting::Deny, &self.deny, &mine.deny),
        ];
        for (setting, stored, given_rules) in rules {
            if given(setting) && given_rules != stored {
                return differ(setting.flag(), list(stored), list(given_rules));
            }
        }
        if given(Setting::Depth) && mine.depth != self.depth {
            return differ("--depth", self.depth.to_string(), mine.depth.to_string());
        }
        if given(Setting::MaxPages) && mine.max_pages != self.max_pages {
            let show = |m: Option<u64>| m.map_or("no limit".to_owned(), |n| n.to_string());
            return differ("--max-pages", show(self.max_pages), show(mine.max_pages));
        }
        if given(Setting::ObeyRobots) && mine.obey_robots != self.obey_robots {
            let show = |obey: bool| {
                if obey {
                    "robots.txt obeyed"
                } else {
                    "robots.txt ignored"
                }
            };
            return differ(
                "--ignore-robots",
                show(self.obey_robots).into(),
                show(mine.obey_robots).into(),
            );
        }
        if given(Setting::Sitemaps) && mine.sitemaps != self.sitemaps {
            let show = |on: bool| if on { "sitemaps read" } else { "no sitemaps" };
            return differ(
                "--sitemaps",
                show(self.sitemaps).into(),
                show(mine.sitemaps).into(),
            );
        }
        if mine.format != self.format {
            return differ("--format", self.format.clone(), mine.format.clone());
        }
        if mine.fields != self.fields {
            return differ("--field", list(&self.fields), list(&mine.fields));
        }
        if explicit.contains(&Setting::Shards) && mine.shards != self.shards {
            return differ("--shards", self.shards.to_string(), mine.shards.to_string());
        }
        if explicit.contains(&Setting::ExpectUrls) && mine.buckets != self.buckets {
            let sized = |b: u64| format!("a seen set of {b} buckets");
            return differ("--expect-urls", sized(self.buckets), sized(mine.buckets));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(seeds: &[&str], depth: u32) -> Settings {
        Settings {
            seeds: seeds.iter().map(|s| Url::parse(s).expect("url")).collect(),
            allow_domains: Vec::new(),
            allow_paths: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            depth,
            max_pages: None,
            obey_robots: true,
            format: "jsonl".into(),
            fields: Vec::new(),
            shards: 1,
            buckets: 4096,
            sitemaps: false,
        }
    }

    fn flag(result: Result<(), RedisFrontierError>) -> Option<&'static str> {
        match result {
            Err(RedisFrontierError::Disagrees { flag, .. }) => Some(flag),
            _ => None,
        }
    }

    #[test]
    fn a_joiner_takes_what_it_did_not_set_and_must_agree_on_what_it_did() {
        let crawl = settings(&["http://a.test/"], 3);
        // Without seeds and without -d: it takes the crawl's depth.
        assert!(crawl.check(&settings(&[], 0), &[], "x").is_ok());
        // With -d given: it must agree.
        let given = [Setting::Depth];
        assert_eq!(
            flag(crawl.check(&settings(&[], 1), &given, "x")),
            Some("--depth")
        );
        assert!(crawl.check(&settings(&[], 3), &given, "x").is_ok());
        // A node with seeds says what the crawl is: everything is compared.
        assert_eq!(
            flag(crawl.check(&settings(&["http://a.test/"], 0), &[], "x")),
            Some("--depth")
        );
        assert_eq!(
            flag(crawl.check(&settings(&["http://b.test/"], 3), &[], "x")),
            Some("URLS_FILE")
        );
        // The record format and fields always: they are what each node writes.
        let mut csv = settings(&[], 0);
        csv.format = "csv ".into();
        assert_eq!(flag(crawl.check(&csv, &[], "x")), Some("--format"));
        let mut fields = settings(&[], 0);
        fields.fields = vec!["price".into()];
        assert_eq!(flag(crawl.check(&fields, &[], "x")), Some("--field"));
    }

    #[test]
    fn settings_survive_the_trip_through_redis() {
        let s = settings(&["http://a.test/x"], 7);
        assert_eq!(Settings::from_json(&s.to_json()), Some(s));
        assert_eq!(Settings::from_json("{\"not\": \"settings\"}"), None);
    }
}
