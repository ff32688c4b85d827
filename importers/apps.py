from django.apps import AppConfig


class ImportersConfig(AppConfig):
    name = "importers"
    verbose_name = "Dataset importers"

    def ready(self):
        # Registered in every process, as the recommender's tasks (recommender/apps.py): the library queues the
        # import by name, and where tasks run eagerly (the embedded default) the name must resolve here.
        from importers import tasks  # noqa: F401
