#!/usr/bin/env python3
"""Cold start, latency and peak memory of the release `alarm-handler` binary, as Lambda runs it.

Plays the Lambda Runtime API on a local port (scripts/runtime_api.py), starts the binary with
the environment Lambda gives it (plus the moto endpoint given by AWS_ENDPOINT_URL, and CAPSTAN_*
settings), and measures:
  - init: from process start to its first `GET .../invocation/next` (runtime, SDK config and
    policy loaded: what Lambda bills as Init Duration, minus the sandbox itself);
  - per invocation: from handing out the event to receiving the response;
  - peak resident memory (VmHWM) after all invocations.

usage: bench-coldstart.py BINARY FIXTURE_DIR [INVOCATIONS]
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_api import RuntimeApi, percentile  # noqa: E402

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

with RuntimeApi(binary, "alarm-handler") as api:
    init = api.start()
    answers = [api.invoke(events[i % len(events)]) for i in range(count)]
    hwm = api.peak_rss_mib()
lat = [a.latency * 1000 for a in answers]
errors = sum(a.error for a in answers)
print(f"binary: {binary} ({os.path.getsize(binary) / 1e6:.1f} MB)")
print(f"init (start to first GET next): {init * 1000:.0f} ms")
print(f"first invocation: {lat[0]:.0f} ms; "
      f"then p50 {percentile(lat, 50):.1f} ms, p90 {percentile(lat, 90):.1f} ms, "
      f"max {max(lat):.1f} ms over {len(lat)} invocations ({errors} errors)")
print(f"peak memory (VmHWM): {hwm:.1f} MiB")
