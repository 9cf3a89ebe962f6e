#!/bin/sh
# The whole pipeline through shell pipes, at toy size (about a minute on 2 cores):
# simulate -> segment -> sketch -> split -> train pix2pix -> generate -> evaluate.
#   sh examples/pipeline.sh [OUTDIR]     (default: ./celltool-pipeline)
# Each step prints only its output folder, so the next step reads it from stdin; no -o needed
# after the first step (imgs -> imgs-segment -> imgs-segment-sketch -> ...).
set -eu
out="${1:-celltool-pipeline}"
mkdir -p "$out"

sim=$(celltool simulate -o "$out/sim" -n 6 --size 128 --n-cells 14 --seed 1 --overwrite)
pairs=$(celltool segment "$sim" --min-size 20 | celltool sketch --levels 7 \
        | celltool split --crop 64 --crops 2 --min-distance 20 --ratios 4,1,1 --seed 1)

# a tiny pix2pix (sketch -> image), then generate from the test split's sketches
run=$(celltool train pix2pix "$pairs" -o "$out/run" --epochs 1 --netG unet_64 --ngf 8 \
      --ndf 8 --crop-size 64 --preprocess crop --threads 1 --overwrite)
generated=$(celltool generate "$run" "$pairs" -o "$out/generated" --overwrite)

# how close are the generated images to the real held-out ones? (real halves of the test pairs)
# REAL is the pairs folder: its test split's real images are compared
metrics=$(celltool evaluate "$pairs" "$generated" -m psnr,ssim,mae)

echo "$sim"
echo "$pairs"
echo "$run"
echo "$generated"
echo "$metrics"
