"""An article-style Python web crawler on multiprocessing, to compare with the Rust crawler.

Breadth-first from SEED_URL, following only <a href> links on the seed's host:port (resolved
with urljoin, fragments dropped, deduplicated with a set), fetching each page once with
`requests` and parsing links and <title> with the standard library's HTMLParser, until
--max-pages pages have been fetched or the frontier is empty.

Work runs on a multiprocessing.Pool of --workers processes, each with its own requests.Session
made by the pool initializer. The parent owns the frontier and the seen set: it hands the
whole current frontier (up to the remaining page budget) to imap_unordered as one batch, and
workers return (url, status, title, links), pickled back to the parent. So the crawl goes in
waves, one per breadth-first level, and each page costs two trips between processes.

The time covers the whole crawl, pool start-up included. A failed fetch counts as a page
(not ok). Output: exactly one JSON line on stdout, diagnostics on stderr:
  {"crawler": "python-pool", "pages": int, "ok": int, "seconds": float,
   "pages_per_s": float, "workers": W}
Exits 2 on bad arguments, 3 if `requests` is not installed.
"""

from __future__ import annotations

import multiprocessing
import sys
from urllib.parse import urldefrag

# crawl_common.py sits next to this script, and Python puts the script's directory on sys.path.
from crawl_common import Result, fetch_page, origin, requests, run_main

_session: requests.Session | None = None  # one per worker process, made by init_worker
_timeout = 10.0


def init_worker(timeout: float) -> None:
    global _session, _timeout
    _session, _timeout = requests.Session(), timeout


def fetch(url: str) -> Result:
    """Fetches and parses one page (in a worker); any failure becomes status 0."""
    assert _session is not None
    return fetch_page(_session, url, _timeout)


def crawl(seed: str, max_pages: int, workers: int, timeout: float) -> tuple[int, int]:
    """Returns (pages fetched, pages with a 2xx status)."""
    home = origin(seed)
    seed = urldefrag(seed)[0]
    frontier = [seed]
    seen = {seed}
    pages = ok = 0
    with multiprocessing.Pool(workers, initializer=init_worker, initargs=(timeout,)) as pool:
        while frontier and pages < max_pages:
            # The whole level, cut to the budget (a cut batch spends it all, so it is the last).
            batch, frontier = frontier[: max_pages - pages], []
            for _url, status, _title, links in pool.imap_unordered(fetch, batch):
                pages += 1
                ok += 200 <= status < 300
                for link in links:
                    if link not in seen and origin(link) == home:
                        seen.add(link)
                        frontier.append(link)
    return pages, ok


def main(argv: list[str] | None = None) -> int:
    return run_main("python-pool", "Crawl a site breadth-first with a process pool.", "worker processes", crawl, argv)


if __name__ == "__main__":
    sys.exit(main())
