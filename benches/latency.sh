#!/usr/bin/env bash
# Key-to-frame latency of the console while the demo cluster churns. Runnable by hand; not part
# of `cargo test`.
#
#   benches/latency.sh [SCALE] [CHURN] [SECONDS]
#   benches/latency.sh 200,20000,2000 1000 20      # the defaults
#
# Builds the release binary, starts `palisade demo --serve-only --scale SCALE --churn CHURN` in
# the background, starts the console on it in a private tmux server with PALISADE_TRACE_FRAMES
# set, waits until every kind is live, then sends a key press about every 100 ms for SECONDS
# seconds (j/k, tab, :matrix, enter, esc, :policies, :findings, ...). It prints the p50/p95/p99/max
# key-to-frame latency (from the batch holding the key arriving in the event loop to the end of
# terminal.draw), frames per second, and RSS and CPU of the console and of the server.
#
# Needs tmux. CARGO_TARGET_DIR is honoured (default: ./target).
set -euo pipefail

SCALE=${1:-200,20000,2000}
CHURN=${2:-1000}
DURATION=${3:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/palisade

command -v tmux >/dev/null || { echo "latency.sh: tmux is required" >&2; exit 2; }
echo "building the release binary..." >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"

WORK=$(mktemp -d)
KUBECONFIG_FILE=$WORK/kubeconfig
TRACE=$WORK/frames.trace
SOCKET=palisade-latency-$$
SERVER_PID=
cleanup() {
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT



echo "starting: palisade demo --serve-only --scale $SCALE --churn $CHURN" >&2
"$BIN" demo --serve-only --scale "$SCALE" --churn "$CHURN" --kubeconfig-out "$KUBECONFIG_FILE" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for 300 "the demo server" test -s "$KUBECONFIG_FILE"

mkdir -p "$WORK/config"
tmux -L "$SOCKET" -f /dev/null new-session -d -s latency -x 200 -y 50 \
    "exec env XDG_CONFIG_HOME=$WORK/config PALISADE_TRACE_FRAMES=$TRACE $BIN --kubeconfig $KUBECONFIG_FILE"
CONSOLE_PID=$(tmux -L "$SOCKET" list-panes -t latency -F '#{pane_pid}')
pane_text() { tmux -L "$SOCKET" capture-pane -p -t latency; }
live() { local s; s=$(pane_text); [[ $s == *"ns ● live"* && $s == *"pods ● live"* && $s == *"netpol ● live"* ]]; }
wait_for 120 "the console to be live" live
LIVE_RSS=$(rss_kb "$CONSOLE_PID")
echo "console live; sending keys for ${DURATION}s" >&2

# Each entry is one step, sent 100 ms apart; multi-character entries are typed at once.
STEPS=(j j j k tab j tab ":matrix" Enter j l j Escape ":policies" Enter j j k ":findings" Enter j
    Escape Escape Escape k j)
key() {
    case $1 in
        :*) tmux -L "$SOCKET" send-keys -t latency -l "$1" ;;
        *) tmux -L "$SOCKET" send-keys -t latency "$1" ;;
    esac
}

touch "$TRACE"
SKIP=$(wc -l <"$TRACE")
CONSOLE_CPU0=$(cpu_ticks "$CONSOLE_PID")
SERVER_CPU0=$(cpu_ticks "$SERVER_PID")
START_NS=$(date +%s%N)
END=$((SECONDS + DURATION))
i=0
while ((SECONDS < END)); do
    key "${STEPS[i % ${#STEPS[@]}]}"
    i=$((i + 1))
    sleep 0.1
done
ELAPSED_MS=$((($(date +%s%N) - START_NS) / 1000000))
CONSOLE_CPU=$(($(cpu_ticks "$CONSOLE_PID") - CONSOLE_CPU0))
SERVER_CPU=$(($(cpu_ticks "$SERVER_PID") - SERVER_CPU0))
CONSOLE_RSS=$(rss_kb "$CONSOLE_PID")
CONSOLE_PEAK=$(peak_kb "$CONSOLE_PID")
SERVER_RSS=$(rss_kb "$SERVER_PID")
HZ=$(getconf CLK_TCK)

tail -n +"$((SKIP + 1))" "$TRACE" >"$WORK/run.trace"
FRAMES=$(wc -l <"$WORK/run.trace")
awk '$4 == 1 { print $2 }' "$WORK/run.trace" | sort -n >"$WORK/keys.us"
KEY_FRAMES=$(wc -l <"$WORK/keys.us")
percentile() {
    awk -v p="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int((NR * p + 99) / 100); if (i < 1) i = 1; if (i > NR) i = NR
        printf "%.1f", v[i] / 1000 }' "$WORK/keys.us"
}
MSGS=$(awk '{ m += $3 } END { print m + 0 }' "$WORK/run.trace")

echo
echo "scale $SCALE, churn $CHURN events/s, ${ELAPSED_MS} ms of keys ($i steps sent)"
echo
echo "| measure | result |"
echo "|---|---|"
echo "| key-to-frame p50 / p95 / p99 / max (ms) | $(percentile 50) / $(percentile 95) / $(percentile 99) / $(percentile 100) |"
echo "| frames with a key press | $KEY_FRAMES |"
echo "| frames per second | $(awk -v f="$FRAMES" -v t="$ELAPSED_MS" 'BEGIN { printf "%.1f", f * 1000 / t }') |"
echo "| messages applied per second | $(awk -v m="$MSGS" -v t="$ELAPSED_MS" 'BEGIN { printf "%.0f", m * 1000 / t }') |"
echo "| console RSS when live / at the end / peak (VmHWM) | $((LIVE_RSS / 1024)) / $((CONSOLE_RSS / 1024)) / $((CONSOLE_PEAK / 1024)) MB |"
echo "| console CPU | $(awk -v c="$CONSOLE_CPU" -v hz="$HZ" -v t="$ELAPSED_MS" 'BEGIN { printf "%.0f %% of a core", c / hz * 100000 / t }') |"
echo "| server RSS at the end | $((SERVER_RSS / 1024)) MB |"
echo "| server CPU | $(awk -v c="$SERVER_CPU" -v hz="$HZ" -v t="$ELAPSED_MS" 'BEGIN { printf "%.0f %% of a core", c / hz * 100000 / t }') |"
