"""Nexus' URLs plus the baseline view, for the benchmark server only (bench/settings.py)."""

from django.urls import path

from bench import BASELINE_PATH
from bench.views import baseline_movies
from nexus.urls import urlpatterns as nexus_urlpatterns

urlpatterns = [path(BASELINE_PATH, baseline_movies, name="bench-baseline-movies"), *nexus_urlpatterns]
