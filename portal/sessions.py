"""Django's cached_db sessions, read through the read-ahead batch (tasks.caching)."""

from django.contrib.sessions.backends import cached_db

from tasks.caching import readahead


class SessionStore(cached_db.SessionStore):
    def load(self):
        data = readahead.get(self.cache_key)
        return data if data is not None else super().load()
