#!/usr/bin/env bash
# Capstan's demo: check the example policy, run its tests, replay a whole runbook day
# (examples/runbook-day.jsonl) with a schedule tick every 5 minutes and draw it as an SVG chart,
# then run the four functions for real against a local moto server: `capstan init`, every
# alarm fixture through alarm-handler, ticks, a run-time pre-event and `apply` through
# schedule-handler, AWS Budgets alerts (dated now) through budget-handler, signed `/capstan`
# commands and button clicks through slack-handler and its work queue (Slack's response_url
# played locally), what people were told, and `capstan status` with the audit.
# Needs the Rust toolchain and python3; installs moto[server] into a virtualenv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
  echo "demo.sh: cargo not found; install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
}

echo "== Building capstan"
cargo build --quiet -p capstan-cli
capstan() { cargo run --quiet -p capstan-cli -- "$@"; }

echo
echo "== capstan validate capstan.example.toml"
capstan validate capstan.example.toml

echo
echo "== capstan test capstan.example.toml"
capstan test capstan.example.toml

echo
echo "== capstan simulate capstan.example.toml examples/runbook-day.jsonl --tick 5m --chart runbook-day.svg"
capstan simulate capstan.example.toml examples/runbook-day.jsonl --tick 5m --chart runbook-day.svg

echo
echo "== The four functions against a local moto server"
. scripts/tools.sh
start_moto
export AWS_ENDPOINT_URL="$MOTO_ENDPOINT" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export CAPSTAN_TABLE=capstan-state CAPSTAN_POLICY="$(pwd)/capstan.example.toml"
echo "moto on $AWS_ENDPOINT_URL"

echo
echo "== capstan init"
capstan init

echo
echo "== alarms, schedule requests, budget alerts and /capstan on Slack -> the four functions (cargo run -p capstan-e2e --example demo)"
cargo run --quiet -p capstan-e2e --example demo 2>/dev/null | grep -v '^{'

echo
echo "== capstan status"
capstan status

echo
echo "The day's chart is $(pwd)/runbook-day.svg: open it in a browser (hover a marker for its decision)."
