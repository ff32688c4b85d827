"""Settings of the benchmark server: Nexus' own settings, plus the baseline view's URL (bench/urls.py).

Only ``bench/run`` points DJANGO_SETTINGS_MODULE here; production uses nexus.settings, which never routes it.
"""

from nexus.settings import *  # noqa: F403 - the deployed settings, unchanged but for the URLconf

ROOT_URLCONF = "bench.urls"
