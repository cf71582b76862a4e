"""Progress bars of the command line (rich; the only module that imports it): a starting
node's block sync, `peerchain db check`, chain export and import. They draw on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from peerchain.node.validator import ConsensusNode


def block_progress(verb: str) -> Progress:
    """A bar over a number of blocks: done/total, percent, the task's `detail` field,
    elapsed and remaining time. Add the task with `detail=""`."""
    return Progress(
        TextColumn(f"[bold]{verb}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


class SyncProgress:
    """Show a progress bar while the node block-syncs (unless `enabled` is False, as with
    JSON logs, where the log says where block sync is)."""

    def __init__(self, node: ConsensusNode, *, enabled: bool = True) -> None:
        self.node = node
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("block sync"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            transient=True,
        )
        self.task = self.progress.add_task("sync", total=None)

    def __enter__(self) -> SyncProgress:
        if not self.enabled:
            return self

        def update(height: int, target: int) -> None:
            if not self.progress.live.is_started:
                self.progress.start()
            self.progress.update(self.task, completed=height, total=target)
            if height >= target:
                self.progress.stop()

        self.node.on_sync_progress = update
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


class CheckProgress:
    """One progress bar per phase of `peerchain db check` (records, then blocks), on
    stderr, with counts, percentage, elapsed and remaining time."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> CheckProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            label = {"records": "record checksums", "blocks": "blocks and state tries"}[phase]
            self.tasks[phase] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[phase], completed=done, total=total)
