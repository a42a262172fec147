#!/usr/bin/env bash
# Checks the deployment offline (no AWS account, credentials or network beyond PyPI):
#   1. `sam validate --lint` on infra/template.yaml (the SAM translator's checks and cfn-lint);
#   2. infra/lint-transformed.py: cfn-lint on the CloudFormation the SAM transform makes of it,
#      which also checks every IAM action name (cfn-lint skips that on SAM templates);
#   3. cfn-lint on infra/spoke.yaml, the role Capstan assumes in each target account;
#   4. infra/check-slack-manifest.py: the Slack app manifest (infra/slack-manifest.yaml) has the
#      shape Slack accepts, asks for the `commands` scope only, and points at the template's
#      two routes;
#   5. checkov (an infrastructure-as-code scanner) over infra/template.yaml and infra/spoke.yaml,
#      offline: no finding may fail, and every check a template skips must say why
#      (Metadata: checkov: skip: - id, comment);
#   6. the policy the PolicyLayer ships (infra/policy/capstan.toml): `capstan validate` and
#      `capstan test`.
#
#   bash scripts/check-infra.sh           # validate and lint the template
#   bash scripts/check-infra.sh --build   # also `sam build` every function (installs cargo-lambda)
#
# When `sam` is not on PATH, the SAM CLI is installed once into a virtualenv under
# ${CAPSTAN_TOOLS:-$HOME/.cache/capstan-tools}/venv and reused from there (cache that directory
# in CI). The versions are pinned: changing a pin below reinstalls on the next run. checkov gets
# a virtualenv of its own beside it (${CAPSTAN_TOOLS}/checkov-venv): it pins boto3 and packaging
# to versions the SAM CLI cannot run with, so in one virtualenv each would break the other.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
CHECKOV_VERSION="3.3.30"

tools="${CAPSTAN_TOOLS:-$HOME/.cache/capstan-tools}"
venv="$tools/venv"
checkov_venv="$tools/checkov-venv"

# Offline and quiet: no telemetry, no update check, no prompts.
export SAM_CLI_TELEMETRY=0
export SAM_CLI_DISABLE_VERSION_CHECK=1 # older/newer CLIs ignore what they do not know
export AWS_EC2_METADATA_DISABLED=true

step() { printf '\n== %s\n' "$*"; }

# pip_pin PACKAGE VERSION [VENV]: install PACKAGE==VERSION into the venv (default: $venv)
# unless it is already there.
pip_pin() {
  local have into="${3:-$venv}"
  have=$("$into/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p' || true)
  if [ "$have" != "$2" ]; then
    echo "check-infra: installing $1==$2 into $into" >&2
    "$into/bin/python" -m pip install --quiet --disable-pip-version-check "$1==$2"
  fi
}

ensure_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "check-infra: creating the virtualenv $venv" >&2
    mkdir -p "$tools"
    python3 -m venv "$venv"
  fi
  export PATH="$venv/bin:$PATH"
}

if command -v sam >/dev/null 2>&1; then
  sam="$(command -v sam)"
else
  ensure_venv
  pip_pin aws-sam-cli "$SAM_CLI_VERSION"
  sam="$venv/bin/sam"
fi

step "sam validate --lint (infra/template.yaml)"
"$sam" --version
"$sam" validate --lint --template infra/template.yaml --region us-east-1

step "cfn-lint on the transformed template (IAM action names too)"
# The python that runs `sam` has the SAM translator and cfn-lint; else the virtualenv's.
sam_python="$(dirname "$sam")/python"
if ! { [ -x "$sam_python" ] && "$sam_python" -c 'import samtranslator, cfnlint' 2>/dev/null; }; then
  ensure_venv
  pip_pin aws-sam-cli "$SAM_CLI_VERSION"
  sam_python="$venv/bin/python"
fi
"$sam_python" infra/lint-transformed.py infra/template.yaml

step "cfn-lint on the spoke role (infra/spoke.yaml, IAM action names too)"
"$(dirname "$sam_python")/cfn-lint" --regions us-east-1 -- infra/spoke.yaml
echo "infra/spoke.yaml: cfn-lint clean"

step "the Slack app manifest (infra/slack-manifest.yaml)"
"$sam_python" infra/check-slack-manifest.py infra/slack-manifest.yaml infra/template.yaml

step "checkov $CHECKOV_VERSION (infra/template.yaml, infra/spoke.yaml; offline)"
if [ ! -x "$checkov_venv/bin/python" ]; then
  echo "check-infra: creating the virtualenv $checkov_venv" >&2
  mkdir -p "$tools"
  python3 -m venv "$checkov_venv"
fi
pip_pin checkov "$CHECKOV_VERSION" "$checkov_venv"
# Offline: no download from the platform (--skip-download), no mapping fetch (BC_SKIP_MAPPING).
export BC_SKIP_MAPPING=TRUE
for scanned in infra/template.yaml infra/spoke.yaml; do
  report=$(mktemp)
  status=0
  "$checkov_venv/bin/checkov" -f "$scanned" --framework cloudformation --skip-download \
    --output json >"$report" || status=$?
  "$checkov_venv/bin/python" infra/checkov-report.py "$scanned" "$report" "$status" "$scanned" ||
    { rm -f "$report"; exit 1; }
  rm -f "$report"
done

step "the shipped policy: capstan validate + capstan test (infra/policy/capstan.toml)"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo run --quiet -p capstan-cli -- validate infra/policy/capstan.toml
cargo run --quiet -p capstan-cli -- test infra/policy/capstan.toml

if [ "${1:-}" = "--build" ]; then
  # cargo-lambda (and the zig it links with) from PyPI, into the same virtualenv.
  ensure_venv
  command -v cargo-lambda >/dev/null 2>&1 || pip_pin cargo-lambda "$CARGO_LAMBDA_VERSION"
  # The functions run on Graviton (arm64): the Rust standard library for that target.
  if command -v rustup >/dev/null 2>&1 &&
    ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
  step "sam build (cargo lambda, arm64)"
  start=$(date +%s)
  "$sam" build --template infra/template.yaml --beta-features --build-dir .aws-sam/build
  echo "check-infra: sam build took $(($(date +%s) - start)) s"
  # Each function's bootstrap, deflated as `sam package` uploads it.
  for bootstrap in .aws-sam/build/*Function/bootstrap; do
    [ -f "$bootstrap" ] || continue
    zipped=$(python3 -c 'import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))' "$bootstrap")
    fn=$(basename "$(dirname "$bootstrap")")
    echo "check-infra: $fn bootstrap $(stat -c %s "$bootstrap") bytes, zipped ${zipped} bytes"
  done
fi

step "infra checks passed"
