"""What the article-style Python crawlers crawl_threads.py and crawl_pool.py share.

Holds the optional `requests` import (None when it is not installed, so that --help still
works; requests_missing() reports it after argument parsing), the Result tuple a fetch
returns, LinkParser (the standard library HTMLParser collecting <a href> values and
<title>), origin() (the (host, port) that decides which links stay on the seed's site),
fetch_page() (fetch and parse one URL with a given requests.Session, every failure turned
into status 0), and parse_args() (the common CLI: SEED_URL, --max-pages, --workers,
--timeout, validated; argparse exits 2 on bad arguments).

The crawlers import it as a top-level module: `python3 benches/python/crawl_threads.py`
puts the script's own directory first on sys.path, and multiprocessing workers inherit it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
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


def fetch_page(session: requests.Session, url: str, timeout: float) -> Result:
    """Fetches and parses one page with session; any failure becomes status 0, not an exception."""
    try:
        resp = session.get(url, timeout=timeout)
        if not resp.ok or "html" not in resp.headers.get("Content-Type", "html"):
            return url, resp.status_code, "", []
        parser = LinkParser()
        parser.feed(resp.text)
        links = [urldefrag(urljoin(resp.url, href))[0] for href in parser.links]
        return url, resp.status_code, parser.title.strip(), links
    except Exception as e:  # a failed page must not stop the crawl
        print(f"fetch failed: {url}: {e}", file=sys.stderr)
        return url, 0, "", []


def parse_args(
    description: str, workers_help: str, argv: list[str] | None = None
) -> argparse.Namespace:
    """Parses and checks the crawlers' common command line; exits 2 on bad arguments."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("seed_url", metavar="SEED_URL", help="e.g. http://127.0.0.1:PORT/gen/0")
    parser.add_argument("--max-pages", type=int, required=True, help="stop after N pages")
    parser.add_argument("--workers", type=int, required=True, help=workers_help)
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, s (default 10)")
    args = parser.parse_args(argv)
    if origin(args.seed_url) is None:
        parser.error(f"SEED_URL must be an http(s) URL with a host: {args.seed_url!r}")
    if args.max_pages < 1 or args.workers < 1 or not args.timeout > 0:
        parser.error("--max-pages and --workers must be at least 1, --timeout positive")
    return args


def requests_missing() -> bool:
    """True, after saying so on stderr, if `requests` is not installed (the crawlers exit 3)."""
    if requests is None:
        print("requests is not installed (pip install requests)", file=sys.stderr)
        return True
    return False


def run_main(
    crawler: str,
    description: str,
    workers_help: str,
    crawl: Callable[[str, int, int, float], tuple[int, int]],
    argv: list[str] | None = None,
) -> int:
    """Parses arguments, times `crawl(seed, max_pages, workers, timeout)` and prints the one JSON
    line both crawlers report; returns the exit status."""
    args = parse_args(description, workers_help, argv)
    if requests_missing():
        return 3
    started = time.perf_counter()
    pages, ok = crawl(args.seed_url, args.max_pages, args.workers, args.timeout)
    secs = time.perf_counter() - started
    record = {"crawler": crawler, "pages": pages, "ok": ok, "seconds": secs}
    record.update(pages_per_s=pages / secs if secs > 0 else 0.0, workers=args.workers)
    print(json.dumps(record))
    return 0
