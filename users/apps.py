from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and their libraries"

    def ready(self):
        from nexus.versions import viewer_version_register
        from users.cache import library_rows_declare, user_data_version_key
        from users.custom_lists import custom_list_rows_declare

        # A signed-in viewer's cached answers are keyed by their own data version (users/cache.py).
        viewer_version_register(user_data_version_key)
        library_rows_declare()
        custom_list_rows_declare()
