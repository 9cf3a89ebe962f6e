#!/bin/sh
# Cell masks from noise, at toy size (about a minute on 2 cores):
# simulate -> train stylegan on the cell label maps -> generate label maps -> generate a denser
# set (steered to a mean object count) -> compare both with the real masks' shape statistics.
#   sh examples/masks.sh [OUTDIR]     (default: ./celltool-masks)
set -eu
out="${1:-celltool-masks}"
mkdir -p "$out"

sim=$(celltool simulate -o "$out/sim" -n 6 --size 128 --n-cells 10 --seed 1 --overwrite)

# a tiny StyleGAN2 on the simulation's cells part (see docs/stylegan.md for the CPU recipe)
run=$(celltool train stylegan "$sim" -o "$out/run" --resolution 32 --cbase 256 --cmax 16 \
      --w-dim 16 --map-layers 2 --epochs 2 --epoch-images 32 --batch-size 4 --samples 2 \
      --threads 1 --seed 1 --overwrite)

# instance label maps + masks + latents; then 1.5 times the model's own mean count per image
plain=$(celltool generate "$run" -o "$out/plain" --count 16 --seed 0 --overwrite)
count=$(python3 -c "import json,sys; f=json.load(open(sys.argv[1]))['facts']; print(max(0.5, 1.5 * f['objects'] / f['count']))" "$plain/celltool.json")
dense=$(celltool generate "$run" -o "$out/dense" --count 16 --seed 0 --target-count "$count" \
        --pool 8 --overwrite)

# shape statistics of both against the real cells (no pairing: sets of label maps; the model
# draws 32² crops of the 128² masks, so its count and coverage are per crop)
celltool evaluate "$sim/cells" "$plain/labels" -m mask_shapes -o "$out/plain-eval" --overwrite >/dev/null
metrics=$(celltool evaluate "$sim/cells" "$dense/labels" -m mask_shapes -o "$out/dense-eval" --overwrite)

echo "$sim"
echo "$run"
echo "$plain"
echo "$dense"
echo "$metrics"
