#!/usr/bin/env bash
# Checks the CDK app (infra/cdk) offline: no AWS account, no Docker, no cargo build (bundling
# skipped); the network only for `npm ci` when node_modules is missing or older than
# package-lock.json. `npm test` type-checks the app and its tests (tsc), then node's test runner
# runs infra/cdk/test/*.test.ts: the stack against infra/template.yaml (resources, parameters,
# conditions, outputs, every function and trigger, the Slack API), IAM parity with SAM per
# function, cdk-nag (AwsSolutions) with every acknowledgement checked, and how the functions are
# bundled (a stand-in cargo).
#
# When the SAM CLI's virtualenv exists (scripts/check-infra.sh makes it), the tests also compare
# their model of SAM's transform with the real translator's output. When checkov's exists
# (scripts/check-infra.sh makes that one too), checkov scans the synthesized template on disk
# as it scans infra/template.yaml: no finding, every skip with its reason (lib/checkov.ts).
#
#   bash scripts/check-cdk.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-cdk: '$tool' not found: the CDK app needs Node.js 20 or later with npm (e.g. apt-get install nodejs npm)" >&2
    exit 1
  fi
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "check-cdk: Node.js $(node --version) is too old: aws-cdk-lib needs 20 or later" >&2
  exit 1
fi

cd infra/cdk
start=$(date +%s)
# npm ci (exactly package-lock.json) unless node_modules already holds it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "check-cdk: npm ci (infra/cdk)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

tools="${CAPSTAN_TOOLS:-$HOME/.cache/capstan-tools}"
sam_python="$tools/venv/bin/python"
transformed=""
if [ -x "$sam_python" ] && "$sam_python" -c 'import samtranslator' 2>/dev/null; then
  transformed=$(mktemp)
  trap 'rm -f "$transformed"' EXIT
  "$sam_python" scripts/sam-transform.py ../template.yaml > "$transformed"
  export CAPSTAN_SAM_TRANSFORMED="$transformed"
fi

npm test --silent

# The synthesized template on disk (bundling skipped, as in the tests), for checkov.
checkov_venv="$tools/checkov-venv"
if [ -x "$checkov_venv/bin/checkov" ]; then
  assembly=$(mktemp -d)
  trap 'rm -f "$transformed"; rm -rf "$assembly"' EXIT
  CDK_VALIDATION=false node -e '
    const { buildApp } = require("./dist/lib/app");
    buildApp({ outdir: process.argv[1], context: { "aws:cdk:bundling-stacks": [] } }).app.synth();
  ' "$assembly"
  report="$assembly/checkov.json"
  status=0
  BC_SKIP_MAPPING=TRUE "$checkov_venv/bin/checkov" -f "$assembly/Capstan.template.json" \
    --framework cloudformation --skip-download --output json >"$report" || status=$?
  "$checkov_venv/bin/python" ../checkov-report.py "the CDK app's template (Capstan.template.json)" "$report" "$status" \
    "$assembly/Capstan.template.json"
else
  echo "check-cdk: checkov not installed ($checkov_venv): the synthesized template is not scanned (scripts/check-infra.sh installs it)"
fi
echo "check-cdk: infra/cdk checks passed in $(($(date +%s) - start)) s"
