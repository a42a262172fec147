#!/usr/bin/env bash
# Capstan's one test command: formatting, lints, every test of the workspace (the end-to-end
# tests run the real handlers against moto), and the offline checks of the SAM template.
# CI runs exactly this (.ci/run); run it before you push. It installs what it needs:
# the Rust toolchain's rustfmt and clippy, and moto (the AWS mock the end-to-end tests run the
# real handlers against) and the SAM CLI (scripts/check-infra.sh) into a virtualenv under
# ${CAPSTAN_TOOLS:-~/.cache/capstan-tools}.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust toolchain: rustup's, from the usual place when cargo is not on PATH.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo not found; installing the Rust toolchain with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --component rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

step() { printf '\n== %s\n' "$*"; }

# moto in server mode, for the end-to-end tests (each test starts its own on a free port).
. scripts/tools.sh
ensure_moto

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"

step "scripts/check-infra.sh (the SAM template, offline)"
bash scripts/check-infra.sh

step "scripts/check-cdk.sh (the CDK app against the SAM template, offline; needs node and npm)"
bash scripts/check-cdk.sh

# One closing line for the whole run (the last cargo line is often a doc-test run of 0 tests).
passed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')

step "all checks passed"
echo "tests: ${passed} passed, ${failed} failed"
