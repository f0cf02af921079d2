"""The up-front data check: every example of every split a run uses, before any weight loads or any file is written.

The dataset describes its examples (``EditDataset.inspect``), the backbone refuses what it cannot edit
(``Backbone.check_example``), and this module sorts them:

- unusable (a manifest line that does not parse, a missing or truncated file, sizes that disagree, a mask that is
  neither binary nor binarised by a stated threshold, an example the backbone refuses, an empty split):
  :class:`DataCheckError`, exit 2, each problem with its file and manifest line;
- degenerate but usable (an empty or a full mask, a source converted from grayscale/RGBA/palette): counted, and
  left out of the split by datasets with ``drop_degenerate: true``;
- suspicious splits (most masks cover most of the image: likely inverted polarity): a warning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from editrl.data.inspection import ExampleInfo, SplitInspection
from editrl.errors import EditrlError

#: Problems listed in the error message; the rest are counted (``editrl data summary`` lists every one).
MAX_LISTED = 20
#: A mask "covers most of the image" above this edit-area fraction ...
LARGE_MASK_AREA = 0.5
#: ... and a split's masks are likely inverted when more than this share of them do.
INVERTED_SHARE = 0.5


class DataCheckError(EditrlError):
    """The data check found unusable examples or splits; ``problems`` holds one ``where: what`` line each."""

    def __init__(self, problems: list[str], limit: int | None = MAX_LISTED) -> None:
        self.problems = problems
        listed = "\n".join(f"  • {p}" for p in problems[:limit])
        more = len(problems) - (len(problems) if limit is None else limit)
        tail = f"\n  … and {more} more (`editrl data summary RECIPE` lists them all)" if more > 0 else ""
        super().__init__(
            f"the data check refused the dataset ({len(problems)} problem{'s' * (len(problems) != 1)}; "
            f"nothing was trained or written):\n{listed}{tail}"
        )


def degenerate_reasons(info: ExampleInfo) -> list[str]:
    """Why a usable example is degenerate (empty list: it is not). Datasets with ``drop_degenerate`` drop on this."""
    reasons = []
    if info.mask_area is not None and info.mask_area <= 0.0:
        reasons.append("empty mask")
    elif info.mask_area is not None and info.mask_area >= 1.0:
        reasons.append("full mask")
    if info.converted is not None:
        reasons.append(f"{info.converted} source converted to RGB")
    return reasons


@dataclass
class SplitReport:
    """One split after the check."""

    inspection: SplitInspection
    unusable: list[str] = field(default_factory=list)
    """``where: what`` per problem (split-level problems first)."""
    degenerate: dict[int, list[str]] = field(default_factory=dict)
    """Index in ``inspection.examples`` → why it is degenerate (usable examples only)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inspection.name

    @property
    def dropped(self) -> int:
        """Examples the dataset leaves out of the split (degenerate ones, with ``drop_degenerate``)."""
        return len(self.degenerate) if self.inspection.drops_degenerate else 0

    @property
    def bad(self) -> int:
        """Described examples that are unusable."""
        return sum(bool(info.problems) for info in self.inspection.examples)

    @property
    def kept(self) -> int:
        """Usable examples the split yields (all of them once the unusable ones are fixed)."""
        return self.inspection.size - self.dropped - self.bad

    def degenerate_counts(self) -> Counter[str]:
        """Reason → examples (an example may count under several reasons)."""
        return Counter(r for reasons in self.degenerate.values() for r in reasons)

    def kept_examples(self) -> list[ExampleInfo]:
        """The described examples that are usable and not dropped."""
        drops = self.inspection.drops_degenerate
        return [
            info for i, info in enumerate(self.inspection.examples)
            if not info.problems and not (drops and i in self.degenerate)
        ]  # fmt: skip


@dataclass
class DataReport:
    """Every split a run uses, checked."""

    dataset: str
    splits: list[SplitReport]

    @property
    def problems(self) -> list[str]:
        return [p for s in self.splits for p in s.unusable]

    def raise_if_unusable(self) -> None:
        """:class:`DataCheckError` listing every problem, if there is one."""
        if self.problems:
            raise DataCheckError(self.problems)

    def notices(self) -> list[str]:
        """One line per split with degenerate examples or a warning: counts, and what ``drop_degenerate`` does."""
        lines = []
        for s in self.splits:
            counts = s.degenerate_counts()
            if counts:
                what = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))
                action = (
                    f"dropped {s.dropped} (drop_degenerate)" if s.dropped
                    else "kept; the dataset's drop_degenerate: true drops them"
                )
                lines.append(f"{s.name} split: {len(s.degenerate)} degenerate example(s) of {s.inspection.size} "
                             f"({what}): {action}")
            lines.extend(f"{s.name} split: {w}" for w in s.warnings)
        return lines


def splits_used(recipe) -> list[str]:
    """The splits a run reads: ``train``, and ``eval`` when it evaluates at the end or lists eval metrics."""
    return ["train", *(["eval"] if recipe.eval.at_end or recipe.eval.metrics else [])]


def check_data(recipe, dataset, backbone) -> DataReport:
    """Check every split ``recipe`` uses; never raises for bad data (see :meth:`DataReport.raise_if_unusable`).

    1. the dataset describes each split (a split it cannot even open is one problem);
    2. each described example: the dataset's problems, then the backbone's refusals;
    3. usable examples: degenerate reasons; the split: likely inverted polarity, emptiness after drops.
    """
    reports = []
    for name in splits_used(recipe):
        inspection = dataset.inspect(name)  # step 1
        report = SplitReport(inspection, unusable=list(inspection.problems))
        for index, info in enumerate(inspection.examples):
            if not info.problems:  # step 2
                info.problems.extend(backbone.check_example(info))
            if info.problems:
                report.unusable.extend(f"{info.where}: {p}" for p in info.problems)
                continue
            reasons = degenerate_reasons(info)  # step 3
            if reasons:
                report.degenerate[index] = reasons
        _split_checks(report, dataset.name)
        reports.append(report)
    return DataReport(dataset=dataset.name, splits=reports)


def _split_checks(report: SplitReport, dataset: str) -> None:
    """Step 3 at the split level: inverted-polarity warning; an empty split is unusable."""
    inspection = report.inspection
    areas = [i.mask_area for i in inspection.examples if i.mask_area is not None and not i.problems]
    large = sum(a > LARGE_MASK_AREA for a in areas)
    if areas and large > INVERTED_SHARE * len(areas):
        report.warnings.append(
            f"likely inverted mask polarity: {large} of {len(areas)} masks mark more than "
            f"{LARGE_MASK_AREA:.0%} of the image as edit (1 = edit in editrl); if white marks the kept region, "
            "set the dataset's mask convention accordingly (edit_folder: mask_convention=white_is_keep)"
        )
    if inspection.problems:
        return  # the split could not be opened: that is the message
    if inspection.size == 0:
        report.unusable.append(f"{inspection.source or dataset}: the {inspection.name} split has no examples")
    elif report.dropped and report.kept == 0:
        report.unusable.append(
            f"{inspection.source or dataset}: the {inspection.name} split is empty after dropping its "
            f"{report.dropped} degenerate examples (drop_degenerate); nothing is left to "
            f"{'train on' if inspection.name == 'train' else 'evaluate'}"
        )
