"""The text report of benchmarks/quality_stylegan.py (stdout): tables and the bar."""

from __future__ import annotations

from collections.abc import Sequence


def table(rows: dict[str, dict], ref: str, stats: Sequence[str]) -> str:
    """A markdown table: W1/std per statistic and mean count/coverage per set."""
    names = list(rows)
    lines = [f"| vs {ref} | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in stats:
        lines.append(f"| W1/std {k} | " + " | ".join(f"{rows[n][f'{k}_w']:.3f}" for n in names)
                     + " |")  # fmt: skip
    for k in ("count", "coverage"):
        real = rows[names[0]][f"{k}_real"]
        cells = [f"{rows[n][f'{k}_gen']:.3g} ({100 * rows[n][f'{k}_rel_error']:.0f} %)"
                 for n in names]  # fmt: skip
        lines.append(f"| mean {k} (real {real:.3g}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(result: dict, stats: Sequence[str]) -> str:
    """Both tables, the signed count/coverage differences, the trend and the bar."""
    trend, info = result["trend"], result["training"]
    lines = [table(result["vs_heldback"], "held-back 160-199", stats), "",
             table(result["vs_training"], f"training {result['train_frames']}", stats)]  # fmt: skip
    for ref in ("vs_heldback", "vs_training"):  # signed, with 95 % bootstrap intervals
        for name, row in result[ref].items():
            lines.append(f"{ref}: {name}: " + ", ".join(
                f"{k} {100 * row[f'{k}_rel_diff']:+.1f} % [{100 * row[f'{k}_rel_low']:+.1f}, "
                f"{100 * row[f'{k}_rel_high']:+.1f}]" for k in ("count", "coverage")))  # fmt: skip
    if trend:
        lines.append(f"trend: {trend['rule']}, growth {trend['growth']}, "
                     f"targets {trend['targets']}")  # fmt: skip
    lines.append(
        f"\ntraining: {info}\nbar: {result['bar']}\nwatershed: {result['watershed_split']}"
    )
    return "\n".join(lines)
