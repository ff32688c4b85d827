"""Data versions (nexus/versions.py): counters that cached data is keyed by, and each process' short-lived copies
of the shared ones."""

from django.test import override_settings

import nexus.versions
from catalog.cache import catalog_version, catalog_version_bump_now
from nexus.caches import LIMITS, limits_cache
from nexus.versions import version_bump_now, versions_get
from tests.schema.test_rate_limits import unreachable_caches


def test_a_bump_changes_the_version(db):
    first = versions_get(["test:version"])[0]
    version_bump_now("test:version")
    assert versions_get(["test:version"]) == [first + 1]


def test_an_unreachable_cache_has_no_versions_and_leaves_other_answers_empty(db):
    caches = unreachable_caches(LIMITS)
    caches[LIMITS]["OPTIONS"]["IGNORE_EXCEPTIONS"] = True  # as in production (nexus/settings.py)
    with override_settings(CACHES=caches):
        assert versions_get(["a", "b"]) is None
        assert limits_cache.get_many(["throttle"]) == {}  # django-redis' shared empty answer was not written into


def test_a_process_reuses_its_copy_of_a_shared_version_for_the_configured_seconds(settings, monkeypatch):
    settings.NEXUS_SHARED_VERSION_SECONDS = 60
    monkeypatch.setattr(nexus.versions, "_recent", {})
    seen = catalog_version()
    # Another process bumps it: this one keeps its copy ...
    limits_cache.incr("catalog:version")
    assert catalog_version() == seen
    # ... until it is old enough ...
    clock = [nexus.versions.time.monotonic() + 61]
    monkeypatch.setattr(nexus.versions.time, "monotonic", lambda: clock[0])
    assert catalog_version() == seen + 1
    # ... or this process bumps it itself.
    catalog_version_bump_now()
    assert catalog_version() == seen + 2


def test_a_stream_of_changes_marks_one_due_bump_with_one_write_and_the_bump_still_comes(db, monkeypatch):
    from nexus.versions import version_bump_due

    writes = []
    add = limits_cache.add
    monkeypatch.setattr(limits_cache, "add", lambda *args, **kwargs: writes.append(args[0]) or add(*args, **kwargs))
    first = versions_get(["test:soon"])[0]
    writes.clear()
    for _ in range(5):
        version_bump_due("test:soon", within=30)
    assert writes == ["test:soon:bump-due"]  # the later changes are covered by the bump already due
    assert versions_get(["test:soon"]) == [first]  # not yet due
    now = nexus.versions.time.time()
    monkeypatch.setattr(nexus.versions.time, "time", lambda: now + 31)
    assert versions_get(["test:soon"]) == [first + 1]
    version_bump_due("test:soon", within=30)  # the bump was applied: a new change marks a new one
    assert [key for key in writes if key.endswith(":bump-due")] == ["test:soon:bump-due"] * 2
