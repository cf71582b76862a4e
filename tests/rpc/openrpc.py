"""The execution-apis OpenRPC spec as a validator of JSON-RPC results.

    spec = OpenRpcSpec()                      # loads tests/fixtures/execution-apis
    spec.validate_result("eth_getBlockByNumber", result)   # raises jsonschema.ValidationError

Method files (`src/eth/*.yaml`, ...) refer to `#/components/schemas/NAME`; every
`src/schemas/*.yaml` file is merged into one components table so that each result
schema is checked in a document where those references resolve. Reusable against
any node: feed it the `result` member of real answers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "execution-apis"


class OpenRpcSpec:
    """Methods and schemas of the execution-apis specification."""

    def __init__(self, root: Path = SPEC_ROOT) -> None:
        src = root / "src"
        schemas: dict[str, Any] = {}
        for path in sorted((src / "schemas").glob("*.yaml")):
            schemas.update(yaml.safe_load(path.read_text()))
        self.schemas = schemas
        self.methods: dict[str, dict[str, Any]] = {}
        for path in sorted(src.glob("*/*.yaml")):
            if path.parent.name in ("schemas", "error-groups"):
                continue
            for method in yaml.safe_load(path.read_text()):
                self.methods[method["name"]] = method

    def has(self, method: str) -> bool:
        return method in self.methods

    def result_schema(self, method: str) -> dict[str, Any]:
        return dict(self.methods[method]["result"]["schema"])

    @functools.cache  # noqa: B019 - one spec object per test session
    def _validator(self, method: str) -> jsonschema.protocols.Validator:
        schema = self.result_schema(method)
        schema["components"] = {"schemas": self.schemas}
        validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft7Validator)
        validator_class.check_schema(schema)
        return validator_class(schema)

    def validate_result(self, method: str, result: Any) -> None:
        """Raise jsonschema.ValidationError unless `result` fits `method`'s result schema."""
        error = jsonschema.exceptions.best_match(self._validator(method).iter_errors(result))
        if error is not None:
            raise error

    def is_valid_result(self, method: str, result: Any) -> bool:
        return self._validator(method).is_valid(result)


def load_io(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (request, response) pairs of a recorded execution-apis `.io` test file."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    request: dict[str, Any] | None = None
    for line in path.read_text().splitlines():
        if line.startswith(">> "):
            request = json.loads(line[3:])
        elif line.startswith("<< ") and request is not None:
            pairs.append((request, json.loads(line[3:])))
            request = None
    return pairs
