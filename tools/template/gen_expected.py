#!/usr/bin/python3
"""Renders every ../shared/templates/*.jinja over tests/template/data/conversations.json with
Python's jinja2, set up the way Hugging Face transformers renders chat templates, and writes the
results to tests/template/data/expected/ so the C++ tests need no Python.

Run from anywhere with Debian's interpreter (it has jinja2 3.1):
    /usr/bin/python3 tools/template/gen_expected.py

Also renders every snippet of tests/template/data/snippets.json (name -> {"t": template,
"v": variables}) into tests/template/data/snippets_expected.json (name -> {"out": text} or
{"error": message}).

Output per (template, conversation):
    <template>__<conv>.txt    the exact rendered text, when jinja2 renders it
    <template>__<conv>.error  jinja2's error message, when jinja2 raises (the C++ side must raise too)

Differences from transformers, on purpose:
  - strftime_now is fixed to FIXED_NOW so outputs are reproducible;
  - the environment is jinja2's SandboxedEnvironment, not ImmutableSandboxedEnvironment, so that
    templates that call list.append / list.pop (Kimi K2) render instead of raising SecurityError.
"""
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox
from jinja2 import nodes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(ROOT, "..", "shared", "templates")
DATA = os.path.join(ROOT, "tests", "template", "data")
FIXED_NOW = datetime.datetime(2025, 3, 7, 14, 5, 9)


class GenerationTracker(jinja2.ext.Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' override: no HTML escaping, unicode kept.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def make_env():
    env = jinja2.sandbox.SandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    with open(os.path.join(DATA, "conversations.json"), encoding="utf-8") as f:
        convs = json.load(f)
    out_dir = os.path.join(DATA, "expected")
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    env = make_env()
    n_ok = n_err = 0
    for fname in sorted(os.listdir(TEMPLATES)):
        if not fname.endswith(".jinja"):
            continue
        name = fname[:-len(".jinja")]
        with open(os.path.join(TEMPLATES, fname), encoding="utf-8") as f:
            source = f.read()
        for conv_name, conv in convs.items():
            base = os.path.join(out_dir, f"{name}__{conv_name}")
            try:
                # transformers always passes these three, None / False when the caller has none.
                variables = {"tools": None, "documents": None, "add_generation_prompt": False}
                variables.update(conv["variables"])
                text = env.from_string(source).render(messages=conv["messages"], **variables)
            except Exception as e:  # any jinja2 failure is an expected failure
                with open(base + ".error", "w", encoding="utf-8") as f:
                    f.write(f"{type(e).__name__}: {e}\n")
                n_err += 1
                continue
            with open(base + ".txt", "w", encoding="utf-8", newline="") as f:
                f.write(text)
            n_ok += 1
    print(f"{n_ok} renders, {n_err} expected errors", file=sys.stderr)

    # Snippets: small templates that pin down one language feature each.
    with open(os.path.join(DATA, "snippets.json"), encoding="utf-8") as f:
        snippets = json.load(f)
    results = {}
    for name, snip in snippets.items():
        try:
            results[name] = {"out": env.from_string(snip["t"]).render(**snip.get("v", {}))}
        except Exception as e:
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    with open(os.path.join(DATA, "snippets_expected.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    n_snip_err = sum(1 for r in results.values() if "error" in r)
    print(f"{len(results)} snippets, {n_snip_err} expected errors", file=sys.stderr)


if __name__ == "__main__":
    main()
