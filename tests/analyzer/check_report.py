#!/usr/bin/env python3
"""Validates a memtrace JSON report against schemas/report.schema.json with a
small validator (type, const, enum, required, properties,
additionalProperties, items, minimum, $ref), so no package is needed.
Usage: check_report.py SCHEMA REPORT  -> exit 0, or 1 with the first error."""
import json
import sys

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def check(v, s, root, path):
    if "$ref" in s:
        node = root
        for part in s["$ref"].lstrip("#/").split("/"):
            node = node[part]
        check(v, node, root, path)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(is_type(v, t) for t in ts):
            raise ValueError(f"{path}: {v!r:.60} is not {s['type']}")
    if "const" in s and v != s["const"]:
        raise ValueError(f"{path}: {v!r} != {s['const']!r}")
    if "enum" in s and v not in s["enum"]:
        raise ValueError(f"{path}: {v!r} not in {s['enum']}")
    if "minimum" in s and is_type(v, "number") and v < s["minimum"]:
        raise ValueError(f"{path}: {v} < {s['minimum']}")
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                raise ValueError(f"{path}: missing {k}")
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                check(x, props[k], root, f"{path}.{k}")
            elif isinstance(s.get("additionalProperties"), dict):
                check(x, s["additionalProperties"], root, f"{path}.{k}")
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v):
            check(x, s["items"], root, f"{path}[{i}]")


def main():
    schema = json.load(open(sys.argv[1]))
    report = json.load(open(sys.argv[2]))
    try:
        check(report, schema, schema, "$")
    except ValueError as e:
        print(f"invalid report: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
