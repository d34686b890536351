"""Load and invoke the functions exactly as Lambda does: the handler of functions/<name>/app.py."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.template import FunctionSpec


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the handlers and Powertools read."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-2:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(spec: FunctionSpec) -> ModuleType:
    """Import the function's module under a name of its own (every function's file is app.py)."""
    name = f"_lambda_{spec.logical_id}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, spec.app_path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    module = load_module(spec)
    handler = getattr(module, spec.handler_name)
    return handler(event, LambdaContext(function_name=spec.logical_id, timeout_seconds=spec.timeout))
