"""Capture what the functions log, as CloudWatch would receive it, whatever test created the loggers."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def function_logs_to(stream: io.StringIO) -> Iterator[io.StringIO]:
    """Powertools binds sys.stdout when a logger is created, and metrics print to sys.stdout: redirect
    stdout, and point every Powertools handler that an earlier test created at the capture too."""
    handlers = {id(h): h for lg in logging.Logger.manager.loggerDict.values()
                if isinstance(lg, logging.Logger) and getattr(lg, "powertools_handler", None)
                for h in lg.handlers if isinstance(h, logging.StreamHandler) and h.stream is not sys.stderr}
    previous = {key: handler.setStream(stream) for key, handler in handlers.items()}
    try:
        with contextlib.redirect_stdout(stream):
            yield stream
    finally:
        for key, handler in handlers.items():
            handler.setStream(previous[key])
