#!/usr/bin/env bash
# symsync end to end on the bundled emulator: validate, plan, apply, and plan again.
#
# The emulator starts from scripts/demo-remote-state.json, a Sentry that differs from configs/ in
# every way symsync knows: changed fields, a new source, a retired one, a secret to add, a source
# added by hand that is kept, and one that is deleted (unmanaged: delete). The second plan shows
# no changes. Needs nothing but `symsync` on PATH (`make demo` builds it): no Sentry, no token,
# no secret set up by hand; the emulator is stopped however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/symsync-demo.XXXXXX")
emulator_pid=
cleanup() {
  if [[ -n "$emulator_pid" ]] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy: the emulator saves its state after every write.
cp scripts/demo-remote-state.json "$work/state.json"
symsync emulator --port 0 --state "$work/state.json" >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!

url=
for _ in $(seq 1 150); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/emulator.out" | head -n 1)
  [[ -n "$url" ]] && break
  if ! kill -0 "$emulator_pid" 2>/dev/null; then
    cat "$work/emulator.log" >&2
    echo "demo: the emulator did not start" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "demo: the emulator did not start within 15 s" >&2
  exit 1
fi

export SENTRY_URL="$url"
export SENTRY_AUTH_TOKEN=symsync-emulator # the emulator's default token (project:admin)
# Demo values for the variables configs/ refers to; only apply reads them, and only where it
# has to send a value (a new source, a newly added secret).
export ACME_SYMBOLS_PASSWORD=demo-symbols-password
export ACME_S3_SECRET_KEY=demo-s3-secret-key
export ACME_GCS_PRIVATE_KEY=demo-gcs-private-key

bold= plain=
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
step() {
  printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
  "$@"
}

echo "Emulator listening on $SENTRY_URL (state: a copy of scripts/demo-remote-state.json)"
step symsync validate --config-dir configs
step symsync plan --config-dir configs
step symsync apply --config-dir configs --yes
step symsync plan --config-dir configs --detailed-exitcode
printf '\nDone: the second plan shows no changes. Stopping the emulator.\n'
