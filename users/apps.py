from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and their libraries"

    def ready(self):
        from nexus.versions import viewer_counter_register, viewer_version_register
        from users.cache import account_version_key, library_rows_declare, user_data_version_key
        from users.custom_lists import custom_list_rows_declare

        # A signed-in viewer's cached answers are keyed by their own data version (users/cache.py).
        viewer_version_register(user_data_version_key)
        # The account's own version, that this process' copy of the account is keyed by, is read along with it.
        viewer_counter_register(account_version_key)
        library_rows_declare()
        custom_list_rows_declare()
