"""Benchmark harness (``bench/run``): Nexus under load beside a plain Django ORM baseline. Never deployed."""

# Where bench/urls.py routes the baseline view; the harness loads it there. No Django import here: the harness
# itself runs without settings.
BASELINE_PATH = "bench/baseline/movies"
