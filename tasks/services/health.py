"""The health of one task over a window, from its snapshots: time in each state, the share of
observed time it was up, flips, the longest problem and the segments a strip draws.

What counts as *observed* (the rule, stated once):

- A version's own span, `first_seen` .. `last_seen`, is observed in its state: the same content
  was seen at both ends (the portal keeps no finer record of the sightings in between).
- After its `last_seen`, a sighting vouches for its state until the next version is first seen,
  but for at most `max_gap` = 2 × the project's poll interval (one missed poll tolerated): that is
  what the polling cadence explains. The rest of a longer gap is *unobserved* — the worker was
  down, nobody looked — and counts neither as up nor as down. The time after the newest sighting
  follows the same rule, so a task nobody fetched lately fades into unobserved time.
- Time before the task's first sighting is unobserved.

Up means RUNNING or SUCCEEDED. A *flip* is a change between up and not up (the states on either
side of an unobserved gap count as consecutive: the task did change). A *problem* starts when the
task enters a problem state (ABNORMAL, FAILED, CREATE_FAILED, START_FAILED, FREEZING, FROZEN, or
STOPPED straight from RUNNING, as the contract's events define it) and lasts until it is up again;
its length is the observed time in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.models import TaskSnapshot, TrackedTask

UP_STATES = frozenset({"RUNNING", "SUCCEEDED"})
PROBLEM_STATES = frozenset(
    {"ABNORMAL", "FAILED", "CREATE_FAILED", "START_FAILED", "FREEZING", "FROZEN"}
)
#: The windows the detail page shows and the API accepts the bounds of.
WINDOWS = (1, 7, 30, 90)
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 90, 7
#: Until the monitor's CloudProject.poll_interval exists (and for projects without one).
DEFAULT_POLL_INTERVAL = 300
#: How many poll intervals one sighting vouches for (one missed poll tolerated).
VOUCHED_INTERVALS = 2


@dataclass(frozen=True)
class Segment:
    """A stretch of the window in one state; `state` None = unobserved."""

    state: str | None
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def up(self) -> bool:
        return self.state in UP_STATES


@dataclass
class Health:
    start: datetime
    end: datetime
    segments: list[Segment] = field(default_factory=list)
    state_seconds: dict[str, float] = field(default_factory=dict)
    observed_seconds: float = 0.0
    flips: int = 0
    longest_problem_seconds: float = 0.0

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400

    @property
    def up_seconds(self) -> float:
        return sum(s for state, s in self.state_seconds.items() if state in UP_STATES)

    @property
    def up_ratio(self) -> float | None:
        """Share of the observed time spent up; None when nothing was observed."""
        if self.observed_seconds <= 0:
            return None
        return self.up_seconds / self.observed_seconds

    @property
    def unobserved_seconds(self) -> float:
        return (self.end - self.start).total_seconds() - self.observed_seconds

    def as_dict(self) -> dict[str, Any]:
        """The contract's `…/health/` answer."""
        ratio = self.up_ratio
        return {
            "from": _iso(self.start),
            "to": _iso(self.end),
            "observed_seconds": round(self.observed_seconds),
            "state_seconds": {k: round(v) for k, v in sorted(self.state_seconds.items())},
            "up_ratio": None if ratio is None else round(ratio, 4),
            "flips": self.flips,
            "longest_problem_seconds": round(self.longest_problem_seconds),
            # Unobserved stretches are listed too (state null): the segments tile the window.
            "segments": [
                {"state": s.state, "from": _iso(s.start), "to": _iso(s.end)} for s in self.segments
            ],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def max_gap_for(poll_interval: int | None) -> timedelta:
    return timedelta(seconds=VOUCHED_INTERVALS * (poll_interval or DEFAULT_POLL_INTERVAL))


def poll_interval_of(project: Any) -> int:
    """The project's poll interval (the monitor's field), or the default before it exists."""
    return int(getattr(project, "poll_interval", None) or DEFAULT_POLL_INTERVAL)


Version = tuple[str, datetime, datetime]  # (state, first_seen, last_seen), in seq order


def health_from_versions(
    versions: list[Version], *, start: datetime, end: datetime, max_gap: timedelta
) -> Health:
    """The health over [start, end] of a task whose versions are `versions` (pure; see the
    module's docstring for what counts as observed). Versions wholly outside are ignored."""
    observed: list[Segment] = []
    for index, (state, first, last) in enumerate(versions):
        following = versions[index + 1][1] if index + 1 < len(versions) else end
        vouched_until = min(max(following, last), last + max_gap)
        _add(observed, Segment(state or "", max(first, start), min(vouched_until, end)))
    health = Health(start=start, end=end)
    cursor = start
    for segment in observed:
        if segment.start > cursor:
            health.segments.append(Segment(None, cursor, segment.start))
        health.segments.append(segment)
        cursor = segment.end
    if cursor < end:
        health.segments.append(Segment(None, cursor, end))
    _summarise(health)
    return health


def _add(observed: list[Segment], segment: Segment) -> None:
    """Appends an observed segment (dropping empty ones), merged with the previous one when it
    continues it in the same state."""
    if segment.end <= segment.start:
        return
    if observed and observed[-1].state == segment.state and observed[-1].end >= segment.start:
        end = max(segment.end, observed[-1].end)
        observed[-1] = Segment(segment.state, observed[-1].start, end)
    elif observed and observed[-1].end > segment.start:  # overlapping clocks: keep order
        observed.append(Segment(segment.state, observed[-1].end, segment.end))
    else:
        observed.append(segment)


def _summarise(health: Health) -> None:
    previous: Segment | None = None
    problem: float | None = None  # observed seconds of the problem in progress
    for segment in health.segments:
        if segment.state is None:
            continue
        seconds = segment.seconds
        health.state_seconds[segment.state] = health.state_seconds.get(segment.state, 0) + seconds
        health.observed_seconds += seconds
        if previous is not None and previous.up != segment.up:
            health.flips += 1
        starts_problem = segment.state in PROBLEM_STATES or (
            segment.state == "STOPPED" and previous is not None and previous.state == "RUNNING"
        )
        if segment.up:
            problem = None
        elif problem is not None:
            problem += seconds
        elif starts_problem:
            problem = seconds
        if problem is not None:
            health.longest_problem_seconds = max(health.longest_problem_seconds, problem)
        previous = segment


def _versions(task: TrackedTask, since: datetime, until: datetime) -> list[Version]:
    # Only the versions that can touch the window: last seen no earlier than `max_gap` before it
    # (an older one vouches for nothing inside). Served by the (task, last_seen) index
    # "snapshot_task_last_seen" as one range scan in order; no payload is read.
    rows = (
        TaskSnapshot.objects.filter(task=task, last_seen__gte=since, first_seen__lte=until)
        .order_by("last_seen")
        .values_list("state", "first_seen", "last_seen")
    )
    return list(rows)


def task_health_get(*, task: TrackedTask, days: int, now: datetime) -> Health:
    """The health of `task` over the `days` days up to `now` (one query)."""
    return task_health_windows(task=task, now=now, windows=(days,))[days]


def task_health_windows(
    *, task: TrackedTask, now: datetime, windows: tuple[int, ...] = WINDOWS
) -> dict[int, Health]:
    """The health over each of `windows` (days), from one read of the widest one."""
    max_gap = max_gap_for(poll_interval_of(task.project))
    widest = now - timedelta(days=max(windows))
    versions = _versions(task, widest - max_gap, now)
    return {
        days: health_from_versions(
            versions, start=now - timedelta(days=days), end=now, max_gap=max_gap
        )
        for days in windows
    }
