# Sourced by demo.sh, test.sh and bench-slack.sh: puts moto_server on PATH, installing
# moto[server] into a virtualenv under ${CAPSTAN_TOOLS:-~/.cache/capstan-tools} the first time
# (the same virtualenv scripts/check-infra.sh installs the SAM CLI into).
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

# Starts moto_server on a free local port in the background, stopped when the calling script
# exits; sets MOTO_ENDPOINT (http://127.0.0.1:PORT) once it answers.
start_moto() {
  ensure_moto
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto_pid=$!
  trap 'kill $moto_pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  MOTO_ENDPOINT="http://127.0.0.1:$port"
}
