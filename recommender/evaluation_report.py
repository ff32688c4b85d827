"""The offline evaluation's reports: markdown tables, JSON and a chart per run, and a summary across splits and
seeds (no Django; Matplotlib's object-oriented API with the Agg canvas, imported only when a chart is drawn)."""

import json
from pathlib import Path

import numpy as np

from recommender.evaluation import LIKED_SUFFIX
from recommender.tuning import Report

SUMMARY_COLUMNS = ("ndcg@{k}", "ndcg@{k}" + LIKED_SUFFIX, "coverage", "genre diversity", "novelty")


def markdown_table(report: Report) -> str:
    k = report.k
    columns = [
        f"precision@{k}",
        f"recall@{k}",
        f"ndcg@{k}",
        f"map@{k}",
        f"ndcg@{k}{LIKED_SUFFIX}",
        f"map@{k}{LIKED_SUFFIX}",
        "coverage",
        "genre diversity",
        "novelty",
    ]
    lines = [
        "| algorithm | " + " | ".join(columns) + " | fit s |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for result in report.results:
        values = " | ".join(f"{result.metrics[column]:.4f}" for column in columns)
        title = result.config.title
        label = f"**{title}** (production)" if title == report.production else title
        lines.append(f"| {label} | {values} | {result.fit_seconds:.2f} |")
    return "\n".join(lines) + "\n"


def markdown_parameters(report: Report) -> str:
    """What the validation split chose for each tuned model, and what production runs."""
    production = next(result.config for result in report.results if result.config.title == report.production)
    configs = [(f"{config.title} (tuned)", config) for config in report.tuned.values()]
    configs.append((f"{production.title} (production)", production))
    return "".join(f"- {title}: {json.dumps(config.describe())}\n" for title, config in configs)


def markdown_summary(reports: list[Report]) -> str:
    """The production line of every run, and its mean per split: nDCG (both relevance definitions), coverage,
    genre diversity and novelty."""
    k = reports[0].k
    columns = [column.format(k=k) for column in SUMMARY_COLUMNS]
    lines = ["| split | seed | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for kind in dict.fromkeys(report.split for report in reports):
        runs = [report for report in reports if report.split == kind]
        rows = [(str(report.seed), report.metrics_of(report.production)) for report in runs]
        if len(runs) > 1:
            rows.append(("mean", {column: float(np.mean([row[column] for _, row in rows])) for column in columns}))
        for seed, values in rows:
            lines.append(f"| {kind} | {seed} | " + " | ".join(f"{values[column]:.4f}" for column in columns) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Writes ``evaluation.md``, ``evaluation.json`` and ``evaluation.png`` into ``out_dir``."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, as_json, chart = out_dir / "evaluation.md", out_dir / "evaluation.json", out_dir / "evaluation.png"
    sizes = ", ".join(f"{value:,} {name}" for name, value in report.sizes.items())
    markdown.write_text(
        f"# Offline evaluation: {report.dataset}\n\n{report.split} split; {sizes}; seed {report.seed}; "
        f"top {report.k}; {report.seconds:.0f} s.\n\n{markdown_table(report)}\n"
        f"## Hyper-parameters\n\n{markdown_parameters(report)}"
    )
    as_json.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")

    k = report.k
    shown = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", f"ndcg@{k}{LIKED_SUFFIX}", "coverage"]
    figure = Figure(figsize=(13, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(report.results)
    for position, result in enumerate(report.results):
        offsets = np.arange(len(shown)) + (position - (len(report.results) - 1) / 2) * width
        values = [result.metrics[name] for name in shown]
        axes.bar(offsets, values, width, label=result.config.title, color=colormaps["tab20"](position % 20))
    axes.set_xticks(np.arange(len(shown)), shown)
    axes.set_ylabel("score")
    axes.set_title(f"{Path(report.dataset).name} ({report.split} split): top-{k} ranking quality on held-out ratings")
    figure.legend(loc="outside right upper", fontsize="small")
    figure.savefig(chart, dpi=110)
    return [markdown, as_json, chart]


def write_reports(reports: list[Report], out_dir: str | Path) -> list[Path]:
    """One run: its files in ``out_dir``. Several: each in ``out_dir/<split>-seed<seed>/``, and ``summary.md``
    (``markdown_summary``) in ``out_dir``."""
    out_dir = Path(out_dir)
    if len(reports) == 1:
        return write_report(reports[0], out_dir)
    paths = [path for report in reports for path in write_report(report, out_dir / f"{report.split}-seed{report.seed}")]
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = out_dir / "summary.md"
    summary.write_text(f"# Production model across splits and seeds\n\n{markdown_summary(reports)}")
    return [*paths, summary]
