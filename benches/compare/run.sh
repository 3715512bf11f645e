#!/usr/bin/env bash
# Side-by-side benchmark of eddy-server and redis-server on this machine.
#
# Starts both servers on free loopback ports with temporary data directories and the same
# appendfsync, runs identical loads against both (redis-benchmark where it can express the
# load, eddy-load where it cannot), stops both by PID and prints a Markdown table of
# median [min-max] per figure. See benches/compare/README.md.
#
#   benches/compare/run.sh --quick          # under 5 minutes on 2 cores
#   benches/compare/run.sh                  # full: more requests, 5 runs, 10M-entry restart
#   EDDY_SERVER=/path/to/eddy-server benches/compare/run.sh --quick
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
MODE=full
RUNS=
OUT=
KEEP=0
EDDY=${EDDY_SERVER:-}
EDDY_ARGS=${EDDY_ARGS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
XADD_TOOL=${XADD_TOOL:-redis-benchmark}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-900}   # seconds one load may take before it counts as failed

usage() {
    cat <<'EOF'
usage: benches/compare/run.sh [--quick|--full] [--runs N] [--eddy PATH|none] [--out FILE] [--keep]

  --quick        smaller loads, 3 runs, 1M-entry memory/restart: under 5 minutes on 2 cores
  --full         (default) larger loads, 5 runs, plus the 10M-entry restart
  --smoke        tiny loads that check the harness itself in about a minute
  --runs N       runs per figure (at least 3; the table shows the median, min and max)
  --eddy PATH    eddy-server binary (default: $EDDY_SERVER, else built from this workspace
                 with cargo build --release --bin eddy-server); "none" measures Redis only
  --out FILE     also write the table to FILE
  --keep         keep the temporary data directories and server logs

environment: EDDY_SERVER, EDDY_ARGS (extra eddy-server arguments), REDIS_SERVER,
REDIS_BENCHMARK, XADD_TOOL (redis-benchmark or eddy-load), LOAD_TIMEOUT (seconds a
single load may run before it counts as failed, default 900), CARGO_TARGET_DIR
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --smoke) MODE=smoke ;;
        --runs) RUNS=$2; shift ;;
        --eddy) EDDY=$2; shift ;;
        --out) OUT=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# Load sizes (requests per run): in quick mode each run lasts under a second against an
# idle Redis; the full mode runs several seconds per figure.
if [[ $MODE == smoke ]]; then
    # Checks the harness itself in about a minute; the figures mean little.
    RUNS=${RUNS:-3}
    XADD_N1=10000 XADD_N16=50000 XADD_N1_ALWAYS=5000 XADD_N16_ALWAYS=20000
    XRANGE_N=10000 CONSUME_N=5000
    BLOCK_SAMPLES=50 BLOCK_FANOUT_SAMPLES=10 MEM_N=100000 BIG_N=200000
    CONSUME_MODES="everysec always"
elif [[ $MODE == quick ]]; then
    RUNS=${RUNS:-3}
    XADD_N1=40000 XADD_N16=200000 XADD_N1_ALWAYS=20000 XADD_N16_ALWAYS=100000
    XRANGE_N=30000 CONSUME_N=20000
    BLOCK_SAMPLES=200 BLOCK_FANOUT_SAMPLES=40 MEM_N=1000000 BIG_N=0
    CONSUME_MODES="everysec"
else
    RUNS=${RUNS:-5}
    XADD_N1=300000 XADD_N16=2000000 XADD_N1_ALWAYS=200000 XADD_N16_ALWAYS=1000000
    XRANGE_N=300000 CONSUME_N=200000
    BLOCK_SAMPLES=2000 BLOCK_FANOUT_SAMPLES=300 MEM_N=1000000 BIG_N=10000000
    CONSUME_MODES="everysec always"
fi
if (( RUNS < 3 )); then echo "--runs must be at least 3" >&2; exit 2; fi

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-compare.XXXXXX")
RESULTS=$WORK/results.tsv
FIGURES=$WORK/figures.tsv
FAILURES=$WORK/failures.tsv
: >"$RESULTS"
: >"$FIGURES"
: >"$FAILURES"
declare -A STARTED=()    # pid -> name, for the exit trap

# --- processes ----------------------------------------------------------------------------

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 60 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "STARTED[$pid]"
}

cleanup() {
    local pid
    for pid in "${!STARTED[@]}"; do stop_pid "$pid"; done
    if [[ $KEEP == 1 ]]; then log "data and logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools --------------------------------------------------------------------------------

if ! command -v "$REDIS_SERVER" >/dev/null || ! command -v "$REDIS_BENCHMARK" >/dev/null; then
    log "redis-server or redis-benchmark not found: installing the Debian package"
    if [[ $(id -u) == 0 ]]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else SUDO=no; fi
    if [[ $SUDO != no ]] && command -v apt-get >/dev/null; then
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools
    fi
    command -v "$REDIS_SERVER" >/dev/null && command -v "$REDIS_BENCHMARK" >/dev/null || {
        echo "redis-server and redis-benchmark are required (apt-get install redis-server)" >&2
        exit 1
    }
fi
REDIS_VERSION=$("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')

log "building eddy-load (cargo build --release -p eddy-tools --bin eddy-load)"
(cd "$ROOT" && cargo build --release --quiet -p eddy-tools --bin eddy-load)
LOAD=$TARGET/release/eddy-load

EDDY_NOTE=
if [[ $EDDY == none ]]; then
    EDDY=
    EDDY_NOTE="eddy not measured (--eddy none)"
elif [[ -z $EDDY ]]; then
    log "building eddy-server (cargo build --release --bin eddy-server)"
    if (cd "$ROOT" && cargo build --release --quiet --bin eddy-server); then
        EDDY=$TARGET/release/eddy-server
    else
        EDDY_NOTE="eddy not measured: cargo build --release --bin eddy-server failed"
    fi
elif [[ ! -x $EDDY ]]; then
    EDDY_NOTE="eddy not measured: $EDDY is not an executable"
    EDDY=
fi
[[ -n $EDDY_NOTE ]] && log "$EDDY_NOTE"

# --- servers ------------------------------------------------------------------------------

# server_cmd NAME PORT DIR FSYNC: sets CMD to the command line that starts server NAME.
server_cmd() {
    local name=$1 port=$2 dir=$3 fsync=$4
    if [[ $name == redis ]]; then
        CMD=("$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save ''
            --appendonly yes --appendfsync "$fsync" --aof-use-rdb-preamble no)
    else
        # shellcheck disable=SC2206 # EDDY_ARGS is a list of words on purpose
        CMD=("$EDDY" $EDDY_ARGS --port "$port" --dir "$dir" --appendfsync "$fsync")
    fi
}

# start_server NAME FSYNC DIR: sets PORT and PID, or returns 1 with the log's tail.
start_server() {
    local name=$1 fsync=$2 dir=$3
    mkdir -p "$dir"
    PORT=$("$LOAD" free-port)
    server_cmd "$name" "$PORT" "$dir" "$fsync"
    "${CMD[@]}" >"$dir.log" 2>&1 &
    PID=$!
    STARTED[$PID]=$name
    if ! "$LOAD" --port "$PORT" wait --pid "$PID" --timeout-ms 30000 >/dev/null 2>"$dir.err"; then
        log "$name did not start: $(cat "$dir.err")"
        tail -n 5 "$dir.log" | sed 's/^/    /' >&2
        stop_pid "$PID"
        return 1
    fi
}

# Servers to measure: eddy only when it is there and starts.
NAMES=(redis)
if [[ -n $EDDY ]]; then
    if start_server eddy everysec "$WORK/eddy-probe"; then
        stop_pid "$PID"
        NAMES+=(eddy)
    else
        EDDY_NOTE="eddy not measured: $EDDY did not start ($(head -c 200 "$WORK/eddy-probe.err"))"
        log "$EDDY_NOTE"
    fi
fi

# --- results ------------------------------------------------------------------------------

# figure ID LABEL BETTER FORMAT: declares a table row (BETTER is higher|lower).
figure() { grep -q "^$1	" "$FIGURES" || printf '%s\t%s\t%s\t%s\n' "$@" >>"$FIGURES"; }
# record ID NAME VALUE|fail
record() { printf '%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
# failure NAME WHAT: keeps the first failure of each server for the notes under the table.
failure() {
    grep -q "^$1	" "$FAILURES" || printf '%s\t%s\n' "$1" "$(tr '\n' ' ' <<<"$2" | head -c 300)" >>"$FAILURES"
}

# kv OUTPUT KEY: the value of KEY=... in an eddy-load output line.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

call() { timeout 60 "$LOAD" --port "$1" call "${@:2}"; }
# bounded CMD...: a load that hangs (a reader never woken, a reply never sent) fails.
bounded() { timeout -k 10 "$LOAD_TIMEOUT" "$@"; }

# --- loads --------------------------------------------------------------------------------

# xadd_run NAME PORT ID CLIENTS N PIPELINE SIZE KEY PID: records the rate as ID and the
# server's CPU time per request (from /proc/PID/stat) as ID-cpu.
xadd_run() {
    local name=$1 port=$2 id=$3 clients=$4 n=$5 pipeline=$6 size=$7 key=$8 pid=$9 out rps len
    local value t0 t1 u0 u1 c0 c1
    value=$(head -c "$size" /dev/zero | tr '\0' 'v')
    client_ticks c0
    t0=$(cpu_ticks "$pid") u0=$(cpu_user_ticks "$pid")
    if [[ $XADD_TOOL == eddy-load ]]; then
        out=$(bounded "$LOAD" --port "$port" xadd --key "$key" --clients "$clients" --requests "$n" \
            --pipeline "$pipeline" --value-size "$size" 2>&1) && rps=$(kv "$out" rate) || rps=
    else
        out=$(bounded "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c "$clients" -n "$n" -P "$pipeline" \
            --csv XADD "$key" '*' f "$value" 2>/dev/null) || true
        rps=$(sed -n '2s/^"[^"]*","\([0-9.]*\)".*/\1/p' <<<"$out")
    fi
    t1=$(cpu_ticks "$pid") u1=$(cpu_user_ticks "$pid")
    client_ticks c1
    # redis-benchmark counts error replies as requests: the stream must hold all n entries.
    len=$(call "$port" XLEN "$key" 2>&1) || true
    if [[ -n $rps && $len == "$n" ]]; then
        record "$id" "$name" "$rps"
        record "$id-cpu" "$name" "$(cpu_us_per "$t0" "$t1" "$n")"
        record "$id-ucpu" "$name" "$(cpu_us_per "$u0" "$u1" "$n")"
        record "$id-ccpu" "$name" "$(cpu_us_per "$c0" "$c1" "$n")"
        log "  $name: ${rps%.*}/s, server CPU $(cpu_us_per "$t0" "$t1" "$n") µs/request" \
            "($(cpu_us_per "$u0" "$u1" "$n") in user space), client CPU $(cpu_us_per "$c0" "$c1" "$n")"
    else
        record "$id" "$name" fail
        record "$id-cpu" "$name" fail
        record "$id-ucpu" "$name" fail
        record "$id-ccpu" "$name" fail
        log "  $name: failed: XLEN $key gave '$(head -c 200 <<<"$len")', expected $n" \
            "(reported rate: '${rps:-none}')"
        failure "$name" "XADD (redis-benchmark), then XLEN $key gave: $len"
    fi
}

# ping_run NAME PORT N: PING from 50 unpipelined clients, with redis-benchmark (recorded
# as ping-P1) and with eddy-load (ping-P1-load). A server does next to nothing for PING,
# so each is the most requests per second that client and the loopback round trips allow
# on this machine: the ceiling of the unpipelined figures that client measures, for
# either server.
ping_run() {
    local name=$1 port=$2 n=$3 out rps
    out=$(bounded "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c 50 -n "$n" -P 1 --csv \
        -t ping_mbulk 2>/dev/null) || true
    rps=$(sed -n '2s/^"[^"]*","\([0-9.]*\)".*/\1/p' <<<"$out")
    if [[ -n $rps ]]; then
        record ping-P1 "$name" "$rps"
        log "  $name: PING (redis-benchmark) ${rps%.*}/s"
    else
        record ping-P1 "$name" fail
        failure "$name" "PING (redis-benchmark): $(head -c 200 <<<"$out")"
    fi
    eddy_load_run "$name" "$port" rate=ping-P1-load -- ping --clients 50 --requests "$n"
}

# eddy_load_run NAME PORT KEY=ID... -- ARGS: runs eddy-load ARGS and records each KEY as ID.
eddy_load_run() {
    local name=$1 port=$2 out pairs=() pair
    shift 2
    while [[ $1 != -- ]]; do pairs+=("$1"); shift; done
    shift
    if out=$(bounded "$LOAD" --port "$port" "$@" 2>&1); then
        for pair in "${pairs[@]}"; do record "${pair#*=}" "$name" "$(kv "$out" "${pair%%=*}")"; done
        log "  $name: $out"
    else
        for pair in "${pairs[@]}"; do record "${pair#*=}" "$name" fail; done
        log "  $name: failed: $(tail -n 3 <<<"$out")"
        failure "$name" "$1: $(tail -n 1 <<<"$out")"
    fi
}

count_label() { if (( $1 % 1000000 == 0 )); then echo "$(( $1 / 1000000 ))M"; else echo "$(( $1 / 1000 ))k"; fi; }
# cpu_ticks PID: user + system CPU time of process PID so far, in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# cpu_user_ticks PID: the user-space part of that (the rest is the kernel's: syscalls, TCP).
cpu_user_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12}'; }
# client_ticks VAR: sets VAR to the user + system CPU time of this script's finished
# children (the load generators), in clock ticks; a load's share is the difference around
# it. `times` runs in this shell (in a subshell it would see only the subshell's children).
client_ticks() {
    times >"$WORK/times"
    printf -v "$1" '%s' "$(awk -v t="$TICKS_PER_S" 'NR == 2 {
        n = 0
        for (i = 1; i <= 2; i++) { split($i, p, /m|s/); n += p[1] * 60 + p[2] }
        printf "%.0f", n * t
    }' "$WORK/times")"
}
TICKS_PER_S=$(getconf CLK_TCK)
# cpu_us_per TICKS0 TICKS1 N: server CPU microseconds per request.
cpu_us_per() { awk -v a="$1" -v b="$2" -v n="$3" -v t="$TICKS_PER_S" 'BEGIN{printf "%.3f", (b-a)*1e6/t/n}'; }
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
used_memory() { call "$1" INFO memory 2>/dev/null | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# throughput_block FSYNC: the XADD matrix (and, for the modes in CONSUME_MODES, the reads).
throughput_block() {
    local fsync=$1 name run size pipeline n id
    declare -A port=() pid=()
    for name in "${NAMES[@]}"; do
        if start_server "$name" "$fsync" "$WORK/$name-$fsync"; then
            port[$name]=$PORT pid[$name]=$PID
        fi
    done
    for ((run = 1; run <= RUNS; run++)); do
        if [[ $fsync == everysec ]]; then
            figure ping-P1 "PING, 50 clients, P1, redis-benchmark: its ceiling for the XADD P1 rows (ops/s)" higher int
            figure ping-P1-load "PING, 50 clients, P1, eddy-load: its ceiling for the XACK and XRANGE/XREVRANGE rows (ops/s)" higher int
            log "PING P1, run $run/$RUNS"
            for name in "${NAMES[@]}"; do
                [[ -n ${port[$name]:-} ]] && ping_run "$name" "${port[$name]}" "$XADD_N1"
            done
        fi
        for size in 10 100; do
            for pipeline in 1 16; do
                if [[ $fsync == always ]]; then
                    n=$XADD_N1_ALWAYS; ((pipeline > 1)) && n=$XADD_N16_ALWAYS
                else
                    n=$XADD_N1; ((pipeline > 1)) && n=$XADD_N16
                fi
                id="xadd-$fsync-P$pipeline-$size"
                figure "$id" "XADD $size B, 50 clients, P$pipeline, $fsync (ops/s)" higher int
                figure "$id-cpu" "server CPU per XADD, $size B, P$pipeline, $fsync (µs)" lower 2f
                if ((pipeline == 1)); then
                    figure "$id-ucpu" "… of which in user space (µs)" lower 2f
                    figure "$id-ccpu" "client CPU per XADD, $size B, P1, $fsync (µs)" lower 2f
                fi
                log "XADD ${size}B P$pipeline $fsync, run $run/$RUNS"
                for name in "${NAMES[@]}"; do
                    if [[ -z ${port[$name]:-} ]]; then
                        record "$id" "$name" fail
                        record "$id-cpu" "$name" fail
                        continue
                    fi
                    xadd_run "$name" "${port[$name]}" "$id" 50 "$n" "$pipeline" "$size" \
                        "xadd:$size:$pipeline:$run" "${pid[$name]}"
                done
            done
        done
        if [[ " $CONSUME_MODES " == *" $fsync "* ]]; then
            read_loads "$fsync" "$run" port pid
        fi
    done
    for name in "${NAMES[@]}"; do [[ -n ${pid[$name]:-} ]] && stop_pid "${pid[$name]}"; done
    return 0
}

# read_loads FSYNC RUN PORTS_ARRAY_NAME PIDS_ARRAY_NAME
read_loads() {
    local fsync=$1 run=$2 name p t0 t1 dir rev
    local -n ports=$3 pids=$4
    local c="consume-$fsync"
    figure "$c-loop" "consume loop: XREADGROUP COUNT 10 + XACK, 50 consumers, $fsync (loops/s)" higher int
    figure "$c-xreadgroup" "XREADGROUP COUNT 10 alone, 50 consumers, $fsync (calls/s)" higher int
    figure "$c-xack" "XACK of 1 ID, 50 clients, $fsync (calls/s)" higher int
    if [[ $fsync == everysec ]]; then
        figure xrange "XRANGE of 10 entries, 50 clients (calls/s)" higher int
        figure xrange-cpu "server CPU per XRANGE of 10 entries (µs)" lower 2f
        figure xrevrange "XREVRANGE of 10 entries, 50 clients (calls/s)" higher int
        figure xrevrange-cpu "server CPU per XREVRANGE of 10 entries (µs)" lower 2f
        figure block1-p50 "XREAD BLOCK wake-up, 1 reader, p50 (µs)" lower int
        figure block1-p99 "XREAD BLOCK wake-up, 1 reader, p99 (µs)" lower int
        figure block50-p50 "XREAD BLOCK wake-up, 50 readers, p50 (µs)" lower int
        figure block50-p99 "XREAD BLOCK wake-up, 50 readers, p99 (µs)" lower int
    fi
    for name in "${NAMES[@]}"; do
        p=${ports[$name]:-}
        if [[ -z $p ]]; then
            for id in "$c-loop" "$c-xreadgroup" "$c-xack" xrange xrange-cpu xrevrange xrevrange-cpu \
                block1-p50 block1-p99 block50-p50 block50-p99; do
                record "$id" "$name" fail
            done
            continue
        fi
        log "reads $fsync, run $run/$RUNS: $name"
        eddy_load_run "$name" "$p" loop_per_s="$c-loop" xreadgroup_per_s="$c-xreadgroup" \
            xack_per_s="$c-xack" -- consume --key "consume:$run" --entries "$CONSUME_N"
        [[ $fsync == everysec ]] || continue
        if [[ $run == 1 ]]; then
            bounded "$LOAD" --port "$p" fill --key xrange --entries 100000 --seq-ids >/dev/null ||
                log "  $name: filling the XRANGE stream failed"
        fi
        for dir in xrange xrevrange; do
            rev=()
            [[ $dir == xrevrange ]] && rev=(--rev)
            t0=$(cpu_ticks "${pids[$name]}")
            eddy_load_run "$name" "$p" rate=$dir -- xrange --key xrange --requests "$XRANGE_N" \
                "${rev[@]}"
            t1=$(cpu_ticks "${pids[$name]}")
            if [[ $(tail -n 1 "$RESULTS") == $dir$'\t'"$name"$'\t'fail ]]; then
                record "$dir-cpu" "$name" fail
            else
                record "$dir-cpu" "$name" "$(cpu_us_per "$t0" "$t1" "$XRANGE_N")"
            fi
        done
        eddy_load_run "$name" "$p" p50_us=block1-p50 p99_us=block1-p99 -- \
            block --key "block:$run" --consumers 1 --samples "$BLOCK_SAMPLES"
        eddy_load_run "$name" "$p" p50_us=block50-p50 p99_us=block50-p99 -- \
            block --key "block50:$run" --consumers 50 --samples "$BLOCK_FANOUT_SAMPLES"
    done
}

# restart_run NAME DIR N ID_PREFIX: time a restart of NAME on DIR holding N entries.
restart_run() {
    local name=$1 dir=$2 n=$3 id=$4 port
    port=$("$LOAD" free-port)
    server_cmd "$name" "$port" "$dir" everysec
    eddy_load_run "$name" "$port" pong_s="$id-pong" xlen_s="$id-xlen" -- \
        restart --key mem --expect-len "$n" --log "$dir.restart.log" \
        --timeout-ms $(( (LOAD_TIMEOUT - 60) * 1000 )) -- "${CMD[@]}"
}

# memory_block: RAM per entry after MEM_N entries, then the restart time of that data.
memory_block() {
    local run name dir um0 um1 rss0 rss1 len m=$MEM_N label
    label=$(count_label "$MEM_N")
    figure mem-used "RAM per entry, INFO used_memory, $label entries of 3 fields (bytes)" lower 1f
    figure mem-rss "RAM per entry, process RSS, $label entries of 3 fields (bytes)" lower 1f
    figure "restart-$label-pong" "restart with $label entries: start to first PONG (s)" lower 3f
    figure "restart-$label-xlen" "restart with $label entries: start to correct XLEN (s)" lower 3f
    for ((run = 1; run <= RUNS; run++)); do
        for name in "${NAMES[@]}"; do
            log "memory and restart with $label entries, run $run/$RUNS: $name"
            dir=$WORK/$name-mem-$run
            if ! start_server "$name" everysec "$dir"; then
                for id in mem-used mem-rss "restart-$label-pong" "restart-$label-xlen"; do record "$id" "$name" fail; done
                continue
            fi
            um0=$(used_memory "$PORT") rss0=$(rss_kb "$PID")
            bounded "$LOAD" --port "$PORT" fill --key mem --entries "$m" >/dev/null 2>"$dir.fill.err" ||
                log "  $name: fill failed: $(cat "$dir.fill.err")"
            sleep 1
            um1=$(used_memory "$PORT") rss1=$(rss_kb "$PID")
            len=$(call "$PORT" XLEN mem 2>/dev/null) || len=
            if [[ $len != "$m" ]]; then
                log "  $name: XLEN mem = '$len' after filling $m entries"
                failure "$name" "fill of $m entries: $(cat "$dir.fill.err")"
                record mem-used "$name" fail
                record mem-rss "$name" fail
            else
                if [[ -n $um0 && -n $um1 ]]; then
                    record mem-used "$name" "$(awk -v a="$um0" -v b="$um1" -v n="$m" 'BEGIN{print (b-a)/n}')"
                else
                    record mem-used "$name" fail
                fi
                record mem-rss "$name" "$(awk -v a="$rss0" -v b="$rss1" -v n="$m" 'BEGIN{print (b-a)*1024/n}')"
                log "  $name: used_memory $um0 -> $um1, RSS $rss0 kB -> $rss1 kB"
            fi
            stop_pid "$PID"
            if [[ $len == "$m" ]]; then
                restart_run "$name" "$dir" "$m" "restart-$label"
            else
                record "restart-$label-pong" "$name" fail
                record "restart-$label-xlen" "$name" fail
            fi
            [[ $KEEP == 1 ]] || rm -rf "$dir"
        done
    done
}

# anon_kb PID: the process's anonymous resident memory (RssAnon). eddy's view builds read
# the log through its memory map, and those page-cache pages count in VmRSS, so the view
# rows use RssAnon for both servers (for Redis it is nearly all of VmRSS).
anon_kb() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

# view_member_run NAME KIND ID: on the server at $PORT/$PID, adds MEM_N members of KIND
# (zset or geo) and records the used_memory and RssAnon growth per member as ID-used and
# ID-anon. Redis takes them with ZADD / GEOADD; eddy takes the same members as stream
# events and a view derives the sorted set or geo set from them, so only the view's own
# memory is counted (the stream's is before the first reading).
view_member_run() {
    local name=$1 kind=$2 id=$3 um0 um1 a0 a1 card err=$WORK/members.err state i
    local direct=zadd events=zadd-events view="ZADD $kind:v MEMBER {member} SCORE {score}"
    local count=(ZCARD "$kind:v")
    if [[ $kind == geo ]]; then
        direct=geoadd events=geoadd-events view="GEOADD $kind:v MEMBER {member} LON {lon} LAT {lat}"
    fi
    if [[ $name == redis ]]; then
        um0=$(used_memory "$PORT") a0=$(anon_kb "$PID")
        bounded "$LOAD" --port "$PORT" members --key "$kind:v" --form "$direct" \
            --members "$MEM_N" >/dev/null 2>"$err" || log "  $name: members failed: $(cat "$err")"
    else
        bounded "$LOAD" --port "$PORT" members --key "$kind:events" --form "$events" \
            --members "$MEM_N" >/dev/null 2>"$err" || log "  $name: members failed: $(cat "$err")"
        sleep 1
        um0=$(used_memory "$PORT") a0=$(anon_kb "$PID")
        # shellcheck disable=SC2086 # the view definition is meant to split into words
        call "$PORT" VIEW.CREATE "$kind" ON "$kind:events" $view >/dev/null 2>"$err" ||
            log "  $name: VIEW.CREATE failed: $(cat "$err")"
        for ((i = 0; i < 600; i++)); do
            # sed reads the whole reply: quitting early could fail the writer on a closed
            # pipe, and under pipefail that would end the wait before the build does.
            state=$(call "$PORT" VIEW.INFO "$kind" 2>/dev/null | sed -n '/^state$/{n;p}') || state=
            [[ $state == building ]] || break
            sleep 0.2
        done
    fi
    sleep 1
    um1=$(used_memory "$PORT") a1=$(anon_kb "$PID")
    card=$(call "$PORT" "${count[@]}" 2>/dev/null) || card=
    if [[ $card == "$MEM_N" && -n $um0 && -n $um1 ]]; then
        record "$id-used" "$name" "$(awk -v a="$um0" -v b="$um1" -v n="$MEM_N" 'BEGIN{print (b-a)/n}')"
        record "$id-anon" "$name" "$(awk -v a="$a0" -v b="$a1" -v n="$MEM_N" 'BEGIN{print (b-a)*1024/n}')"
        log "  $name $kind: used_memory $um0 -> $um1, RssAnon $a0 kB -> $a1 kB"
    else
        record "$id-used" "$name" fail
        record "$id-anon" "$name" fail
        log "  $name $kind: ZCARD $kind:v = '$card', expected $MEM_N"
        failure "$name" "$kind members: ZCARD gave '$card': $(head -c 200 "$err")"
    fi
}

# view_memory_block: RAM per sorted-set member and per geo member, MEM_N members each,
# on a fresh server per run.
view_memory_block() {
    local run name dir label
    label=$(count_label "$MEM_N")
    figure zset-used "RAM per sorted-set member, INFO used_memory, $label members (bytes)" lower 1f
    figure zset-anon "RAM per sorted-set member, process RssAnon, $label members (bytes)" lower 1f
    figure geo-used "RAM per geo member, INFO used_memory, $label members (bytes)" lower 1f
    figure geo-anon "RAM per geo member, process RssAnon, $label members (bytes)" lower 1f
    for ((run = 1; run <= RUNS; run++)); do
        for name in "${NAMES[@]}"; do
            log "view memory with $label members, run $run/$RUNS: $name"
            dir=$WORK/$name-views-$run
            if ! start_server "$name" everysec "$dir"; then
                for id in zset-used zset-anon geo-used geo-anon; do record "$id" "$name" fail; done
                continue
            fi
            view_member_run "$name" zset zset
            view_member_run "$name" geo geo
            stop_pid "$PID"
            [[ $KEEP == 1 ]] || rm -rf "$dir"
        done
    done
}

# big_restart_block: fill BIG_N entries once per server, then time RUNS restarts.
big_restart_block() {
    local name run dir label len
    label=$(count_label "$BIG_N")
    figure "restart-$label-pong" "restart with $label entries: start to first PONG (s)" lower 3f
    figure "restart-$label-xlen" "restart with $label entries: start to correct XLEN (s)" lower 3f
    for name in "${NAMES[@]}"; do
        dir=$WORK/$name-big
        log "filling $label entries: $name"
        if ! start_server "$name" everysec "$dir"; then
            for ((run = 1; run <= RUNS; run++)); do
                record "restart-$label-pong" "$name" fail
                record "restart-$label-xlen" "$name" fail
            done
            continue
        fi
        bounded "$LOAD" --port "$PORT" fill --key mem --entries "$BIG_N" >/dev/null || log "  $name: fill failed"
        len=$(call "$PORT" XLEN mem 2>/dev/null) || len=
        stop_pid "$PID"
        for ((run = 1; run <= RUNS; run++)); do
            if [[ $len == "$BIG_N" ]]; then
                log "restart with $label entries, run $run/$RUNS: $name"
                restart_run "$name" "$dir" "$BIG_N" "restart-$label"
            else
                log "restart with $label entries, run $run/$RUNS: $name: skipped, XLEN mem = '$len'"
                record "restart-$label-pong" "$name" fail
                record "restart-$label-xlen" "$name" fail
            fi
        done
        [[ $KEEP == 1 ]] || rm -rf "$dir"
    done
}

# --- table --------------------------------------------------------------------------------

table() {
    local eddy_col=eddy
    [[ ${#NAMES[@]} == 1 ]] && eddy_col="eddy (not measured)"
    echo "| figure | Redis $REDIS_VERSION | $eddy_col | ratio (>1: eddy better) |"
    echo "|---|---:|---:|---:|"
    awk -F'\t' '
        function commas(s,   neg, out) {
            neg = (s ~ /^-/); if (neg) s = substr(s, 2)
            out = ""
            while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
            return (neg ? "-" : "") s out
        }
        function fmt(v, f) {
            if (f == "int") return commas(sprintf("%.0f", v))
            if (f == "1f") return sprintf("%.1f", v)
            if (f == "2f") return sprintf("%.2f", v)
            return sprintf("%.3f", v)
        }
        function sort(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        }
        # cell(id, name): sets MED (or "") and returns "median [min-max]".
        function cell(id, name,   n, i, v, vals, fails, med) {
            n = split(values[id, name], vals, " ")
            fails = failures[id, name] + 0
            MED = ""
            if (n == 0) return (fails ? "failed" : "n/a")
            for (i = 1; i <= n; i++) vals[i] += 0
            sort(vals, n)
            med = (n % 2) ? vals[(n + 1) / 2] : (vals[n / 2] + vals[n / 2 + 1]) / 2
            MED = med
            v = fmt(med, format[id]) " [" fmt(vals[1], format[id]) "–" fmt(vals[n], format[id]) "]"
            if (fails) v = v " (" fails " failed)"
            return v
        }
        FNR == NR { order[++rows] = $1; label[$1] = $2; better[$1] = $3; format[$1] = $4; next }
        {
            if ($3 == "fail" || $3 == "") failures[$1, $2]++
            else values[$1, $2] = values[$1, $2] " " $3
        }
        END {
            for (r = 1; r <= rows; r++) {
                id = order[r]
                rc = cell(id, "redis"); rm = MED
                ec = cell(id, "eddy"); em = MED
                ratio = "n/a"
                if (rm != "" && em != "" && rm > 0 && em > 0)
                    ratio = sprintf("%.2f", better[id] == "higher" ? em / rm : rm / em)
                printf "| %s | %s | %s | %s |\n", label[id], rc, ec, ratio
            }
        }' "$FIGURES" "$RESULTS"
}

# --- main ---------------------------------------------------------------------------------

START=$(date +%s)
log "mode $MODE, $RUNS runs per figure, servers: ${NAMES[*]}, work dir $WORK"
throughput_block everysec
throughput_block always
memory_block
view_memory_block
(( BIG_N > 0 )) && big_restart_block

{
    echo "eddy vs Redis, $MODE mode ($RUNS runs per figure; cells are median [min–max])."
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), Linux $(uname -r);" \
        "$(date -u +'%Y-%m-%d %H:%M UTC'); $(( $(date +%s) - START )) s."
    echo "Both servers: appendonly/WAL on, same appendfsync; Redis with aof-use-rdb-preamble no."
    echo "Ratio: eddy/Redis for rates, Redis/eddy for latencies, bytes and seconds."
    [[ -n $EDDY_NOTE ]] && echo "Note: $EDDY_NOTE."
    while IFS=$'\t' read -r name what; do
        echo "First $name failure: $what"
    done <"$FAILURES"
    echo
    table
} | tee ${OUT:+"$OUT"}
