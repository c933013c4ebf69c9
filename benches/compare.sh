#!/usr/bin/env bash
# Palisade beside other clients on the same scaled demo server: time to data, RSS and idle CPU,
# side by side, with ratios (what counts on a shared machine). Runnable by hand; not part of
# `cargo test`.
#
#   benches/compare.sh [SCALE] [SETTLE_SECONDS] [IDLE_SECONDS]
#   benches/compare.sh 200,20000,2000 30 10       # the defaults
#   PALISADE_ARGS="--no-metrics" benches/compare.sh   # palisade with more flags (word-split)
#
# Starts `palisade demo --serve-only --scale SCALE` once, then runs each client against it, one
# after another, never two at once:
#   - palisade, the console, in a private tmux server (200x50), until the status bar says
#     namespaces, pods and policies are all live;
#   - `kubectl get pods -A -w`, until the first full list is printed (one line per pod and a
#     header; the pod count is asked first with a one-item list);
#   - kdash, when it is on PATH (`cargo install kdash`), in tmux, until a generated pod's name is
#     on its screen.
# For each: the time from launch to data; then, after SETTLE_SECONDS (palisade analyses and
# scrapes its first rounds after it is live), the CPU time (utime + stime from /proc/PID/stat)
# over IDLE_SECONDS as a share of one core, and the RSS (VmRSS) at the end.
#
# Needs tmux and kubectl. CARGO_TARGET_DIR is honoured (default: ./target); PALISADE_BIN names
# a palisade binary to use instead of building one.
set -euo pipefail

SCALE=${1:-200,20000,2000}
SETTLE=${2:-30}
IDLE=${3:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${PALISADE_BIN:-$TARGET/release/palisade}

command -v tmux >/dev/null || { echo "compare.sh: tmux is required" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "compare.sh: kubectl is required" >&2; exit 2; }
if [[ -z ${PALISADE_BIN:-} ]]; then
    echo "building the release binary..." >&2
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
fi

WORK=$(mktemp -d)
KUBECONFIG_FILE=$WORK/kubeconfig
SOCKET=palisade-compare-$$
SERVER_PID=
CLIENT_PID=
cleanup() {
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    if [[ -n $CLIENT_PID ]]; then kill "$CLIENT_PID" 2>/dev/null || true; fi
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT


HZ=$(getconf CLK_TCK)
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "starting: palisade demo --serve-only --scale $SCALE" >&2
START=$(now_ms)
"$BIN" demo --serve-only --scale "$SCALE" --kubeconfig-out "$KUBECONFIG_FILE" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for 600 "the demo server" test -s "$KUBECONFIG_FILE"
SERVER_START_MS=$(($(now_ms) - START))
PODS=$(kubectl --kubeconfig "$KUBECONFIG_FILE" get --raw '/api/v1/pods?limit=1' |
    sed -n 's/.*"remainingItemCount":\([0-9]*\).*/\1/p')
PODS=$((${PODS:-0} + 1))
echo "server up in ${SERVER_START_MS} ms, $PODS pods, RSS $(($(rss_kb "$SERVER_PID") / 1000)) MB" >&2

# Results, one line per client: name, ms to data, RSS kB, idle ticks.
RESULTS=()

# After data is shown: settle, CPU over the idle period, then RSS; appends the result line.
idle_figures() {
    local name=$1 pid=$2 ms=$3 t0 ticks rss
    sleep "$SETTLE"
    t0=$(cpu_ticks "$pid")
    sleep "$IDLE"
    ticks=$(($(cpu_ticks "$pid") - t0))
    rss=$(rss_kb "$pid")
    RESULTS+=("$name $ms $rss $ticks")
    echo "$name: data in $ms ms, RSS $((rss / 1000)) MB" >&2
}

# A client in the private tmux server; prints its pid.
tmux_client() {
    tmux -L "$SOCKET" -f /dev/null new-session -d -s compare -x 200 -y 50 "$1"
    tmux -L "$SOCKET" list-panes -t compare -F '#{pane_pid}'
}
pane_text() { tmux -L "$SOCKET" capture-pane -p -t compare; }

mkdir -p "$WORK/config"
START=$(now_ms)
PID=$(tmux_client "exec env XDG_CONFIG_HOME=$WORK/config $BIN --kubeconfig $KUBECONFIG_FILE ${PALISADE_ARGS:-}")
palisade_live() { local s; s=$(pane_text); [[ $s == *"ns ● live"* && $s == *"pods ● live"* && $s == *"netpol ● live"* ]]; }
wait_for 300 "palisade to be live" palisade_live
idle_figures palisade "$PID" $(($(now_ms) - START))
tmux -L "$SOCKET" kill-server

START=$(now_ms)
kubectl --kubeconfig "$KUBECONFIG_FILE" get pods -A -w >"$WORK/kubectl.out" 2>"$WORK/kubectl.err" &
CLIENT_PID=$!
kubectl_listed() { (($(wc -l <"$WORK/kubectl.out") >= PODS + 1)); }
wait_for 300 "kubectl's first list" kubectl_listed
idle_figures "kubectl_get_pods_-A_-w" "$CLIENT_PID" $(($(now_ms) - START))
kill "$CLIENT_PID" 2>/dev/null || true
wait "$CLIENT_PID" 2>/dev/null || true
CLIENT_PID=

if command -v kdash >/dev/null; then
    START=$(now_ms)
    PID=$(tmux_client "exec env KUBECONFIG=$KUBECONFIG_FILE kdash")
    # Generated workloads are named svc-NNN; their pods appear once kdash has listed them.
    kdash_data() { [[ $(pane_text) == *svc-0* ]]; }
    wait_for 300 "kdash to show pods" kdash_data
    idle_figures kdash "$PID" $(($(now_ms) - START))
    tmux -L "$SOCKET" kill-server
else
    echo "kdash is not installed (cargo install kdash): skipped" >&2
fi

echo
echo "scale $SCALE ($PODS pods), one client at a time against the same demo server; CPU over ${IDLE} s after ${SETTLE} s, RSS after that"
[[ -n ${PALISADE_ARGS:-} ]] && echo "palisade run with: $PALISADE_ARGS"
echo
echo "| client | data on screen | × palisade | RSS | × palisade | CPU (share of one core) |"
echo "|---|---|---|---|---|---|"
read -r _ BASE_MS BASE_RSS _ <<<"${RESULTS[0]}"
for line in "${RESULTS[@]}"; do
    read -r name ms rss ticks <<<"$line"
    awk -v n="$name" -v ms="$ms" -v rss="$rss" -v t="$ticks" -v bms="$BASE_MS" -v brss="$BASE_RSS" \
        -v hz="$HZ" -v idle="$IDLE" 'BEGIN {
        gsub("_", " ", n)
        printf "| %s | %.2f s | %.1f | %.0f MB | %.1f | %.1f%% |\n",
            n, ms / 1000, ms / bms, rss / 1000, rss / brss, t / hz / idle * 100 }'
done
