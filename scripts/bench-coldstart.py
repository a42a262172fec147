#!/usr/bin/env python3
"""Cold start, latency and peak memory of the release `alarm-handler` binary, as Lambda runs it.

Plays the Lambda Runtime API on a local port, starts the binary with the environment Lambda
gives it (plus the moto endpoint given by AWS_ENDPOINT_URL, and CAPSTAN_* settings), and
measures:
  - init: from process start to its first `GET .../invocation/next` (runtime, SDK config and
    policy loaded: what Lambda bills as Init Duration, minus the sandbox itself);
  - per invocation: from handing out the event to receiving the response;
  - peak resident memory (VmHWM) after all invocations.

usage: bench-coldstart.py BINARY FIXTURE_DIR [INVOCATIONS]
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid

binary, fixture_dir = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 50
names = [
    "alarm-eventbridge-state-change.json",
    "alarm-lambda-action.json",
    "alarm-sns-single-metric.json",
    "alarm-sns-metric-math.json",
    "alarm-composite-lambda-action.json",
]
events = [open(os.path.join(fixture_dir, n)).read() for n in names]
state = {"served": 0, "sent_at": None, "first_next": None, "latencies": [], "errors": 0}
done = threading.Event()


class Api(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if state["first_next"] is None:
            state["first_next"] = time.perf_counter()
        if state["served"] >= count:
            done.set()
            time.sleep(30)  # the process is measured, then killed, while it waits here
            return
        body = events[state["served"] % len(events)].encode()
        state["served"] += 1
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:alarm-handler")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        state["sent_at"] = time.perf_counter()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        state["latencies"].append(time.perf_counter() - state["sent_at"])
        if self.path.endswith("/error"):
            state["errors"] += 1
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    "AWS_LAMBDA_FUNCTION_NAME": "alarm-handler",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "WARN",
})
started = time.perf_counter()
proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if not done.wait(120):
    proc.kill()
    sys.exit(f"the function did not finish {count} invocations in 120 s (served {state['served']})")
with open(f"/proc/{proc.pid}/status") as f:
    hwm = next(l.split()[1] for l in f if l.startswith("VmHWM"))
proc.kill()
lat = sorted(state["latencies"])
ms = lambda s: s * 1000
print(f"binary: {binary} ({os.path.getsize(binary) / 1e6:.1f} MB)")
print(f"init (start to first GET next): {ms(state['first_next'] - started):.0f} ms")
print(f"first invocation: {ms(state['latencies'][0]):.0f} ms; "
      f"then p50 {ms(lat[len(lat) // 2]):.1f} ms, p90 {ms(lat[len(lat) * 9 // 10]):.1f} ms, "
      f"max {ms(lat[-1]):.1f} ms over {len(lat)} invocations ({state['errors']} errors)")
print(f"peak memory (VmHWM): {int(hwm) / 1024:.1f} MiB")
