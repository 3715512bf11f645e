#!/usr/bin/env bash
# Stands in for eddy-server with redis-server, to check the harness itself:
#   EDDY_SERVER=benches/compare/redis-as-eddy.sh benches/compare/run.sh --smoke
# The ratios of such a run show the harness's own noise (they should be close to 1).
# Accepts the eddy-server arguments the harness passes: --port N --dir D --appendfsync F.
set -euo pipefail
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --port|--dir|--appendfsync) args+=("$1" "$2"); shift ;;
        *) echo "redis-as-eddy.sh: unsupported argument $1" >&2; exit 2 ;;
    esac
    shift
done
exec "${REDIS_SERVER:-redis-server}" --bind 127.0.0.1 --save '' --appendonly yes \
    --aof-use-rdb-preamble no "${args[@]}"
