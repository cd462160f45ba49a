"""Schemathesis against docs/openapi.yaml on a running agent: every operation, valid and invalid inputs, every
response checked (no 5xx, status, content type and body as documented, invalid input refused).

`fuzz()` drives schemathesis's hypothesis strategies itself, one operation after another, and collects each
distinct fault with a curl line to reproduce it instead of stopping at the first, so one run reports them all.
Used by tests/api/test_api_fuzz.py (bounded) and bench/api_fuzz.py (longer).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)          # per operation
    faults: dict[str, str] = field(default_factory=dict)          # "operation: what failed" -> curl to reproduce

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def _fault(exc: BaseException) -> str:
    """A short, stable description of what schemathesis found (its failures carry a title each)."""
    inner = getattr(exc, "exceptions", None) or [exc]
    titles = sorted({getattr(e, "title", None) or type(e).__name__ for e in inner})
    return "; ".join(titles)


@dataclass(frozen=True)
class Target:
    base_url: str
    staff_token: Callable[[], str] | None = None   # a fresh valid staff token: half the staff calls get one


def fuzz(target: Target, *, max_examples: int, seed: int = 18,
         modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)) -> FuzzReport:
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    report = FuzzReport()
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in modes:
                _run(operation, mode, target, http, report, max_examples, seed)
    return report


def _with_staff(case: schemathesis.Case, target: Target) -> None:
    """Past the 403: a schema-valid staff call carries a real staff token half the time, so approve, reject,
    lock, unlock and sale voids run for real (a random string is never a valid token)."""
    body = case.body
    if target.staff_token is not None and isinstance(body, dict) and isinstance(body.get("token"), str) \
            and hash(json.dumps(body, sort_keys=True, default=str)) % 2:
        body["token"] = target.staff_token()


def _run(operation: schemathesis.APIOperation, mode: GenerationMode, target: Target, http: requests.Session,
         report: FuzzReport, max_examples: int, seed: int) -> None:
    @hypothesis_seed(seed)
    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        report.cases[operation.label] += 1
        if mode is GenerationMode.POSITIVE:
            _with_staff(case, target)
        response = case.call(base_url=target.base_url, session=http, timeout=10)
        try:
            case.validate_response(response)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every fault collected, reported together
            key = f"{operation.label} [{mode.value}]: {_fault(exc)}"
            report.faults.setdefault(key, f"{case.as_curl_command()}  -> {response.status_code} "
                                          f"{response.text[:300]}")

    try:
        run()
    except Unsatisfiable:       # nothing to make invalid (an operation without parameters or body)
        return


def run_cli(base_url: str, *, max_examples: int, seed: int = 18, timeout_s: float = 600) -> tuple[int, int, str]:
    """`schemathesis run` with every phase (coverage, fuzzing, stateful) and every check: (exit code, test cases,
    its summary). The coverage phase is the one that tries undeclared methods and boundary values."""
    with tempfile.TemporaryDirectory() as work:    # it keeps a cache in .schemathesis/ of its working directory
        result = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", str(OPENAPI), "--url", base_url,
                                 "--checks", "all", "--max-examples", str(max_examples), "--workers", "1",
                                 "--seed", str(seed), "--no-color"],
                                capture_output=True, text=True, timeout=timeout_s, cwd=work)
    cases = re.search(r"(\d+) generated", result.stdout)
    summary = result.stdout[result.stdout.rfind("SUMMARY"):] if "SUMMARY" in result.stdout else result.stdout[-3000:]
    return result.returncode, int(cases.group(1)) if cases else 0, summary + result.stderr[-2000:]
