"""Use cases that change things. HTML views and API views call these same functions."""
