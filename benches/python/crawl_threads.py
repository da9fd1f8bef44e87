"""An article-style Python web crawler on threads, to compare with the Rust crawler.

Breadth-first from SEED_URL, following only <a href> links on the seed's host:port (resolved
with urljoin, fragments dropped, deduplicated with a set), fetching each page once with
`requests` (one Session per worker thread) and parsing links and <title> with the standard
library's HTMLParser, until --max-pages pages have been fetched or the frontier is empty.

A concurrent.futures.ThreadPoolExecutor of --workers threads does the work; the main thread
owns the frontier and keeps up to --workers fetches in flight, handling them as they complete.
Waiting on the network releases the GIL, so threads help here, unlike in the article's CPU
experiment; parsing is CPU work and does not run in parallel.

The time covers the whole crawl, executor start-up included. A failed fetch counts as a page
(not ok). Output: exactly one JSON line on stdout, diagnostics on stderr:
  {"crawler": "python-threads", "pages": int, "ok": int, "seconds": float,
   "pages_per_s": float, "workers": W}
Exits 2 on bad arguments, 3 if `requests` is not installed.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from urllib.parse import urldefrag

# crawl_common.py sits next to this script, and Python puts the script's directory on sys.path.
from crawl_common import Result, fetch_page, origin, requests, run_main

_local = threading.local()


def fetch(url: str, timeout: float) -> Result:
    """Fetches and parses one page; any failure becomes status 0, never an exception."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return fetch_page(session, url, timeout)


def crawl(seed: str, max_pages: int, workers: int, timeout: float) -> tuple[int, int]:
    """Returns (pages fetched, pages with a 2xx status)."""
    home = origin(seed)
    seed = urldefrag(seed)[0]
    frontier: deque[str] = deque([seed])
    seen = {seed}
    pages = ok = 0
    in_flight: set[Future[Result]] = set()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while in_flight or (frontier and pages < max_pages):
            while frontier and len(in_flight) < workers and pages + len(in_flight) < max_pages:
                in_flight.add(pool.submit(fetch, frontier.popleft(), timeout))
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in done:
                _url, status, _title, links = fut.result()
                pages += 1
                ok += 200 <= status < 300
                for link in links:
                    if link not in seen and origin(link) == home:
                        seen.add(link)
                        frontier.append(link)
    return pages, ok


def main(argv: list[str] | None = None) -> int:
    return run_main("python-threads", "Crawl a site breadth-first with threads.", "worker threads", crawl, argv)


if __name__ == "__main__":
    sys.exit(main())
