# Helpers the bench scripts share; sourced, not run: polling with a deadline, and a process's
# CPU time and memory from /proc.

# Polls a command until it succeeds, for at most $1 seconds; $2 names what is waited for.
wait_for() {
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "$(basename "$0"): timed out waiting for $what" >&2
            exit 1
        fi
        sleep 0.05
    done
}

# utime + stime in clock ticks; VmRSS and VmHWM in kB.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
peak_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
