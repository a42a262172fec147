#!/usr/bin/env bash
# How lean the four functions are, so that a regression shows: for each of alarm-handler,
# schedule-handler, budget-handler and slack-handler, the arm64 zip as `sam build` / cargo-lambda
# makes it (`cargo lambda build --release --arm64 --output-format zip`), the x86_64 release
# binary, and, run as Lambda runs it (scripts/runtime_api.py, against a local moto server), the
# init time (process start to its first `GET next`) and peak RSS (VmHWM); plus the same for a
# naive Python/boto3 alarm function (scripts/bench/naive_alarm.py, a comparison baseline only)
# in the same run, and the ratio of their init times. Numbers to bench/lean.json.
#
#     scripts/bench-lean.sh [scripts/bench/lean.py options: --cold N --invocations N --only F,G]
#
# A benchmark, never a test: not run by scripts/test.sh, asserts nothing about time.
# Installs what it needs: the aarch64 Rust target, cargo-lambda (pip, into the tools
# virtualenv) if missing, moto[server] (scripts/tools.sh). BENCH_LEAN_NO_ARM64=1 skips the
# arm64 zips (no cross toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
. scripts/tools.sh
tools="${CAPSTAN_TOOLS:-$HOME/.cache/capstan-tools}"
functions=(alarm-handler schedule-handler budget-handler slack-handler)
packages=()
for f in "${functions[@]}"; do packages+=(-p "$f"); done

if [ "${BENCH_LEAN_NO_ARM64:-}" != 1 ]; then
  if ! command -v cargo-lambda >/dev/null 2>&1; then
    if [ ! -x "$tools/venv/bin/cargo-lambda" ]; then
      echo "installing cargo-lambda into $tools/venv" >&2
      [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
      "$tools/venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda
    fi
    export PATH="$tools/venv/bin:$PATH"
  fi
  rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
  echo "== cargo lambda build --release --arm64 --output-format zip" >&2
  cargo lambda build --quiet --release --arm64 --output-format zip "${packages[@]}" >&2
fi
echo "== cargo build --release (x86_64)" >&2
cargo build --quiet --release "${packages[@]}"
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

# A python3 with boto3 (moto's), for the seeding and the naive baseline.
ensure_moto
py=python3
if ! python3 -c 'import boto3' 2>/dev/null; then
  if [ ! -x "$tools/venv/bin/python" ] || ! "$tools/venv/bin/python" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  py="$tools/venv/bin/python"
fi
start_moto

mkdir -p bench
"$py" scripts/bench/lean.py --endpoint "$MOTO_ENDPOINT" --policy capstan.example.toml \
  --fixtures tests/fixtures/aws-events --target-dir "$target" --out bench/lean.json "$@"
