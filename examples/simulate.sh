#!/bin/sh
# Simulate a small data set, then find its parts through the manifest, the way a pipeline does.
#   sh examples/simulate.sh [OUTDIR]     (default: ./celltool-example)
# Needs only `celltool` on PATH. Writes OUTDIR/sim (images, cells, nuclei) and prints it.
set -eu
out="${1:-celltool-example}"
mkdir -p "$out"

# stdout carries only the output folder path, so it can be captured or piped on
sim=$(celltool simulate -o "$out/sim" -n 4 --size 128 --n-cells 12 --seed 7 --overwrite)

# the same step as array jobs: two shards into one folder; the manifest appears with the last
rm -rf "$out/sharded"
celltool simulate -o "$out/sharded" -n 4 --size 128 --n-cells 12 --seed 7 --shard 1/2 >/dev/null
celltool simulate -o "$out/sharded" -n 4 --size 128 --n-cells 12 --seed 7 --shard 2/2 >/dev/null
cmp "$sim/images/sim_0003.png" "$out/sharded/images/sim_0003.png"

# a 16-bit variant; every folder has a manifest saying what it holds
celltool simulate -o "$out/sim16" -n 2 --size 128 --n-cells 12 --bit-depth 16 --overwrite >/dev/null
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['kind'], m['facts']['bit_depth'], file=sys.stderr)" "$out/sim16/images/celltool.json"

echo "$sim"
