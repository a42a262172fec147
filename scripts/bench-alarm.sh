#!/usr/bin/env bash
# Measures one alarm remediation against moto: the AWS calls on its critical path (how many,
# how many one after another, measured by an interceptor on every client) and the handler's
# latency over N deliveries (default 200). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
ensure_moto
cargo run --quiet --release -p capstan-e2e --example alarm_bench -- "${1:-200}" | grep -v '^{'
