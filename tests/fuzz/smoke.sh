#!/bin/sh
# A bounded fuzz run for the test suite: smoke.sh FUZZER SEED_DIR SECONDS ARTIFACT_DIR
# Works on a scratch copy of the seeds so the checked-in corpus never changes. Inputs that
# crash, leak or time out are kept in a new directory under ARTIFACT_DIR (in the build
# directory) and printed into the log (hexdump and base64), so a failure seen only in CI can
# be reproduced from the log alone: base64 -d the printed text into a file, run FUZZER FILE.
set -eu
fuzzer=$1 seeds=$2 secs=$3 artifacts=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
if [ -d "$seeds" ]; then
	cp -r "$seeds"/. "$work/corpus/"
fi
# One directory per run: an earlier run's inputs are never overwritten or mixed in.
mkdir -p "$artifacts"
run=$(mktemp -d "$artifacts/run-$(date -u +%Y%m%dT%H%M%S)-XXXXXX")
status=0
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$run/" "$work/corpus" || status=$?
if [ -z "$(ls -A "$run")" ]; then
	rmdir "$run"
	exit "$status"
fi
for f in "$run"/*; do
	echo "smoke.sh: kept $f ($(wc -c < "$f") bytes); reproduce with: $fuzzer $f"
	echo "smoke.sh: hexdump of $(basename "$f"):"
	od -A x -t x1z -v "$f" | head -n 64
	echo "smoke.sh: base64 of $(basename "$f") (the whole input):"
	base64 "$f"
done
# An artifact means the fuzzer found something even if its exit status did not say so.
[ "$status" -ne 0 ] || status=1
exit "$status"
