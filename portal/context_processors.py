"""The links every page's top bar shows, reversed once per URL prefix and URLconf, not per page."""

from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse

SITE_URL_NAMES = ("projects", "set_language", "account_tokens", "logout", "login")


@lru_cache(maxsize=16)
def _site_urls(prefix: str, urlconf: str | None) -> dict[str, str]:
    return {name: reverse(name, urlconf=urlconf) for name in SITE_URL_NAMES}


def site_urls(request) -> dict[str, dict[str, str]]:
    return {"site_urls": _site_urls(get_script_prefix(), get_urlconf())}
