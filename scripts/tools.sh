# Sourced by demo.sh and test.sh: puts moto_server on PATH, installing moto[server] into a
# virtualenv under ${CAPSTAN_TOOLS:-~/.cache/capstan-tools} the first time (the same virtualenv
# scripts/check-infra.sh installs the SAM CLI into).
MOTO_VERSION="5.2.1"

ensure_moto() {
  command -v moto_server >/dev/null 2>&1 && return 0
  local tools="${CAPSTAN_TOOLS:-$HOME/.cache/capstan-tools}"
  if [ ! -x "$tools/venv/bin/moto_server" ]; then
    echo "installing moto[server]==$MOTO_VERSION into $tools/venv" >&2
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  export PATH="$tools/venv/bin:$PATH"
}
