"""Log output of the long-running commands: readable text, or one JSON object per line.

`--log-format json` (on `peerchain node`, `dev` and `devnet`) makes every line a node
prints a JSON object, for log shippers (Loki, Elasticsearch, journald):

    {"ts": "2025-01-02T03:04:05.678Z", "level": "info", "logger": "peerchain.consensus",
     "msg": "committed block 7 (0 txs) 0x1234...", "pid": 4242}

with `exc` (the traceback) when one was logged, and any `extra=` fields of the call.
The start-up banners go through `announce`, so they are JSON records too.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import click

LOG_FORMATS = ("text", "json")
ANNOUNCE = logging.getLogger("peerchain")

# Attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, logger, msg, pid, exc, extras."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str)


def log_format_option(function: Any) -> Any:
    """The `--log-format text|json` option of a long-running command."""
    return click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default="text",
        show_default=True,
        help="json: one JSON object per line (logs and banners), for log collectors.",
    )(function)


class _Mode:
    json = False


def use_log_format(log_format: str) -> None:
    """Switch the root logger's output (set up by `peerchain --log-level`) to `log_format`;
    `announce` follows."""
    _Mode.json = log_format == "json"
    if _Mode.json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


def json_logs() -> bool:
    """Whether `--log-format json` is in force."""
    return _Mode.json


def announce(message: str) -> None:
    """A line for the operator: printed as is, or in JSON mode a log record at level info
    that is written whatever `--log-level` says (as the text line would be)."""
    if _Mode.json:
        ANNOUNCE.handle(ANNOUNCE.makeRecord(ANNOUNCE.name, logging.INFO, "", 0, message, (), None))
    else:
        click.echo(message)
