from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self):
        from nexus.versions import rows_shown_by, shared_version_register, viewer_counter_register
        from recommender import tasks  # noqa: F401 - registers the tasks in this process: see below
        from recommender.store import live_version_for_answers, user_list_version_key

        # The tasks are registered in every process, not only in workers (which find them by autodiscovery): the
        # library and the services queue them by name, and where tasks run eagerly (the embedded default) a name
        # must resolve to its task in this process.

        # Recommendations, trending and similar lists come from the live model: a new one makes cached answers old.
        shared_version_register("recommender-model", live_version_for_answers)
        # A viewer's answers that show their own list depend on its counter too: a refresh invalidates just those.
        viewer_counter_register(user_list_version_key)
        # Its tables (training runs) show in no cached answer: the lists come from the store.
        for model in self.get_models():
            rows_shown_by(model, None)
