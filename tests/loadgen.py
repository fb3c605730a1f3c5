"""Bounded HTTP(S) load for koinonia.fleet's drills and `make bench`.

Each route runs `clients` threads; each thread keeps one keep-alive connection (or opens a
new one per request with --new-connection) and sends at most `rate` requests per second
(0: as fast as answers come). Pacing never catches up after a stall, so a client never
bursts past its rate (the load balancer's rate limits answer 429 to bursts).

Bounded by --duration (seconds) and --max-requests, whichever comes first; targets must be
on this machine: loopback, or a container on one of its Docker bridges (the fleet's own
networks). Anything else is refused before anything is sent.

An HTTP/1.1 server may close an idle keep-alive connection at any time, and NGINX does so
when it reloads. Like a browser, this tool looks at an idle connection before reusing it and
opens a new one when the server has closed it (`keepalive_closed`). A request sent on one at
the very instant the server closes it meets a reset; an idempotent one may be retried on a new
connection (RFC 9112, 9.3.1), as browsers do: it is counted in `keepalive_resets` and retried
once, and the retry's outcome is the request's outcome. A POST is never retried: it fails, with
the kind `keepalive_reset` when that was the cause. Nothing else is retried.

Output (stdout, or --json FILE): one JSON summary with requests, failures by kind, p50, p99
and max latency, per route and overall, and the first failures with their times.

  tests/loadgen.py https://172.30.58.10 --host-header api.koinonia.test --duration 30 \\
      --route 'health GET /health 4 25' --route 'db GET /api/messages?limit=1 2 10'

With --target-file FILE instead of a target, every new connection goes where FILE says at that
moment ("URL [HOST-HEADER]"), as a client follows DNS: the migration drill moves its clients from
the single server to the load balancer by rewriting the file. The summary counts requests per
target (`targets`).

Route spec: "NAME METHOD PATH CLIENTS RATE". A POST sends {"body": "<run id> <n>"} and the
summary lists the ids the server returned (`written`), so lost writes can be counted.
"""
import argparse
import http.client
import ipaddress
import json
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Failures that mean "the connection was closed under the request", before any answer (over TLS
# the close may arrive as a close_notify or an unexpected EOF).
_CLOSED = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected, ConnectionAbortedError,
           ssl.SSLEOFError, ssl.SSLZeroReturnError)


@dataclass
class Route:
    name: str
    method: str
    path: str
    clients: int
    rate: float

    @classmethod
    def parse(cls, spec):
        parts = spec.split()
        if len(parts) != 5:
            raise ValueError(f"route {spec!r}: want 'NAME METHOD PATH CLIENTS RATE'")
        name, method, path, clients, rate = parts
        if method not in ("GET", "HEAD", "POST") or not path.startswith("/"):
            raise ValueError(f"route {spec!r}: method GET, HEAD or POST and a path starting with /")
        route = cls(name, method, path, int(clients), float(rate))
        if route.clients < 1 or route.rate < 0:
            raise ValueError(f"route {spec!r}: at least one client and a rate >= 0")
        return route


@dataclass
class Record:
    route: str
    start: float  # wall clock (time.time()), to compare with the times faults were injected
    end: float
    status: int  # 0: no HTTP answer
    kind: str  # "ok", "http_<status>", "timeout", "refused", "reset", "keepalive_reset", "tls", "error"
    host: str = ""  # the backend that answered, when the JSON reply names it
    target: str = ""  # where the request went (with a target file, it changes)
    version: str = ""  # the release that answered, likewise
    detail: str = ""

    @property
    def ok(self):
        return self.kind == "ok"

    @property
    def ms(self):
        return (self.end - self.start) * 1000


def check_target(hostname):
    """Refuse any target that is not on this machine: loopback, or a container on one of this
    machine's Docker bridges (reached without a gateway through a docker0 or br-* interface)."""
    addresses = {info[4][0] for info in socket.getaddrinfo(hostname, None)}
    for address in addresses:
        if ipaddress.ip_address(address).is_loopback:
            continue
        route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True, check=False).stdout
        words = route.split()
        device = words[words.index("dev") + 1] if "dev" in words[:-1] else ""
        if "via" in words or device not in _docker_bridges():
            raise SystemExit(f"loadgen: {hostname} ({address}) is not on this machine's own networks; refused")
    return sorted(addresses)


def _docker_bridges():
    """The interfaces of this machine's Docker bridge networks: docker0 and br-<network id>."""
    ids = subprocess.run(["docker", "network", "ls", "-q", "--no-trunc", "--filter", "driver=bridge"],
                         capture_output=True, text=True, check=False).stdout.split()
    return {"docker0"} | {f"br-{network_id[:12]}" for network_id in ids}


def _closed_by_server(conn):
    """True when an idle keep-alive connection has something to read: on an idle HTTP/1.1
    connection that can only be the server closing it. Browsers check this before reusing a
    connection; a request sent on it anyway would meet a reset."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def classify(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, _CLOSED + (http.client.IncompleteRead,)):
        return "reset"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    return "error"


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


@dataclass
class Load:
    """Run the routes in background threads: `with Load(...) as load:` ... `load.summary()`."""

    target: str
    routes: list
    duration: float = 60.0
    max_requests: int = 100000
    timeout: float = 15.0
    host_header: str = ""
    new_connection: bool = False
    slow_ms: float = 2000.0
    target_file: str = ""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    records: list = field(default_factory=list)
    written: list = field(default_factory=list)
    keepalive_resets: int = 0
    keepalive_closed: int = 0

    def __post_init__(self):
        self._checked = {}
        if self.target_file:
            self.target, self.host_header = self._read_target_file()
        self._scheme, self._hostname, self._port = self._parse(self.target)
        self.routes = [r if isinstance(r, Route) else Route.parse(r) for r in self.routes]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # One TLS context for every connection: the drills' LB is self-signed or Pebble's, so nothing
        # is verified, and no CA store is loaded (create_default_context() per connection cost
        # ~30 ms of CPU each, most of what a --new-connection client spent).
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._tls.check_hostname, self._tls.verify_mode = False, ssl.CERT_NONE
        self._threads = []
        self._sent = 0
        self._seq = 0
        self.started = self.ended = None

    def _parse(self, target):
        """(scheme, host, port) of a target URL, refused unless it is on this machine."""
        url = urlsplit(target)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"target {target!r}: want http(s)://host[:port]")
        if url.hostname not in self._checked:
            check_target(url.hostname)
            self._checked[url.hostname] = True
        return url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 80)

    def _read_target_file(self):
        with open(self.target_file, encoding="utf-8") as handle:
            words = handle.read().split()
        if not words:
            raise ValueError(f"target file {self.target_file}: empty; want 'URL [HOST-HEADER]'")
        return words[0], (words[1] if len(words) > 1 else "")

    # -- one client -------------------------------------------------------------------------
    def _connect(self):
        target, host_header, (scheme, hostname, port) = self.target, self.host_header, (self._scheme, self._hostname, self._port)
        if self.target_file:
            try:
                target, host_header = self._read_target_file()
                scheme, hostname, port = self._parse(target)
            except (OSError, ValueError):
                target, host_header = self.target, self.host_header  # mid-rewrite: keep the last good one
            else:
                with self._lock:
                    self.target = target
        if scheme == "https":
            conn = http.client.HTTPSConnection(hostname, port, timeout=self.timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(hostname, port, timeout=self.timeout)
        conn.koinonia_target, conn.koinonia_host_header = target, host_header or hostname
        return conn

    def _take(self):
        with self._lock:
            if self._sent >= self.max_requests:
                return None
            self._sent += 1
            self._seq += 1
            return self._seq

    def _once(self, conn, route, seq):
        headers = {"Host": conn.koinonia_host_header, "User-Agent": "koinonia-loadgen"}
        if self.new_connection:
            headers["Connection"] = "close"
        body = None
        if route.method == "POST":
            body = json.dumps({"body": f"{self.run_id} {seq}"})
            headers["Content-Type"] = "application/json"
        conn.request(route.method, route.path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()

    def _client(self, route):
        held = []  # this client's open connection, closed however the loop ends
        try:
            self._client_loop(route, held)
        finally:
            for conn in held:
                conn.close()

    def _client_loop(self, route, held):
        conn, used = None, 0
        interval = 1.0 / route.rate if route.rate > 0 else 0.0
        due = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            seq = self._take()
            if seq is None:
                return
            if interval:
                now = time.monotonic()
                if due > now and self._stop.wait(due - now):
                    return
                due = max(due + interval, time.monotonic())  # never catch up in a burst
            start, status, kind, payload, detail, target = time.time(), 0, "ok", b"", "", ""
            for attempt in (1, 2):
                if conn is not None and (conn.sock is None or self.new_connection):
                    used = 0  # http.client reconnects by itself after a "Connection: close" answer
                if conn is not None and used and _closed_by_server(conn):
                    conn.close()
                    conn = None
                    with self._lock:
                        self.keepalive_closed += 1
                if conn is None:
                    conn, used = self._connect(), 0
                    held[:] = [conn]
                target = conn.koinonia_target
                try:
                    status, payload = self._once(conn, route, seq)
                    used += 1
                    kind = "ok" if 200 <= status < 400 else f"http_{status}"
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    reused = used > 0
                    conn = None
                    closed_under_it = reused and isinstance(exc, _CLOSED)
                    if attempt == 1 and closed_under_it and route.method in ("GET", "HEAD"):
                        with self._lock:
                            self.keepalive_resets += 1
                        continue  # the server closed a keep-alive connection under the request: retry once
                    # A write is not retried: it fails, as "keepalive_reset" when that was the cause.
                    kind = "keepalive_reset" if closed_under_it else classify(exc)
                    detail = f"{type(exc).__name__}: {exc}"[:200]
                    break
            end = time.time()
            if self.new_connection and conn is not None:
                conn.close()
                conn = None
            record = Record(route.name, start, end, status, kind, detail=detail, target=target)
            if payload[:1] == b"{":
                try:
                    reply = json.loads(payload)
                    record.host = str(reply.get("host", ""))
                    record.version = str(reply.get("version", ""))
                    if route.method == "POST" and kind == "ok" and "id" in reply:
                        with self._lock:
                            self.written.append(str(reply["id"]))
                except ValueError:
                    pass
            with self._lock:
                self.records.append(record)

    # -- the run --------------------------------------------------------------------------------
    def start(self):
        self.started = time.time()
        self._deadline = time.monotonic() + self.duration
        for route in self.routes:
            for _client in range(route.clients):
                thread = threading.Thread(target=self._client, args=(route,), daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.ended = time.time()
        return self

    def wait(self):
        for thread in self._threads:
            thread.join()
        self.ended = time.time()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what happened --------------------------------------------------------------------------
    def failures(self, route=None):
        return [r for r in self.records if not r.ok and (route is None or r.route == route)]

    @staticmethod
    def _stats(records, slow_ms):
        times = [r.ms for r in records]
        kinds = {}
        for r in records:
            if not r.ok:
                kinds[r.kind] = kinds.get(r.kind, 0) + 1
        hosts, versions, targets = {}, {}, {}
        for r in records:
            targets[r.target] = targets.get(r.target, 0) + 1
            if r.host:
                hosts[r.host] = hosts.get(r.host, 0) + 1
            if r.version:
                versions[r.version] = versions.get(r.version, 0) + 1
        return {
            "requests": len(records), "ok": sum(r.ok for r in records), "failed": len(records) - sum(r.ok for r in records),
            "failures_by_kind": kinds, "p50_ms": percentile(times, 0.50), "p99_ms": percentile(times, 0.99),
            "max_ms": round(max(times), 1) if times else None, "slower_than_slow_ms": sum(t > slow_ms for t in times),
            "hosts": hosts, "versions": versions, "targets": targets,
        }

    def summary(self, first_failures=50):
        with self._lock:
            records = list(self.records)
        out = {
            "target": self.target, "run_id": self.run_id, "started": self.started,
            "seconds": round((self.ended or time.time()) - self.started, 1),
            "new_connection_per_request": self.new_connection, "slow_ms": self.slow_ms,
            **self._stats(records, self.slow_ms),
            "keepalive_resets": self.keepalive_resets, "keepalive_closed": self.keepalive_closed,
            "routes": {route.name: {"method": route.method, "path": route.path, "clients": route.clients,
                                    "rate_per_client": route.rate,
                                    **self._stats([r for r in records if r.route == route.name], self.slow_ms)}
                       for route in self.routes},
            "first_failures": [{"route": r.route, "start": round(r.start, 3), "end": round(r.end, 3), "kind": r.kind,
                                "status": r.status, "detail": r.detail, "target": r.target}
                               for r in records if not r.ok][:first_failures],
        }
        if any(route.method == "POST" for route in self.routes):
            out["written"] = list(self.written)
        return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("target", nargs="?", default="", help="http(s)://host[:port] on this machine")
    parser.add_argument("--target-file", default="", help="a file naming the target for each new connection ('URL [HOST]')")
    parser.add_argument("--route", action="append", required=True, help="'NAME METHOD PATH CLIENTS RATE'")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (at most 3600)")
    parser.add_argument("--max-requests", type=int, default=100000, help="at most 1,000,000")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds for one request")
    parser.add_argument("--host-header", default="")
    parser.add_argument("--new-connection", action="store_true", help="a new connection for every request")
    parser.add_argument("--slow-ms", type=float, default=2000.0, help="count requests slower than this")
    parser.add_argument("--json", help="write the summary here instead of stdout")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 3600 or not 0 < args.max_requests <= 1_000_000:
        parser.error("--duration must be in (0, 3600] and --max-requests in (0, 1000000]")
    try:
        load = Load(args.target, args.route, duration=args.duration, max_requests=args.max_requests,
                    timeout=args.timeout, host_header=args.host_header, new_connection=args.new_connection,
                    slow_ms=args.slow_ms, target_file=args.target_file)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    # SIGINT or SIGTERM stops the run early and still writes the summary. A shell starts a
    # background job with SIGINT ignored, so both handlers are installed explicitly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: load._stop.set())
    load.start()
    while any(t.is_alive() for t in load._threads):
        time.sleep(0.2)
    load.stop()
    summary = load.summary()
    text = json.dumps(summary, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    else:
        print(text)
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
