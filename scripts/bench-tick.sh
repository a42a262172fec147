#!/usr/bin/env bash
# Measures schedule ticks over 500 targets against moto (350 ECS services, 50 of them with
# scalable targets, and 150 Auto Scaling groups): for the first tick, a business-hours boundary
# where every target changes, a tick with nothing to do and a tick after 10% drifted, the AWS
# calls by operation (measured by an interceptor on every client), the round trips one after
# another, the wall time and the handler's report. Each of RUNS (default 3) starts its own moto
# and seeds it. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
ensure_moto
cargo run --quiet --release -p capstan-e2e --example tick_bench -- "${1:-3}" | grep -v '^{'
