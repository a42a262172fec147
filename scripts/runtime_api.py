"""The AWS Lambda Runtime API played on a local port, for the benchmarks of the release binaries.

A `RuntimeApi` serves one function process, as Lambda's sandbox does: `start()` launches the
binary with the environment Lambda gives a function (plus the caller's) and returns its init
time, from process start to its first `GET .../invocation/next` (what Lambda reports as Init
Duration, less the sandbox itself); `invoke(event)` hands one event out and returns an
`Invocation`: the time from handing the event out to receiving the function's response, and the
response. Requests to any other path (a function's webhook, such as a Slack `response_url`,
pointed at `api.url`) are recorded in `api.posts` and answered 200.

`SlowProxy` forwards HTTP to an endpoint (moto) after a fixed delay: point AWS_ENDPOINT_URL at
it to see what a function does when AWS answers slowly.

Used by bench-coldstart.py and bench-slack-ack.py. Python 3's standard library only.
"""
import http.client
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

RUNTIME = "/2018-06-01/runtime"


class Invocation:
    """One event handed out and its answer."""

    def __init__(self, request_id, payload):
        self.request_id = request_id
        self.payload = payload
        self.sent_at = None
        self.answered_at = None
        self.body = None
        self.error = False
        self.done = threading.Event()

    @property
    def latency(self):
        """Seconds from handing the event out to receiving the response."""
        return self.answered_at - self.sent_at

    def json(self):
        """The response, parsed."""
        return json.loads(self.body or b"null")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A process killed mid-request (the end of a run, a caller giving up) is no error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive, as Lambda's Runtime API, and no Nagle: a response's headers and body are two
    # writes, and the second must not wait for the client's delayed ACK (40 ms).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


def _reply(handler, status, body=b"", headers=()):
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _read_body(handler):
    return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))


class RuntimeApi:
    """The Runtime API for one process of `binary`, named `function` (its ARN, its log)."""

    def __init__(self, binary, function, memory_mb=256, timeout_s=30):
        self.binary = binary
        self.function = function
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.proc = None
        self.first_next = None
        self.init_error = None
        self.posts = []
        self._ready = threading.Event()
        self._events = queue.Queue()
        self._pending = {}
        self._closing = False
        api = self

        class Handler(_Handler):
            def do_GET(self):
                if self.path == f"{RUNTIME}/invocation/next":
                    api._next(self)
                else:
                    _reply(self, 404)

            def do_POST(self):
                body = _read_body(self)
                now = time.perf_counter()
                if self.path.startswith(f"{RUNTIME}/invocation/"):
                    api._answered(self.path, body, now)
                    _reply(self, 202)
                elif self.path == f"{RUNTIME}/init/error":
                    api.init_error = body.decode(errors="replace")
                    api._ready.set()
                    _reply(self, 202)
                else:
                    api.posts.append((self.path, body, now))
                    _reply(self, 200, b"ok")

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.address}"

    def _next(self, handler):
        if self.first_next is None:
            self.first_next = time.perf_counter()
            self._ready.set()
        while True:
            try:
                inv = self._events.get(timeout=0.5)
                break
            except queue.Empty:
                if self._closing:
                    return
        body = inv.payload
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function}"
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + self.timeout_s * 1000)),
            ("Lambda-Runtime-Invoked-Function-Arn", arn),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
            ("Content-Type", "application/json"),
        ]
        inv.sent_at = time.perf_counter()
        _reply(handler, 200, body, headers)

    def _answered(self, path, body, now):
        parts = path[len(f"{RUNTIME}/invocation/"):].split("/")
        inv = self._pending.pop(parts[0], None)
        if inv is None:
            return
        inv.answered_at = now
        inv.body = body
        inv.error = parts[-1] == "error"
        inv.done.set()

    def start(self, env=None, wait_s=120, log=None):
        """Starts the process; returns its init time in seconds (start to first `next`).

        Its stderr (the function's log) goes to the file `log`, appended, or nowhere.
        """
        full = dict(os.environ)
        full.update(env or {})
        full.update({
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "AWS_LAMBDA_FUNCTION_NAME": self.function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": full.get("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        })
        with open(log or os.devnull, "ab") as err:
            started = time.perf_counter()
            self.proc = subprocess.Popen([self.binary], env=full, stdout=err, stderr=err)
        deadline = started + wait_s
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.function} exited with {self.proc.returncode} "
                                   f"before asking for an event")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.function} did not ask for an event in {wait_s} s")
        if self.init_error is not None:
            raise RuntimeError(f"{self.function} failed its init: {self.init_error}")
        return self.first_next - started

    def invoke(self, event, wait_s=60):
        """Hands `event` (bytes, str or a JSON value) out and waits for its answer."""
        if isinstance(event, str):
            event = event.encode()
        elif not isinstance(event, bytes):
            event = json.dumps(event).encode()
        inv = Invocation(str(uuid.uuid4()), event)
        self._pending[inv.request_id] = inv
        self._events.put(inv)
        if not inv.done.wait(wait_s):
            code = self.proc.poll()
            raise RuntimeError(f"{self.function} did not answer in {wait_s} s"
                               + (f" (it exited with {code})" if code is not None else ""))
        return inv

    def peak_rss_mib(self):
        """The process's peak resident memory (VmHWM), in MiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            kib = next(line.split()[1] for line in f if line.startswith("VmHWM"))
        return int(kib) / 1024

    def stop(self):
        """Kills the process (it is waiting for its next event) and closes the port."""
        self._closing = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SlowProxy:
    """Forwards every HTTP request to `upstream` (http://host:port) after `delay_s` seconds.

    A caller that gives up meanwhile has its request forwarded all the same, as a slow AWS
    would still carry it out.
    """

    def __init__(self, upstream, delay_s):
        target = urllib.parse.urlsplit(upstream)
        self.delay_s = delay_s
        self.calls = 0
        proxy = self

        class Handler(_Handler):
            def forward(self):
                body = _read_body(self)
                proxy.calls += 1
                time.sleep(proxy.delay_s)
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                skip = ("connection", "keep-alive", "transfer-encoding", "content-length")
                try:
                    _reply(self, answer.status, data,
                           [(k, v) for k, v in answer.getheaders() if k.lower() not in skip])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        """Closes the port."""
        self.server.shutdown()
        self.server.server_close()


def percentile(values, p):
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[min(len(ordered), int(rank)) - 1]


def summary(seconds):
    """n, p50, p99, max and mean of durations in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
    }
