"""Cold start: a fresh interpreter importing a function's handler module, as Lambda starts one.

Each measurement is a new process started the way the Lambda runtime would start it:
- PYTHONDONTWRITEBYTECODE=1 and, in the "as built" mode, no .pyc for anything `sam build` produces
  (the function folder, the layer and the third-party packages): the child makes the import system
  ignore existing __pycache__ under those folders, so every such module is compiled from source as in
  Lambda. The interpreter's own standard library keeps its .pyc, as in the Lambda runtime image.
  The "precompiled" mode keeps every .pyc (what shipping bytecode in the layer would give).
- `python -S` with sys.path set by hand to [function folder, layer, the layer's packages], like
  /var/task, /opt/python...: no .pth processing (the editable install's finder is not Lambda's).
  The layer's packages are those `sam build` would install: the closure of
  layers/crmbridge/requirements.txt, linked from .venv into a temporary folder. The dev venv holds more
  (rich, click, requests...), and some libraries import what they find: httpx imports its CLI (click,
  rich, pygments) when they are installed, and the X-Ray SDK patches requests when it is there.
- The Lambda environment: AWS_LAMBDA_FUNCTION_NAME, AWS_EXECUTION_ENV, region, credentials and the
  function's template environment, so Powertools behaves as deployed (Tracing: Active, so the
  Tracer imports and configures the X-Ray SDK).

The time is from just before the process is spawned to the moment the handler is importable (the
child reports time.monotonic(), CLOCK_MONOTONIC, shared by every process on Linux); interpreter
teardown is excluded. The baseline is the same process doing only `import boto3; boto3.client("sqs")`.
Runs are interleaved (baseline, f1, f2, ..., baseline, f1, ...) and the median of each is kept.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import median

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "crmbridge"
REQUIREMENTS = LAYER / "requirements.txt"

BASELINE = "baseline"

# Runs in the fresh interpreter: argv = mode, kind, then the folders to put first on sys.path.
CHILD = r"""
import sys, time
t_start = time.monotonic()
mode, kind, *paths = sys.argv[1:]
if mode == "as-built":
    import _frozen_importlib_external as _ext
    _orig = _ext.cache_from_source
    _built = tuple(paths)
    def _no_pyc(path, *args, **kwargs):
        if path.startswith(_built):
            raise NotImplementedError  # the loader then compiles the source and caches nothing
        return _orig(path, *args, **kwargs)
    _ext.cache_from_source = _no_pyc
sys.path[0:0] = paths
if kind == "baseline":
    import boto3
    boto3.client("sqs")
else:
    import app
    app.lambda_handler
t_ready = time.monotonic()
sys.stdout.write(f"READY {t_start!r} {t_ready!r}\n")
sys.stdout.flush()
import os
os._exit(0)
"""


@dataclass(frozen=True)
class Target:
    name: str  # "baseline" or the function folder name (crm_webhook, ...)
    function_dir: Path | None
    environment: dict[str, str] = field(default_factory=dict)


def _placeholder(name: str, value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]  # a template parameter: its default, as deployed
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    # An intrinsic (!Ref, !GetAtt, !Sub): the deployed value is a name, URL or ARN; nothing reads it
    # at import time.
    if name.endswith("_URL"):
        return f"https://placeholder.invalid/{name.lower()}"
    if name.endswith("_ARN"):
        return f"arn:aws:secretsmanager:eu-west-2:123456789012:secret:{name.lower()}"
    return f"placeholder-{name.lower()}"


def lambda_environment(function_name: str, template_env: dict[str, Any], task_root: Path | None,
                       parameters: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "eu-west-2",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "_HANDLER": "app.lambda_handler",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    if task_root is not None:
        env["LAMBDA_TASK_ROOT"] = str(task_root)
    env.update({name: _placeholder(name, value, parameters or {}) for name, value in template_env.items()})
    return env


def targets() -> list[Target]:
    """The baseline, then every function of template.yaml (folder name, template environment)."""
    from local.template import functions, load_template, parameter_defaults

    template = load_template()
    parameters = parameter_defaults(template)
    found = [Target(BASELINE, None, lambda_environment("baseline", {}, None))]
    for spec in functions(template).values():
        folder = ROOT / spec.code_uri
        if not (folder / "app.py").is_file():
            continue
        found.append(Target(folder.name, folder, lambda_environment(spec.logical_id, spec.environment, folder,
                                                                        parameters)))
    return found


def layer_distributions() -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions `pip install -r layers/crmbridge/requirements.txt` brings in."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [Requirement(line.split("#", 1)[0].strip()) for line in REQUIREMENTS.read_text().splitlines()
            if line.split("#", 1)[0].strip()]
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(requirement.name)
        found[key[0]] = dist
        extras = set(requirement.extras) or {""}
        for text in dist.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(needed)
    return found


@contextmanager
def layer_site() -> Iterator[Path]:
    """A folder holding (as links into .venv) exactly the layer's third-party packages."""
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as folder:
        site = Path(folder)
        for dist in layer_distributions().values():
            for file in dist.files or []:
                top = file.parts[0]
                if top == ".." or top.endswith(".data") or (site / top).exists():
                    continue
                (site / top).symlink_to(Path(str(dist.locate_file(top))))
        yield site


def _command(target: Target, mode: str, site: Path, *, importtime: bool = False) -> tuple[list[str], Path]:
    paths = [str(target.function_dir)] if target.function_dir else []
    paths += [str(LAYER), str(site)]
    kind = "baseline" if target.function_dir is None else "handler"
    flags = ["-S", "-X", "importtime"] if importtime else ["-S"]
    cwd = target.function_dir or ROOT
    return [sys.executable, *flags, "-c", CHILD, mode, kind, *paths], cwd


def measure_once(target: Target, mode: str, site: Path) -> tuple[float, float]:
    """(spawn to importable, in-process import) in seconds."""
    import time

    command, cwd = _command(target, mode, site)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=target.environment, cwd=cwd,  # noqa: S603 - our own interpreter
                          timeout=120, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("READY ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"cold start of {target.name} failed ({done.returncode}): {done.stderr[-2000:]}")
    _, t_start, t_ready = line.split()
    return float(t_ready) - started, float(t_ready) - float(t_start)


@dataclass
class ColdStartResult:
    mode: str
    repeats: int
    total: dict[str, list[float]]
    imports: dict[str, list[float]]

    def median_ms(self, name: str) -> float:
        return median(self.total[name]) * 1000

    def import_median_ms(self, name: str) -> float:
        return median(self.imports[name]) * 1000


def measure(all_targets: list[Target], site: Path, *, mode: str = "as-built", repeats: int = 7) -> ColdStartResult:
    total: dict[str, list[float]] = {t.name: [] for t in all_targets}
    imports: dict[str, list[float]] = {t.name: [] for t in all_targets}
    for target in all_targets:  # one untimed run each: the files are in the page cache for every run
        measure_once(target, mode, site)
    for _ in range(repeats):
        for target in all_targets:
            whole, imported = measure_once(target, mode, site)
            total[target.name].append(whole)
            imports[target.name].append(imported)
    return ColdStartResult(mode, repeats, total, imports)


# ----------------------------------------------------------------------------- import profile


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)
    parent: ImportNode | None = None

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]


def parse_importtime(stderr: str) -> list[ImportNode]:
    """The roots of `python -X importtime` output (children are printed before their parent)."""
    pending: dict[int, list[ImportNode]] = {}
    roots: list[ImportNode] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.replace("import time:", "", 1).split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        node = ImportNode(name.strip(), int(self_us), int(cumulative_us))
        node.children = pending.pop(depth + 1, [])
        for child in node.children:
            child.parent = node
        if depth <= 0:
            roots.append(node)
        else:
            pending.setdefault(depth, []).append(node)
    for orphans in pending.values():  # imported during interpreter start-up, under no printed parent
        roots.extend(orphans)
    return roots


def _walk(nodes: list[ImportNode]):
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _group(name: str) -> str:
    top = name.split(".", 1)[0]
    if top in sys.stdlib_module_names or top.startswith("_frozen") or top in ("encodings",):
        return "(stdlib)"
    return top


def group_self_ms(roots: list[ImportNode]) -> dict[str, float]:
    out: dict[str, float] = {}
    for node in _walk(roots):
        key = _group(node.name)
        out[key] = out.get(key, 0.0) + node.self_us / 1000
    return out


def chain(node: ImportNode) -> list[str]:
    names = []
    current: ImportNode | None = node
    while current is not None:
        names.append(current.name)
        current = current.parent
    return list(reversed(names))


def profile(target: Target, baseline: Target, site: Path) -> dict[str, Any]:
    """Which imports a handler pays for that the boto3 baseline does not, with the import chain that
    first pulls each package in (as-built mode, one run each)."""
    runs = {}
    for item in (target, baseline):
        command, cwd = _command(item, "as-built", site, importtime=True)
        done = subprocess.run(command, capture_output=True, text=True, env=item.environment, cwd=cwd,  # noqa: S603 - our own interpreter
                              timeout=120, check=False)
        runs[item.name] = parse_importtime(done.stderr)
    handler_roots, baseline_roots = runs[target.name], runs[baseline.name]
    handler_groups, baseline_groups = group_self_ms(handler_roots), group_self_ms(baseline_roots)
    extra = {
        group: round(ms - baseline_groups.get(group, 0.0), 1)
        for group, ms in handler_groups.items()
        if ms - baseline_groups.get(group, 0.0) >= 2.0
    }
    first_import: dict[str, list[str]] = {}
    # The shallowest node of each extra package is the import that brought it in.
    best: dict[str, ImportNode] = {}
    for node in _walk(handler_roots):
        group = _group(node.name)
        if group not in extra or group == "(stdlib)":
            continue
        depth = len(chain(node))
        if group not in best or depth < len(chain(best[group])) or (
                depth == len(chain(best[group])) and node.cumulative_us > best[group].cumulative_us):
            best[group] = node
    for group, node in best.items():
        first_import[group] = chain(node)
    app = next((n for n in handler_roots if n.name == "app"), None)
    direct = []
    if app is not None:
        direct = sorted(((c.name, round(c.cumulative_us / 1000, 1)) for c in app.children),
                        key=lambda item: -item[1])
    heavy = sorted(
        ((n.name, round(n.self_us / 1000, 1), " > ".join(chain(n)[:-1][-4:])) for n in _walk(handler_roots)
         if n.self_us >= 5000),
        key=lambda item: -item[1],
    )
    return {
        "handler_import_ms": round(app.cumulative_us / 1000, 1) if app else None,
        "baseline_import_ms": round(sum(n.cumulative_us for n in baseline_roots) / 1000, 1),
        "extra_self_ms_by_package": dict(sorted(extra.items(), key=lambda item: -item[1])),
        "first_imported_by": first_import,
        "handler_direct_imports_ms": direct,
        "heaviest_modules_self_ms": heavy[:15],
    }


def main() -> None:  # pragma: no cover - manual use: python -m bench.coldstart
    import json

    found = targets()
    with layer_site() as site:
        print(sorted(p.name for p in site.iterdir()))
        result = measure(found, site, repeats=3)
        for target in found:
            print(f"{target.name:<18} {result.median_ms(target.name):8.1f} ms  "
                  f"import {result.import_median_ms(target.name):8.1f} ms")
        by_name = {t.name: t for t in found}
        print(json.dumps(profile(by_name["crm_webhook"], by_name[BASELINE], site), indent=1))


if __name__ == "__main__":
    main()
