#!/usr/bin/env bash
# The console's cost of flows, end to end: the same demo cluster, its simulated Hubble Relay
# sending RATE flows per second, and the console once with flows on (reading that relay) and
# once with --no-flows. Runnable by hand; not part of `cargo test`.
#
#   benches/flows_console.sh [RATE] [SECONDS]
#   benches/flows_console.sh 5000 120            # the defaults
#
# For each run: the console starts in a private tmux server on the `:flows` screen (the one
# that draws the most flow rows), warms up 20 s, then its CPU time (utime + stime from
# /proc/PID/stat) is taken over SECONDS seconds, and its RSS at the end. The difference between
# the two runs is what flows cost the console. Needs tmux. CARGO_TARGET_DIR is honoured.
set -euo pipefail

RATE=${1:-5000}
DURATION=${2:-120}
WARMUP=20
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/palisade

command -v tmux >/dev/null || { echo "flows_console.sh: tmux is required" >&2; exit 2; }
echo "building the release binary..." >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"

WORK=$(mktemp -d)
SOCKET=palisade-flows-$$
SERVER_PID=
cleanup() {
    tmux -L "$SOCKET-on" kill-server 2>/dev/null || true
    tmux -L "$SOCKET-off" kill-server 2>/dev/null || true
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" demo --serve-only --flow-rate "$RATE" --agent-lag none \
    --kubeconfig-out "$WORK/kubeconfig" >"$WORK/server.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [[ -s $WORK/kubeconfig ]] && break; sleep 0.1; done
RELAY=$(sed -n 's/^simulated Hubble Relay (plain gRPC) listening on \([0-9.:]*\);.*/\1/p' "$WORK/server.out")
[[ -n $RELAY ]] || { echo "no relay address in the server's output" >&2; cat "$WORK/server.out" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

measure() {
    local label=$1 socket=$2; shift 2
    tmux -L "$socket" -f /dev/null new-session -d -x 200 -y 50 \
        "$BIN" --kubeconfig "$WORK/kubeconfig" --no-metrics "$@"
    local pid=""
    for _ in $(seq 1 100); do
        pid=$(pgrep -n -f "$BIN --kubeconfig $WORK/kubeconfig" || true)
        [[ -n $pid ]] && break
        sleep 0.1
    done
    [[ -n $pid ]] || { echo "the console did not start" >&2; exit 1; }
    sleep 2
    tmux -L "$socket" send-keys ":" && tmux -L "$socket" send-keys -l "flows" && tmux -L "$socket" send-keys Enter
    sleep "$WARMUP"
    local t0; t0=$(cpu_ticks "$pid")
    sleep "$DURATION"
    local t1; t1=$(cpu_ticks "$pid")
    local cpu; cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$ticks" -v s="$DURATION" 'BEGIN {printf "%.1f", (b - a) / hz / s * 100}')
    printf '| %s | %s | %s%% | %s MB |\n' "$label" "$RATE" "$cpu" "$(rss_mb "$pid")"
    tmux -L "$socket" kill-server 2>/dev/null || true
}

echo "| console | relay flows/s | CPU (share of one core) | RSS at the end |"
echo "|---|---|---|---|"
measure "flows on (--hubble-relay)" "$SOCKET-on" --hubble-relay "$RELAY"
measure "--no-flows" "$SOCKET-off" --no-flows
