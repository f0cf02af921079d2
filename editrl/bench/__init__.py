"""``editrl bench``: a grid of recipe variants × seeds, run in parallel, reused by fingerprint, and reported.

spec (the bench file), plan (the runs, their fingerprints and states), runner (processes), view (progress),
stats (mean ± std, paired t-intervals), report (report.md / report.json), plots (PNGs), sheet (image grids).
"""
