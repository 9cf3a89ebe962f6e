#!/bin/sh
# Outputs of segment/sketch/split on 24 real frames (hashes) and 20 training steps' losses of
# pix2pix and dual, for a before/after comparison of a refactor.
set -eu
CT=${CT:-celltool}
out=$1
rm -rf "$out"; mkdir -p "$out/imgs" "$out/masks"
data=${CELLTOOL_TIMELAPSE:-../shared/data/timelapse}
for i in $(seq -w 0 23); do cp $data/images/0$i.png "$out/imgs/"; cp $data/masks/0$i.png "$out/masks/"; done
$CT segment "$out/imgs" -o "$out/seg" --workers 1 >/dev/null
$CT sketch "$out/seg" --levels 7 -o "$out/sk7" --workers 1 >/dev/null
$CT sketch "$out/seg" --levels 4 -o "$out/sk4" --workers 1 >/dev/null
$CT sketch "$out/imgs" --masks "$out/masks" --levels 1 -o "$out/sk1" --workers 1 >/dev/null
$CT split "$out/sk7" -o "$out/pairs" --crop 128 --crops 2 --seed 3 >/dev/null
$CT split "$out/sk1" -o "$out/tpairs" --method frames --by time --pairs temporal --ratios 0.8,0.1,0.1 >/dev/null
$CT split "$out/seg" -o "$out/ctc" --format ctc >/dev/null
$CT train pix2pix "$out/pairs" -o "$out/run" --epochs 1 --netG unet_128 --ngf 8 --ndf 8 --crop-size 128 --preprocess crop --threads 1 --log-every 1 --samples 0 >/dev/null
$CT train dual "$out/tpairs" -o "$out/drun" --epochs 1 --netG unet_64 --ngf 8 --ndf 8 --crop-size 64 --threads 1 --log-every 1 --samples 0 --rollout 1 >/dev/null
(cd "$out" && find seg sk7 sk4 sk1 pairs tpairs ctc -type f ! -name celltool.json | sort | xargs sha256sum) > "$out.hashes"
head -20 "$out/run/logs/losses.jsonl" | python3 -c 'import sys,json; [print(json.loads(l)["losses"]) for l in sys.stdin]' > "$out.losses"
head -20 "$out/drun/logs/losses.jsonl" | python3 -c 'import sys,json; [print(json.loads(l)["losses"]) for l in sys.stdin]' >> "$out.losses"
wc -l "$out.hashes" "$out.losses"
