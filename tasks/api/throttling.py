"""The API's request rate: PORTAL_API_RATE per user (per address for anonymous requests).

Forced refreshes (`refresh=true`) have the tighter PORTAL_REFRESH_RATE scope, enforced by the task
service itself (`tasks.services.task_fetch.refresh_allow`) so that the page's refresh button and
the API share one budget per user; it answers 429 `throttled` like this throttle does.
"""

from rest_framework.throttling import UserRateThrottle


class ApiRateThrottle(UserRateThrottle):
    scope = "user"
