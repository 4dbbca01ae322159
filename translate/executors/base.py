"""The executor interface: where the work stage of a plan runs.

An executor takes a work folder made by `plan` and translates its unfinished shards (all, or the ones named),
leaving result files and done markers that `assemble` reads. The stages themselves live in `translate.cluster`;
an executor only decides where and how many at once. Executors are picked by name from a registry
(`translate.executors.get_executor`); third parties add more through the entry-point group `translate.executors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

from translate.cluster.workdir import Workdir, is_done, load_plan
from translate.errors import ConfigError

# (segments done, segments in all) as the work goes on.
ProgressCallback = Callable[[int, int], None]


class Executor:
    """Base class. Subclasses set `name` and implement `run_pending`."""

    name: ClassVar[str] = "base"

    def default_shards(self) -> int:
        """How many work units `run --engine NAME` plans for this executor."""
        return 1

    def run(self, workdir: str | Path, shards: list[int] | None = None, extra_options: dict[str, Any] | None = None,
            progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Translate the unfinished shards of the plan in `workdir` (all, or those in `shards`). `extra_options`:
        backend options for this stage only (secrets, a device), never written down. Returns a summary with at
        least `shards` (the ones worked on), `skipped` and `translated`."""
        wd = Workdir(workdir)
        plan = load_plan(wd.root)
        selected, pending = pending_shards(wd, plan, shards)
        summary: dict[str, Any] = {"skipped": len(selected) - len(pending), "shards": pending, "translated": 0}
        if pending:
            summary.update(self.run_pending(wd, plan, pending, extra_options, progress))
        return summary

    def run_pending(self, wd: Workdir, plan: dict[str, Any], pending: list[int],
                    extra_options: dict[str, Any] | None, progress: ProgressCallback | None) -> dict[str, Any]:
        """Translate the `pending` shards (never empty, each checked against the plan); returns what goes into the
        summary beyond `run`'s own keys, at least `translated`."""
        raise NotImplementedError


def pending_shards(wd: Workdir, plan: dict[str, Any], shards: list[int] | None) -> tuple[list[int], list[int]]:
    """(selected, pending): the shards asked for (all when None), checked against the plan, and those of them
    without a done marker."""
    count = plan["shards"]["count"]
    selected = list(range(count)) if shards is None else sorted(set(shards))
    for i in selected:
        if not 0 <= i < count:
            raise ConfigError(f"shard {i} is not in this plan: it has shards 0 to {count - 1}")
    return selected, [i for i in selected if not is_done(wd, i, plan)]
