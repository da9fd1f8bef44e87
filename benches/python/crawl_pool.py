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

import argparse
import json
import multiprocessing
import sys
import time
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

try:
    import requests
except ImportError:  # reported after argument parsing, so that --help still works
    requests = None  # type: ignore[assignment]

Result = tuple[str, int, str, list[str]]  # (url, status or 0 on error, title, links)
DEFAULT_PORTS = {"http": 80, "https": 443}


class LinkParser(HTMLParser):
    """Collects <a href> values and the text of <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(v for k, v in attrs if k == "href" and v)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def origin(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, or None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.hostname.lower(), port


_session: requests.Session | None = None  # one per worker process, made by init_worker
_timeout = 10.0


def init_worker(timeout: float) -> None:
    global _session, _timeout
    _session, _timeout = requests.Session(), timeout


def fetch(url: str) -> Result:
    """Fetches and parses one page (in a worker); any failure becomes status 0."""
    assert _session is not None
    try:
        resp = _session.get(url, timeout=_timeout)
        if not resp.ok or "html" not in resp.headers.get("Content-Type", "html"):
            return url, resp.status_code, "", []
        parser = LinkParser()
        parser.feed(resp.text)
        links = [urldefrag(urljoin(resp.url, href))[0] for href in parser.links]
        return url, resp.status_code, parser.title.strip(), links
    except Exception as e:  # a failed page must not stop the crawl
        print(f"fetch failed: {url}: {e}", file=sys.stderr)
        return url, 0, "", []


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Crawl a site breadth-first with a process pool.")
    parser.add_argument("seed_url", metavar="SEED_URL", help="e.g. http://127.0.0.1:PORT/gen/0")
    parser.add_argument("--max-pages", type=int, required=True, help="stop after N pages")
    parser.add_argument("--workers", type=int, required=True, help="worker processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, s (default 10)")
    args = parser.parse_args(argv)
    if origin(args.seed_url) is None:
        parser.error(f"SEED_URL must be an http(s) URL with a host: {args.seed_url!r}")
    if args.max_pages < 1 or args.workers < 1 or not args.timeout > 0:
        parser.error("--max-pages and --workers must be at least 1, --timeout positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if requests is None:
        print("requests is not installed (pip install requests)", file=sys.stderr)
        return 3
    started = time.perf_counter()
    pages, ok = crawl(args.seed_url, args.max_pages, args.workers, args.timeout)
    secs = time.perf_counter() - started
    record = {"crawler": "python-pool", "pages": pages, "ok": ok, "seconds": secs}
    record.update(pages_per_s=pages / secs if secs > 0 else 0.0, workers=args.workers)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
