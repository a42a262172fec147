#!/usr/bin/env bash
# Times Slack's acknowledgement (cold and warm, `status` and `scale`, and with every AWS call
# held 5 s) and the Slack worker's jobs, through the Lambda Runtime API against a local moto
# server: builds the release slack-handler, starts moto, creates the state table (capstan init),
# then scripts/bench-slack-ack.py seeds the example policy's resources and the work queue and
# measures. Prints a table; the numbers go to bench/slack-ack.json.
#
#     scripts/bench-slack.sh [bench-slack-ack.py options: --cold N --warm N --jobs N ...]
#
# Needs the Rust toolchain and python3; installs moto[server] into a virtualenv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
. scripts/tools.sh

echo "== building slack-handler (release) and capstan" >&2
cargo build --quiet --release -p slack-handler
cargo build --quiet -p capstan-cli
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

start_moto
endpoint="$MOTO_ENDPOINT"

AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  "$target/debug/capstan" init --table capstan-state >&2

mkdir -p bench
python3 scripts/bench-slack-ack.py "$target/release/slack-handler" \
  --endpoint "$endpoint" --policy capstan.example.toml --table capstan-state \
  --out bench/slack-ack.json "$@"
