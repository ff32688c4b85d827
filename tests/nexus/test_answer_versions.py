"""Versions one answer depends on (nexus/answer_versions.py): recorded while it is computed, read before the data,
and an answer whose recorded versions moved on (or could not be read) is never served from the cache."""

from django.test import override_settings

from nexus.answer_versions import answer_depends_on, answer_versions_collected, answer_versions_current
from nexus.caches import LIMITS
from nexus.versions import version_bump_now
from schema.pipeline.response_cache import cached_data_get, cached_data_set
from tests.schema.test_rate_limits import unreachable_caches


def test_recorded_while_collecting_and_stale_after_a_bump(db, redis_cache):
    answer_depends_on("outside:version")  # outside a collection: nothing to record, nothing read
    with answer_versions_collected() as recorded:
        answer_depends_on("list:1:version")
        answer_depends_on("list:1:version")
    assert list(recorded) == ["list:1:version"]
    cached_data_set("response:test", b'{"list": {}}', recorded)
    assert answer_versions_current(recorded) and cached_data_get("response:test") == b'{"list": {}}'
    version_bump_now("list:1:version")
    assert not answer_versions_current(recorded)
    assert cached_data_get("response:test") is None


def test_a_version_that_cannot_be_read_keeps_the_answer_out_of_the_cache(db, redis_cache):
    caches = unreachable_caches(LIMITS)
    caches[LIMITS]["OPTIONS"]["IGNORE_EXCEPTIONS"] = True  # as in production (nexus/settings.py)
    with override_settings(CACHES=caches), answer_versions_collected() as recorded:
        answer_depends_on("list:2:version")
    assert recorded == {"list:2:version": None}
    cached_data_set("response:unreadable", b"{}", recorded)
    assert cached_data_get("response:unreadable") is None
