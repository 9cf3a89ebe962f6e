"""Is celltool's generated data worth training on, and does a synthetic benchmark rank
segmenters as real data would? (issue #16; results in docs/benchmark.md)

On the shared time-lapse (frames 000–159 for anything trained, 160–199 held back for scoring):

1. pix2pix learns masks → images on frames 000–159 (the image model);
2. label maps come from a source — real masks transformed (a symmetry of the square and a
   cyclic shift per frame), celltool's cells2d simulator, or a folder of generated label maps
   (``--generated-masks``, e.g. the StyleGAN mask generator's output) — and pix2pix renders
   their images;
3. unet-seg is trained with the same budget and the same number of training images (160) in
   every arm: real frames; synthetic pairs only; half real, half synthetic;
4. every arm segments frames 160–199 through ``celltool benchmark``: AP@0.5, F1, CTC SEG and the
   ratios to the real arm;
5. the gap: statistics of the generated data against the real (objects, intensities, noise);
6. faithfulness: several segmenters ranked on a synthetic test set and on real frames 160–199;
   Kendall's τ between the rankings.

    .venv/bin/python benchmarks/experiment_synthetic.py --budget full   # the documented run
    .venv/bin/python benchmarks/experiment_synthetic.py --budget quick  # minutes: a smoke run

Writes benchmarks/results/experiment_synthetic[_quick].json; the runs and folders stay in --work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import synthetic_data as sd  # noqa: E402
from machine import finish, machine  # noqa: E402

BUDGETS: dict[str, dict[str, Any]] = {
    # pix2pix: epochs over 160 random 256² crops; unet-seg: epochs × crops_per_image × 160 / batch
    "quick": {"p2p_epochs": 1, "p2p_ngf": 16, "seg_epochs": 2, "crops": 1, "base": 8, "n": 32,
              "n_test": 8},
    "full": {"p2p_epochs": 3, "p2p_ngf": 32, "seg_epochs": 12, "crops": 2, "base": 8, "n": 160,
             "n_test": 40},
}  # fmt: skip
SIM_PARAMS = {"n_cells": 110, "cell_radius": "4,8", "elongation": "1.5,4", "irregularity": 0.25,
              "max_overlap": 0.0}  # fmt: skip
SCORES = ("ap_at.0.5", "f1", "seg")


STAGES: dict[str, float] = {}  # stage -> seconds since the start


def log(stage: str, t0: float) -> None:
    STAGES[stage] = round(time.time() - t0, 1)
    print(f"[{time.time() - t0:7.0f} s] {stage}", file=sys.stderr, flush=True)


def serial():
    from celltool.executor import ExecutorSpec

    return ExecutorSpec("serial")


def train_pix2pix(pairs: Path, run: Path, budget: dict, args) -> Path:
    from celltool.steps.training import train

    if args.reuse and (run / "checkpoints" / "latest.pt").exists():
        return run
    options = {"epochs": budget["p2p_epochs"], "ngf": budget["p2p_ngf"],
               "ndf": budget["p2p_ngf"], "netG": "unet_256", "crop_size": 256,
               "preprocess": "crop", "seed": 0, "save_every": 0, "samples": 2,
               "threads": args.threads}  # fmt: skip
    return train("pix2pix", [pairs], run, options=options, overwrite=True)


def render(run: Path, labels: list[np.ndarray], stems: list[str], work: Path, args) -> list:
    """pix2pix images of the label maps' binary masks."""
    from celltool import plugins
    from celltool.imageio import read_image
    from celltool.steps.generation import resolve_options
    from celltool.training.generate import generate_folder

    out = work / "images"
    if not (args.reuse and out.is_dir()):
        sketch = sd.sketches(work / "sketches", labels, stems)
        # one pass per 512² image (unet_256 takes any multiple of 256): no tiles, no seams
        opts = resolve_options(plugins.get("trainers", "pix2pix"), {"tile": 512})
        generate_folder(run, [sketch], out, options=opts, device="cpu", overwrite=True)
    return [read_image(out / f"{s}.png") for s in stems]


def train_unetseg(items: list, work: Path, budget: dict, args, seed: int = 0) -> Path:
    from celltool.steps.training import train

    run = work / "run"
    if args.reuse and (run / "checkpoints" / "latest.pt").exists():
        return run
    pairs = sd.labelled_pairs(work / "pairs", {"train": items})
    options = {"epochs": budget["seg_epochs"], "crops_per_image": budget["crops"],
               "base_filters": budget["base"], "depth": 3, "crop_size": 128, "batch_size": 8,
               "lr": 1e-3, "intensity_aug": 0.2, "seed": seed, "save_every": 0, "samples": 2,
               "threads": args.threads}  # fmt: skip
    return train("unet-seg", [pairs], run, options=options, overwrite=True)


def means(bench: Path) -> dict[str, dict[str, Any]]:
    """Per entry: mean and interval of the scores, CTC SEG over all frames, s/image."""
    ranking = json.loads((bench / "ranking.json").read_text())["ranking"]
    out = {}
    for r in ranking:
        out[r["segmenter"]] = {
            **{c: [r["scores"][c][k] for k in ("mean", "ci_low", "ci_high")] for c in SCORES},
            "SEG_all": r["ctc"]["SEG"],
            "seconds_per_image": r["runtime"]["seconds_per_image"],
        }
    return out


def ensure_otsu(work: Path) -> None:
    """The example third-party Otsu plugin: installed, or loaded from examples/ as a plugin
    file (no install needed)."""
    from celltool import plugins

    if "otsu" in plugins.registry().names("segmenters"):
        return
    folder = work / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    example = REPO / "examples" / "celltool-example-plugin"
    (folder / "example_otsu.py").write_text(
        f"import sys\nsys.path.insert(0, {str(example)!r})\n"
        "from celltool_example_otsu import register_segmenters  # noqa: F401\n"
    )
    os.environ["CELLTOOL_PLUGINS_DIR"] = str(folder)
    plugins.reset()


def tune_watershed(items: list, grid: list[dict]) -> tuple[dict, list]:
    """The watershed setting of ``grid`` with the best mean AP@0.5 on training frames."""
    from celltool import plugins
    from celltool.labels import filter_instances, match_instances

    component = plugins.get("segmenters", "watershed")
    tried = []
    for setting in grid:
        run = component.load()(**component.resolve(setting))
        aps = []
        for _, image, labels in items:
            pred = filter_instances(run(image)["cells"], min_size=15)
            m = match_instances(labels, pred, 0.5)
            aps.append(m.tp / max(m.tp + m.fp + m.fn, 1))
        tried.append({**setting, "ap50": float(np.mean(aps))})
    best = max(tried, key=lambda t: t["ap50"])
    return {k: v for k, v in best.items() if k != "ap50"}, tried


def arms_experiment(args, budget: dict, t0: float) -> dict[str, Any]:
    from celltool.imageio import write_image
    from celltool.steps.benchmarking import benchmark
    from celltool.steps.evaluation import evaluate
    from celltool.steps.pairs import pairs_folder

    work, n = args.work, budget["n"]
    train_frames = np.linspace(0, 159, n).round().astype(int)
    real_train = sd.real_frames(args.data, train_frames)
    real_test = sd.real_frames(args.data, range(160, 160 + budget["n_test"]))
    p2p_pairs = work / "p2p-pairs"
    if not (args.reuse and p2p_pairs.is_dir()):  # [image | binary mask], frames 000-159
        side = [(s, im, ((lab > 0) * 255).astype(np.uint8))
                for s, im, lab in sd.real_frames(args.data, range(160))]  # fmt: skip
        pairs_folder(p2p_pairs, {"train": side}, overwrite=True)
    p2p = train_pix2pix(p2p_pairs, work / "p2p-run", budget, args)
    log("pix2pix trained", t0)
    test_render = render(p2p, [lab for _, _, lab in real_test], [s for s, _, _ in real_test],
                         work / "p2p-test", args)  # fmt: skip
    quality = evaluate(args.data / "images", work / "p2p-test" / "images", work / "p2p-eval",
                       metrics="ssim,psnr", overwrite=True, spec=serial(), table=False)  # fmt: skip
    image_model = json.loads((quality / "summary.json").read_text())["metrics"]
    stems = [f"{i:03d}" for i in range(n)]
    sources = {"transformed": sd.transformed([lab for _, _, lab in real_train], seed=1)}
    if "simulated" in args.sources:
        sources["simulated"] = sd.simulated(n, 512, seed=2, **SIM_PARAMS)
    if args.generated_masks:
        sources["generated"] = sd.folder_masks(args.generated_masks, n)
    synthetic = {}
    real_field = sd.background_field([im for _, im, _ in real_train])
    variants = [v for v in args.variants.split(",") if v]
    for name, labels in sources.items():
        images = render(p2p, labels, stems, work / f"render-{name}", args)
        synthetic[name] = [(f"{name}{s}", im, lab)
                           for s, im, lab in zip(stems, images, labels, strict=True)]  # fmt: skip
        for variant in variants:  # improved renderings: other arms, never the plain ones
            fixed = sd.improve(variant, images, labels, real_train, real_field)
            rows = zip(stems, fixed, labels, strict=True)
            synthetic[f"{name}-{variant}"] = [(f"{name}{variant}{s}", im, lab)
                                              for s, im, lab in rows]  # fmt: skip
    log(f"rendered {', '.join(sources)}", t0)
    arms = {"real": real_train, **{f"syn-{k}": v for k, v in synthetic.items()}}
    for source in args.mixed_source.split(","):  # half real frames, half synthetic pairs
        mixed = "mixed" if source == "transformed" else f"mixed-{source}"
        arms[mixed] = real_train[::2] + synthetic[source][1::2]
    runs = {arm: train_unetseg(items, work / f"arm-{arm}", budget, args)
            for arm, items in arms.items()}  # fmt: skip
    for seed in (int(s) for s in args.real_seeds.split(",") if s):  # training-seed spread
        runs[f"real-seed{seed}"] = train_unetseg(real_train, work / f"arm-real-seed{seed}",
                                                 budget, args, seed)  # fmt: skip
        arms[f"real-seed{seed}"] = real_train
    log("unet-seg arms trained", t0)
    test_images, test_labels = sd.images_and_labels(work / "test", real_test)
    entries = [f"unet-seg:{arm}" for arm in arms]
    options = {e: {"model": str(runs[e.split(":")[1]]), "threads": args.threads} for e in entries}
    bench = benchmark(test_images, entries, work / "bench-arms", labels=test_labels,
                      options=options, overwrite=True, spec=serial())  # fmt: skip
    table = means(bench)
    real = table["unet-seg:real"]
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    for record in table.values():
        record["ratio_to_real"] = {c: ratio(record[c][0], real[c][0]) for c in SCORES}
        record["ratio_to_real"]["SEG_all"] = ratio(record["SEG_all"], real["SEG_all"])
    log("arms scored", t0)
    gap = {"real": {**sd.object_stats([lab for _, _, lab in real_train]),
                    **sd.intensity_stats([im for _, im, _ in real_train],
                                         [lab for _, _, lab in real_train])}}  # fmt: skip
    for name, items in synthetic.items():
        gap[name] = {**sd.object_stats([lab for _, _, lab in items]),
                     **sd.intensity_stats([im for _, im, _ in items],
                                          [lab for _, _, lab in items])}  # fmt: skip
        gap[name]["histogram_bhattacharyya_to_real"] = sd.bhattacharyya(
            gap[name]["histogram"], gap["real"]["histogram"])  # fmt: skip
    for record in gap.values():
        record.pop("histogram")
    write_image(work / "example-real.png", real_train[0][1])
    return {"arms": table, "image_model": image_model, "gap": gap, "runs": runs,
            "field": real_field, "variants": variants,
            "bench": bench, "real_test": real_test, "p2p": p2p,
            "real_train": real_train, "test_render": len(test_render)}  # fmt: skip


def faithfulness(args, budget: dict, arms: dict[str, Any], t0: float) -> dict[str, Any]:
    """The same segmenters ranked on synthetic pairs and on real frames 160–199."""
    from celltool.steps.benchmarking import benchmark

    work = args.work
    real_train = arms["real_train"]
    labels = sd.transformed([lab for _, _, lab in real_train], seed=7)[: budget["n_test"]]
    stems = [f"syn{i:03d}" for i in range(len(labels))]
    images = render(arms["p2p"], labels, stems, work / "faith-render", args)
    syn_images, syn_labels = sd.images_and_labels(
        work / "faith-syn", list(zip(stems, images, labels, strict=True))
    )
    test_images, test_labels = work / "test" / "images", work / "test" / "labels"
    grid = [{"background_radius": 20.0, "smooth_sigma": s, "threshold_scale": t,
             "min_distance": d}
            for s in (0.5, 1.0) for t in (1.0, 1.3) for d in (4, 8)]  # fmt: skip
    tuned, tried = tune_watershed(real_train[::8], grid)
    ensure_otsu(work)
    options: dict[str, dict[str, Any]] = {"watershed:tuned": tuned}
    entries = ["watershed", "watershed:tuned", "otsu"]
    for arm in ("real", "syn-transformed", *(f"syn-transformed-{v}" for v in arms["variants"])):
        entries.append(f"unet-seg:{arm}")
        options[f"unet-seg:{arm}"] = {"model": str(arms["runs"][arm]), "threads": args.threads}
    if args.cellpose_run:
        entries.append("cellpose:trained")
        options["cellpose:trained"] = {"model": str(args.cellpose_run)}
    on_real = means(benchmark(test_images, entries, work / "bench-real", labels=test_labels,
                              options=options, overwrite=True, spec=serial()))  # fmt: skip
    on_syn = means(benchmark(syn_images, entries, work / "bench-syn", labels=syn_labels,
                             options=options, overwrite=True, spec=serial()))  # fmt: skip
    log("faithfulness benchmarks done", t0)
    out: dict[str, Any] = {"segmenters": entries, "watershed_tuned": tuned, "tuning": tried,
                           "real": on_real, "synthetic": on_syn}  # fmt: skip
    out.update(sd.agreement(on_real, on_syn, entries))
    # a segmenter trained on the synthetic domain is at home in the synthetic test set
    others = [e for e in entries if not e.startswith("unet-seg:syn")]
    out["without_synthetic_trained"] = sd.agreement(on_real, on_syn, others)
    for variant in arms["variants"]:  # the same test set, rendered with the corrections
        fixed = sd.improve(variant, images, labels, real_train, arms["field"])
        folder = work / f"faith-syn-{variant}"
        items = list(zip(stems, fixed, labels, strict=True))
        v_images, v_labels = sd.images_and_labels(folder, items)
        on_v = means(benchmark(v_images, entries, work / f"bench-syn-{variant}",
                               labels=v_labels, options=options, overwrite=True,
                               spec=serial()))  # fmt: skip
        out.setdefault("variants", {})[variant] = {
            "synthetic": on_v,
            **sd.agreement(on_real, on_v, entries),
            "without_synthetic_trained": sd.agreement(on_real, on_v, others),
        }
    log("faithfulness variants done", t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    shared = [p / "shared/data/timelapse" for p in REPO.parents]
    default = next((p for p in shared if p.is_dir()), shared[0])
    parser.add_argument("--data", type=Path, default=default, help="The time-lapse folder.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-experiment"))
    parser.add_argument("--budget", choices=tuple(BUDGETS), default="quick")
    parser.add_argument("--sources", default="transformed,simulated",
                        help="Label-map sources: transformed, simulated.")  # fmt: skip
    parser.add_argument(
        "--generated-masks",
        type=Path,
        default=None,
        help="A folder of generated label maps, a third source: >= 160 of 512², or smaller "
        "ones (StyleGAN's 64²: 160 × 64 of them), tiled into 512² mosaics.",
    )
    parser.add_argument(
        "--variants",
        default="",
        help="Improved renderings, each a further arm syn-<source>-<variant>: bg (the real "
        "frames' background field), bgcon (and the real cells' contrast above it), hist (a "
        "real frame's gray levels), bghist.",
    )
    parser.add_argument(
        "--mixed-source",
        default="transformed",
        help="Synthetic source(s) of the mixed arm(s), comma-separated.",
    )
    parser.add_argument(
        "--cellpose-run",
        type=Path,
        default=None,
        help="A `celltool train cellpose` run to rank too.",
    )
    parser.add_argument(
        "--real-seeds",
        default="",
        help="Train the real arm again with these seeds (e.g. 1,2): the spread of a training "
        "seed, against which arm differences are judged.",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="Reuse runs and renders in --work.")
    parser.add_argument("--skip-faithfulness", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "images").is_dir():
        raise SystemExit(f"no time-lapse at {args.data} (give --data)")
    import torch

    torch.set_num_threads(args.threads)
    budget = BUDGETS[args.budget]
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    where = machine(training_threads=args.threads)
    arms = arms_experiment(args, budget, t0)
    result: dict[str, Any] = {
        "machine": where,
        "budget": {**budget, "name": args.budget, "threads": args.threads,
                   "sources": args.sources, "variants": args.variants,
                   "real_seeds": args.real_seeds,
                   "mixed_source": args.mixed_source,
                   "generated_masks": str(args.generated_masks or "")},
        "arms": arms["arms"], "image_model_on_160_199": arms["image_model"], "gap": arms["gap"],
    }  # fmt: skip
    if not args.skip_faithfulness:
        result["faithfulness"] = faithfulness(args, budget, arms, t0)
    result["seconds"] = round(time.time() - t0, 1)
    result["stage_seconds"] = STAGES
    finish(where)
    name = "experiment_synthetic" + ("" if args.budget == "full" else f"_{args.budget}")
    out = args.out or REPO / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in ("arms", "seconds")}, indent=1, default=str))


if __name__ == "__main__":
    main()
