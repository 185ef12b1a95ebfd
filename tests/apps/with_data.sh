#!/usr/bin/env bash
# with_data.sh KIND DIR -- CMD...: writes the dataset KIND of make_data.py into a fresh DIR, then runs CMD.
set -eu
kind=$1 dir=$2
shift 2
[ "$1" = "--" ] && shift
rm -rf "$dir"
python3 "$(dirname "$0")/make_data.py" "$kind" "$dir"
exec "$@"
