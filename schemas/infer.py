#!/usr/bin/env python3
"""Infers a JSON Schema (draft 7) from real outputs of one goscope command: every object's
properties (required when every sample has them), value types, hex address strings. Run by hand when an output changes (see schemas/README.md); the schemas are checked in
and crates/cli/tests/json_schemas.rs validates fresh outputs of other builds against them.

    infer.py TITLE DESCRIPTION < samples.jsonl > schema.json   (one JSON document per line)
"""
import json
import re
import sys

HEX = re.compile(r"^0x[0-9a-f]+$")
# Objects whose keys are data, not fields (a count per goroutine state, pprof labels).
DYNAMIC = {"goroutine_counts", "labels", "pause_phases_us", "args", "results"}


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def infer(values):
    kinds = {kind(v) for v in values}
    if "integer" in kinds and "number" in kinds:
        kinds.discard("integer")
    schemas = []
    for k in sorted(kinds):
        vs = [v for v in values if kind(v) == k or (k == "number" and kind(v) == "integer")]
        if k == "object":
            keys = sorted({key for v in vs for key in v})
            props = {}
            for key in keys:
                got = [v[key] for v in vs if key in v]
                dynamic = key in DYNAMIC or (
                    key == "goroutines" and all(isinstance(g, dict) for g in got))
                if dynamic and all(isinstance(g, dict) for g in got):
                    inner = [x for g in got for x in g.values()]
                    props[key] = {"type": "object"}
                    if inner:
                        props[key]["additionalProperties"] = infer(inner)
                else:
                    props[key] = infer(got)
            required = [key for key in keys if all(key in v for v in vs)]
            # Fields may be added (an additive change keeps scripts working); the ones every
            # sample has are required, and every field keeps its type.
            s = {"type": "object", "properties": props}
            if required:
                s["required"] = required
            schemas.append(s)
        elif k == "array":
            items = [x for v in vs for x in v]
            s = {"type": "array"}
            if items:
                s["items"] = infer(items)
            schemas.append(s)
        elif k == "string":
            s = {"type": "string"}
            if vs and all(HEX.match(v) for v in vs):
                s["pattern"] = HEX.pattern
            schemas.append(s)
        else:
            schemas.append({"type": k})
    if len(schemas) == 1:
        return schemas[0]
    if all(set(s) == {"type"} for s in schemas):
        return {"type": [s["type"] for s in schemas]}
    return {"anyOf": schemas}


def main():
    title, description = sys.argv[1], sys.argv[2]
    samples = [json.loads(l) for l in sys.stdin if l.strip()]
    s = {"$schema": "http://json-schema.org/draft-07/schema#", "title": title,
         "description": description}
    s.update(infer(samples))
    json.dump(s, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


main()
