"""URL converters shared by the HTML and API URL confs."""

from django.urls import register_converter

from tasks.vas import VIAS_SERVICE


class VasServiceConverter:
    """A VAS service name in a path: any segment except the reserved ``vias``, whose tasks live
    under ``…/vias/tasks/…`` (a ``…/services/vias/…`` path matches no route: 404). Reversing
    ``task_detail`` with ``service="vias"`` therefore finds the VIAS route, not this one."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        if value == VIAS_SERVICE:
            raise ValueError("reserved for VIAS")
        return value

    def to_url(self, value: str) -> str:
        if value == VIAS_SERVICE:
            raise ValueError("reserved for VIAS")
        return value


register_converter(VasServiceConverter, "vas_service")
