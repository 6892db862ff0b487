"""The project API answers JSON whatever the Accept header says: DRF's default negotiation
parses and compares every media type of every request only to choose among one renderer.
(The schema view keeps DRF's: it offers YAML and JSON.)"""

from rest_framework.negotiation import DefaultContentNegotiation


class JSONOnlyNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
