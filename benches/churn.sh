#!/usr/bin/env bash
# The console's RSS idle and under churn, against the same scaled demo server twice: issue 17's
# "RSS under 1,000 watch events/s for 5 minutes ≤ 1.3× idle". Runnable by hand; not part of
# `cargo test`.
#
#   benches/churn.sh [SCALE] [CHURN] [SECONDS] [EVERY]
#   benches/churn.sh 200,20000,2000 1000 300 30     # the defaults
#   PALISADE_ARGS="--no-flows" benches/churn.sh     # the console with more flags (word-split)
#
# 1. `palisade demo --serve-only --scale SCALE`; the console (release) in a private tmux server
#    (200x50) until namespaces, pods and policies are live; after 30 s to settle, its VmRSS:
#    the idle figure.
# 2. The same with `--churn CHURN` (watch events a second: pods replaced and relabelled,
#    policies' ports toggled): VmRSS every EVERY seconds for SECONDS after live, each also as a
#    multiple of the idle figure, and the console's CPU over the whole run.
#
# Needs tmux. CARGO_TARGET_DIR is honoured (default: ./target); PALISADE_BIN names a palisade
# binary to use instead of building one.
set -euo pipefail

SCALE=${1:-200,20000,2000}
CHURN=${2:-1000}
SECONDS_UNDER=${3:-300}
EVERY=${4:-30}
SETTLE=30
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${PALISADE_BIN:-$TARGET/release/palisade}

command -v tmux >/dev/null || { echo "churn.sh: tmux is required" >&2; exit 2; }
if [[ -z ${PALISADE_BIN:-} ]]; then
    echo "building the release binary..." >&2
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
fi

WORK=$(mktemp -d)
SOCKET=palisade-churn-$$
SERVER_PID=
cleanup() {
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT


HZ=$(getconf CLK_TCK)
rss_mb() { echo $(($(rss_kb "$1") / 1000)); }
pane_text() { tmux -L "$SOCKET" capture-pane -p -t churn; }
live() { local s; s=$(pane_text); [[ $s == *"ns ● live"* && $s == *"pods ● live"* && $s == *"netpol ● live"* ]]; }

# Starts the demo server with the given extra flags and the console on it; sets PID to the
# console's once it is live.
start() {
    local kubeconfig=$WORK/kubeconfig-$RANDOM
    "$BIN" demo --serve-only --scale "$SCALE" "$@" --kubeconfig-out "$kubeconfig" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_for 600 "the demo server" test -s "$kubeconfig"
    mkdir -p "$WORK/config"
    tmux -L "$SOCKET" -f /dev/null new-session -d -s churn -x 200 -y 50 \
        "exec env XDG_CONFIG_HOME=$WORK/config $BIN --kubeconfig $kubeconfig ${PALISADE_ARGS:-}"
    wait_for 300 "the console to be live" live
    PID=$(tmux -L "$SOCKET" list-panes -t churn -F '#{pane_pid}')
}

stop() {
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

echo "idle: palisade demo --serve-only --scale $SCALE" >&2
start
sleep "$SETTLE"
IDLE_MB=$(rss_mb "$PID")
echo "idle: ${IDLE_MB} MB" >&2
stop

echo "churn: palisade demo --serve-only --scale $SCALE --churn $CHURN" >&2
start --churn "$CHURN"
T0=$(cpu_ticks "$PID")
ROWS=()
for ((at = EVERY; at <= SECONDS_UNDER; at += EVERY)); do
    sleep "$EVERY"
    MB=$(rss_mb "$PID")
    ROWS+=("$at $MB")
    echo "churn: ${at} s, ${MB} MB" >&2
done
TICKS=$(($(cpu_ticks "$PID") - T0))
stop

echo
echo "scale $SCALE, console ${PALISADE_ARGS:-with its defaults}; idle after ${SETTLE} s: ${IDLE_MB} MB"
echo "under --churn $CHURN, from live; CPU over the run: $(awk -v t="$TICKS" -v hz="$HZ" -v s="$SECONDS_UNDER" 'BEGIN { printf "%.0f %%", 100 * t / hz / s }') of one core"
echo
echo "| after | VmRSS | × idle |"
echo "|---|---|---|"
for row in "${ROWS[@]}"; do
    read -r at mb <<<"$row"
    echo "| ${at} s | ${mb} MB | $(awk -v a="$mb" -v b="$IDLE_MB" 'BEGIN { printf "%.2f", a / b }') |"
done
