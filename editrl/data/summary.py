"""``editrl data summary``'s tables: examples per split and task, image sizes, the mask-area histogram, what was
dropped and why, and every unusable example."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from editrl.data.check import DataReport, SplitReport

#: Mask-area bins: (label, lower bound exclusive, upper bound inclusive); the first and last hold exactly 0 and 1.
AREA_BINS: tuple[tuple[str, float, float], ...] = (
    ("0 (empty)", -1.0, 0.0),
    ("(0, 5%]", 0.0, 0.05),
    ("(5, 25%]", 0.05, 0.25),
    ("(25, 50%]", 0.25, 0.5),
    ("(50, 75%]", 0.5, 0.75),
    ("(75, 100%)", 0.75, 1.0 - 1e-12),
    ("100% (full)", 1.0 - 1e-12, 1.0),
)
#: Image sizes listed per split before the rest are counted together.
MAX_SIZES = 4
#: Width of the histogram bars, in characters, for a split's fullest bin.
BAR_WIDTH = 24


def area_histogram(areas: list[float]) -> list[int]:
    """Counts of mask areas in each of :data:`AREA_BINS` (every area in [0, 1] falls in exactly one bin)."""
    return [sum(lo < a <= hi for a in areas) for _, lo, hi in AREA_BINS]


def _sizes(counts: Counter) -> str:
    listed = [f"{h}×{w} ({n})" for (h, w), n in counts.most_common(MAX_SIZES)]
    rest = sum(counts.values()) - sum(n for _, n in counts.most_common(MAX_SIZES))
    return ", ".join(listed + ([f"others ({rest})"] if rest else [])) or "—"


def splits_table(report: DataReport) -> Table:
    """One row per split: examples, kept, dropped, unusable, tasks, stored sizes, the size given to the backbone."""
    table = Table(title=f"data: {report.dataset}")
    for header in ("split", "examples", "kept", "dropped", "unusable", "tasks", "stored sizes", "given as"):
        table.add_column(header, justify="right" if header in ("examples", "kept", "dropped", "unusable") else "left")
    notes = []
    for s in report.splits:
        usable = s.kept_examples()
        tasks = Counter(i.task for i in usable)
        table.add_row(
            s.name, str(s.inspection.size), str(s.kept), str(s.dropped), str(s.bad + len(s.inspection.problems)),
            ", ".join(f"{t} ({n})" for t, n in sorted(tasks.items())) or "—",
            _sizes(Counter(i.stored_size for i in usable if i.stored_size)),
            _sizes(Counter(i.shape for i in usable if i.shape)),
        )  # fmt: skip
        if s.inspection.note:
            notes.append(f"{s.name}: {s.inspection.note}")
    if notes:
        table.caption = "; ".join(notes)
    return table


def histogram_table(report: DataReport) -> Table | None:
    """Mask-area histogram of the kept examples, one column per split; None when no split has masks."""
    columns = [(s.name, [i.mask_area for i in s.kept_examples() if i.mask_area is not None]) for s in report.splits]
    columns = [(name, areas) for name, areas in columns if areas]
    if not columns:
        return None
    table = Table(title="mask area (fraction of the image marked edit)")
    table.add_column("area")
    counts = [area_histogram(areas) for _, areas in columns]
    for name, _ in columns:
        table.add_column(name, justify="right")
        table.add_column("", no_wrap=True)
    for b, (label, _, _) in enumerate(AREA_BINS):
        row = [label]
        for c in counts:  # each split's bars scaled to its own fullest bin
            row += [str(c[b]), "█" * round(BAR_WIDTH * c[b] / max(max(c), 1))]
        table.add_row(*row)
    return table


def degenerate_table(report: DataReport) -> Table | None:
    """What is degenerate, per split and reason, and whether it was dropped; None when nothing is."""
    rows = [(s, reason, n) for s in report.splits for reason, n in sorted(s.degenerate_counts().items())]
    if not rows:
        return None
    table = Table(title="degenerate examples")
    for header in ("split", "reason", "examples", "action"):
        table.add_column(header, justify="right" if header == "examples" else "left")
    for s, reason, n in rows:
        table.add_row(s.name, reason, str(n), _action(s))
    return table


def _action(s: SplitReport) -> str:
    return "dropped (drop_degenerate)" if s.inspection.drops_degenerate else "kept (drop_degenerate: true drops)"


def summary_tables(report: DataReport) -> list[Table]:
    """Every table of ``editrl data summary``, in print order."""
    tables = [splits_table(report), histogram_table(report), degenerate_table(report)]
    return [t for t in tables if t is not None]
