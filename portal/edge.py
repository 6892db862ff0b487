"""Refuses, at the edge, what no layer below should ever see: NUL characters.

PostgreSQL cannot store a NUL in a text column; psycopg raises DataError and the request became a
500 with a traceback, even before login (HTTP Basic on the token endpoint). A NUL is never valid
in anything the portal reads, so one check here answers the contract's 400 for every path
segment, query value, header (the decoded HTTP Basic credentials included) and form field. JSON
bodies are checked by the API's parser, which is the only code that decodes them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

NUL = "\x00"

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul(request: HttpRequest) -> bool:
    """Whether any part of the request that the portal reads holds a NUL."""
    if NUL in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
        return True
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            return True
    if _basic_credentials_have_nul(request.META.get("HTTP_AUTHORIZATION", "")):
        return True
    if request.method == "POST" and request.content_type in FORM_TYPES:
        # Reading POST here is what CsrfViewMiddleware does next anyway (the parse is kept).
        for name, values in request.POST.lists():
            if NUL in name or any(NUL in value for value in values):
                return True
    return False


def _basic_credentials_have_nul(header: str) -> bool:
    scheme, _space, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        return b"\x00" in base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False  # not Base64: DRF's BasicAuthentication answers 401 for that


class RefuseNulMiddleware:
    """First in MIDDLEWARE: nothing below (sessions, caches, authentication) sees a NUL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not has_nul(request):
            return self.get_response(request)
        # LocaleMiddleware has not run yet: the answer follows the request's language anyway.
        with translation.override(translation.get_language_from_request(request)):
            message = _("The request contains a NUL character, which is never valid here.")
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "bad_request", "message": message}}, status=400
                )
            return render(request, "400.html", {"message": message}, status=400)
