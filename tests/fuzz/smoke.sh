#!/bin/sh
# A bounded fuzz run for the test suite: smoke.sh FUZZER SEED_DIR SECONDS
# Works on a scratch copy of the seeds so the checked-in corpus never changes.
set -eu
fuzzer=$1 seeds=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
if [ -d "$seeds" ]; then
	cp -r "$seeds"/. "$work/corpus/"
fi
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
