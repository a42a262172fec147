#!/usr/bin/env bash
# Capstan's demo: check the example policy, run its tests, then replay a whole runbook day
# (examples/runbook-day.jsonl) with a schedule tick every 5 minutes and draw it as an SVG chart.
# Needs only the Rust toolchain; builds the `capstan` command first.
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
echo "The day's chart is $(pwd)/runbook-day.svg: open it in a browser (hover a marker for its decision)."
