"""Statistics over seeds: mean ± sample std, and paired differences with a Student-t confidence interval."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields

from scipy.stats import t as student_t


class _Record:
    """JSON round trip of a dataclass of numbers: nan is written as null and read back as nan."""

    def as_dict(self) -> dict:
        """JSON-ready: nan becomes None."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict):
        floats = {f.name for f in fields(cls) if f.type == "float"}
        return cls(**{k: math.nan if v is None and k in floats else v for k, v in data.items()})


@dataclass
class Summary(_Record):
    """Mean and sample standard deviation (n − 1 in the denominator; nan for a single value) of n values."""

    mean: float
    std: float
    n: int
    values: list[float]

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        std = statistics.stdev(values) if len(values) > 1 else math.nan
        return cls(statistics.fmean(values), std, len(values), list(values))

    def text(self) -> str:
        return f"{self.mean:.3f}" if math.isnan(self.std) else f"{self.mean:.3f} ± {self.std:.3f}"


@dataclass
class PairedDifference(_Record):
    """Differences d_s = variant_s − baseline_s over the common seeds s, with the two-sided t-interval

        mean(d) ± t_{1−α/2, n−1} · std(d) / √n,

    ``distinguishable`` when the interval excludes 0. With a single seed there is no interval (nan, not
    distinguishable)."""

    mean: float
    std: float
    n: int
    low: float
    high: float
    level: float
    distinguishable: bool
    seeds: list[int]

    @classmethod
    def of(cls, variant: dict[int, float], baseline: dict[int, float], level: float = 0.95) -> PairedDifference:
        seeds = sorted(set(variant) & set(baseline))
        diffs = [variant[s] - baseline[s] for s in seeds]
        summary = Summary.of(diffs)
        if len(diffs) < 2:
            return cls(summary.mean, math.nan, len(diffs), math.nan, math.nan, level, False, seeds)
        half = float(student_t.ppf(0.5 + level / 2, len(diffs) - 1)) * summary.std / math.sqrt(len(diffs))
        low, high = summary.mean - half, summary.mean + half
        return cls(summary.mean, summary.std, len(diffs), low, high, level, bool(low > 0 or high < 0), seeds)

    def text(self) -> str:
        if math.isnan(self.low):
            return f"{self.mean:+.3f} (one seed, no interval)"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]" + (" **" if self.distinguishable else "")
