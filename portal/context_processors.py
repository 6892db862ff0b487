"""What every page's frame shows that does not change between requests: the top bar's links,
the stylesheet and icon, and the language switch's other languages. Worked out once per URL
prefix, URLconf and language, not on every page."""

from functools import lru_cache

from django.conf import settings
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation

SITE_URL_NAMES = (
    "dashboard",
    "projects",
    "set_language",
    "account_tokens",
    "two_factor",
    "logout",
    "login",
)


@lru_cache(maxsize=32)
def _site(prefix: str, urlconf: str | None, language: str) -> dict:
    return {
        **{name: reverse(name, urlconf=urlconf) for name in SITE_URL_NAMES},
        "favicon": static("favicon.svg"),
        "css": static("css/portal.css"),
        "other_languages": [
            (code, translation.get_language_info(code)["name_local"])
            for code, _name in settings.LANGUAGES
            if code != language
        ],
    }


def site(request) -> dict[str, dict]:
    return {"site": _site(get_script_prefix(), get_urlconf(), translation.get_language())}
