"""JSON bodies only, and only up to a size: a bigger body is 413 before it is read in full."""

import io
from typing import Any

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers, status

#: Request bodies the API accepts (project and member writes are a few hundred bytes).
MAX_BODY_BYTES = 256 * 1024


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = format_lazy(
        gettext_lazy("The request body is larger than {size} KiB."), size=MAX_BODY_BYTES // 1024
    )
    default_code = "request_too_large"


class NulInBody(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = gettext_lazy(
        "The request contains a NUL character, which is never valid here."
    )
    default_code = "bad_request"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = min(MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if length > limit:
            raise RequestTooLarge()
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise RequestTooLarge()
        try:
            parsed = super().parse(io.BytesIO(data), media_type, parser_context)
        except RecursionError:
            # "[[[[…" nested deeper than Python's json module can follow.
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        # JSON spells a NUL only as an escape: walk the document only when one may be there. The
        # database cannot store it (portal.edge refuses it everywhere else).
        try:
            if b"\\u0000" in data and _has_nul(parsed):
                raise NulInBody()
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        return parsed
