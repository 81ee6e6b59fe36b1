"""schema/openapi.yaml kept honest against the server.

1. The document parses (strict YAML: no duplicate keys, JSON-compatible values) and is OpenAPI 3.1.x,
   with info.version equal to meson.build's project version.
2. Every route of server/api/routes.c ({"METHOD", "/pattern", handler}, '*' segments = {param}) is a
   documented path + method, and every documented path + method is a route: drift either way fails.
3. Every $ref resolves; every schema uses only keywords the validator below understands (so nothing
   is silently ignored); every operation names its role, declares its path parameters, and its error
   replies are application/problem+json built on Problem.
4. The real daemon (harness.Daemon) is driven through every operation: each live reply's status,
   headers and body are validated against what the document says for that path, method, status and
   media type, with a small JSON Schema (2020-12 subset) validator written here. A key renamed in
   the server or the document, a status or header the document does not list, or a null where the
   document promises a number fails.
5. The documented request limits agree with the server: a set of boundary bodies is accepted by the
   schema exactly when the server accepts it.

PyYAML is required (Debian: python3-yaml). When the interpreter running this file lacks it and
/usr/bin/python3 has it, the file re-executes itself under /usr/bin/python3; otherwise it fails.
"""

import os
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
_REEXEC_MARK = "SURVEYD_OPENAPI_TEST_REEXEC"


def _import_yaml():
    try:
        import yaml  # noqa: PLC0415
        return yaml
    except ImportError:
        pass
    if (__name__ == "__main__" and os.environ.get(_REEXEC_MARK) != "1"
            and os.access(SYSTEM_PYTHON, os.X_OK)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import yaml"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            env = dict(os.environ)
            env[_REEXEC_MARK] = "1"
            sys.stdout.flush()
            sys.stderr.flush()
            os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:], env)
    sys.stderr.write(
        "FAIL: test_openapi.py needs PyYAML, which %s (%s) cannot import%s.\n"
        "Install it with: apt-get install -y python3-yaml\n"
        % (sys.executable, sys.version.split()[0],
           "" if os.access(SYSTEM_PYTHON, os.X_OK) else " (and there is no %s)" % SYSTEM_PYTHON))
    sys.exit(1)


yaml = _import_yaml()

import copy  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402
import urllib.parse  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, REPO_ROOT,  # noqa: E402
                     BaseAPITest, Daemon, fmt_time, raw_request, uid, utc_now)

OPENAPI_PATH = os.path.join(REPO_ROOT, "schema", "openapi.yaml")
ROUTES_PATH = os.path.join(REPO_ROOT, "server", "api", "routes.c")
MESON_PATH = os.path.join(REPO_ROOT, "meson.build")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OPTIONS is documented on every path but answered by the HTTP layer, not by a route in routes.c.
ROUTED_METHODS = tuple(m for m in HTTP_METHODS if m != "options")
ROLES = {"admin", "read", "ingest", "public"}
PROBLEM_REF = "#/components/schemas/Problem"
JSON_TYPES = {"application/json", "application/problem+json"}
NO_DELIVERY = "dlv_" + "a" * 26

# Reply headers that carry meaning: when the server sends one, the document must list it.
MEANINGFUL_HEADERS = ("Location", "ETag", "Retry-After", "WWW-Authenticate", "Allow",
                      "Idempotent-Replayed", "Content-Disposition", "Content-Security-Policy",
                      "Referrer-Policy", "Cross-Origin-Resource-Policy", "X-Content-Type-Options")


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML would silently keep the last)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found duplicate key %r (first at line %d)" % (key, seen[key].line + 1),
                key_node.start_mark)
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document():
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        return yaml.load(f, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def meson_version():
    with open(MESON_PATH, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"project\s*\((?:[^()]|\([^()]*\))*?\bversion\s*:\s*'([^']+)'", text, re.S)
    if not m:
        raise AssertionError("no project version in %s" % MESON_PATH)
    return m.group(1)


def strip_c_comments(text):
    """C source without comments; string and character literals ("/v1/surveys/*/responses" holds
    both '/*' and '*/') are kept whole."""
    token = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*', re.S)
    return token.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", text)


# {"METHOD", "/pattern", handler, admit}: the fourth field (admit hook or NULL) is optional.
ROUTE_RE = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"\s*,\s*([A-Za-z_]\w*)\s*(?:,\s*[A-Za-z_]\w*\s*)?\}')


def parse_routes():
    """[(METHOD, '/pattern/*')] from the routing table in server/api/routes.c."""
    with open(ROUTES_PATH, encoding="utf-8") as f:
        text = strip_c_comments(f.read())
    m = re.search(r"routes_table\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\}\s*;", text, re.S)
    if not m:
        raise AssertionError("no routes_table[] = {...}; in %s" % ROUTES_PATH)
    routes = [(meth, pattern) for meth, pattern, _ in ROUTE_RE.findall(m.group(1))]
    if not routes:
        raise AssertionError("no {\"METHOD\", \"/pattern\", handler} entries in routes_table")
    return routes


def template_to_pattern(path):
    return re.sub(r"\{[^}/]+\}", "*", path)


def json_pointer(doc, ref):
    if not ref.startswith("#"):
        raise KeyError("not a local reference: %r" % ref)
    node = doc
    pointer = ref[1:]
    if pointer == "":
        return node
    if not pointer.startswith("/"):
        raise KeyError("bad JSON pointer %r" % ref)
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError("%r: no %r" % (ref, part))
    return node


def walk(node, path="#"):
    """Yields (path, node) for every dict and list in the document."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, (dict, list)):
                yield from walk(v, "%s/%s" % (path, str(k).replace("~", "~0").replace("/", "~1")))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, (dict, list)):
                yield from walk(v, "%s/%d" % (path, i))


# --------------------------------------------------------------------------
# A small JSON Schema (2020-12) validator for the keywords the document uses
# --------------------------------------------------------------------------

class SchemaError(Exception):
    """The document uses something this validator does not understand."""


ANNOTATIONS = {"description", "title", "default", "example", "examples", "deprecated", "readOnly",
               "writeOnly", "discriminator", "externalDocs", "$comment", "xml"}
SUBSCHEMA_KEYWORDS = {"properties", "additionalProperties", "propertyNames", "items", "allOf",
                      "anyOf", "oneOf", "not"}
ASSERTIONS = SUBSCHEMA_KEYWORDS | {
    "$ref", "type", "enum", "const", "required", "dependentRequired", "minProperties",
    "maxProperties", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern",
    "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
TYPE_NAMES = {"null", "boolean", "object", "array", "number", "integer", "string"}

_DATE_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _valid_date(y, m, d):
    try:
        datetime.date(int(y), int(m), int(d))
        return True
    except ValueError:
        return False


def _check_format(fmt, value):
    if fmt == "date-time":
        m = _DATE_TIME_RE.match(value)
        return bool(m) and _valid_date(*m.group(1, 2, 3)) and int(m.group(4)) < 24 \
            and int(m.group(5)) < 60 and int(m.group(6)) < 61 \
            and (m.group(9) is None or (int(m.group(9)) < 24 and int(m.group(10)) < 60))
    if fmt == "date":
        m = _DATE_RE.match(value)
        return bool(m) and _valid_date(*m.group(1, 2, 3))
    raise SchemaError("unsupported format %r" % fmt)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_matches(name, v):
    if name == "null":
        return v is None
    if name == "boolean":
        return isinstance(v, bool)
    if name == "object":
        return isinstance(v, dict)
    if name == "array":
        return isinstance(v, list)
    if name == "string":
        return isinstance(v, str)
    if name == "number":
        return _is_number(v) and not (isinstance(v, float) and not math.isfinite(v))
    if name == "integer":
        return _is_number(v) and (isinstance(v, int) or (math.isfinite(v) and v == math.floor(v)))
    raise SchemaError("unknown type %r" % name)


def json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class Validator:
    def __init__(self, doc):
        self.doc = doc
        self._patterns = {}

    def resolve(self, ref):
        try:
            return json_pointer(self.doc, ref)
        except (KeyError, IndexError, ValueError) as exc:
            raise SchemaError("unresolvable $ref %r (%s)" % (ref, exc)) from None

    def deref(self, node):
        """An OpenAPI object behind any chain of $ref."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise SchemaError("$ref cycle at %r" % ref)
            seen.add(ref)
            node = self.resolve(ref)
        return node

    def _pattern(self, p):
        if p not in self._patterns:
            try:
                self._patterns[p] = re.compile(p)
            except re.error as exc:
                raise SchemaError("pattern %r does not compile: %s" % (p, exc)) from None
        return self._patterns[p]

    def is_valid(self, value, schema):
        return not self.errors(value, schema)

    def errors(self, v, schema, path="$"):
        """Every violation of schema by the JSON value v, as 'path: message' strings."""
        if schema is True or schema == {}:
            return []
        if schema is False:
            return ["%s: no value is allowed here" % path]
        if not isinstance(schema, dict):
            raise SchemaError("%s: a schema must be an object, got %r" % (path, schema))
        for k in schema:
            if k not in ASSERTIONS and k not in ANNOTATIONS and not k.startswith("x-"):
                raise SchemaError("%s: unsupported schema keyword %r" % (path, k))
        errs = []
        if "$ref" in schema:
            errs += self.errors(v, self.resolve(schema["$ref"]), path)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_type_matches(t, v) for t in types):
                errs.append("%s: %s is not of type %s" % (path, _short(v), "/".join(types)))
                return errs
        if "const" in schema and not json_equal(v, schema["const"]):
            errs.append("%s: %s is not %s" % (path, _short(v), _short(schema["const"])))
        if "enum" in schema and not any(json_equal(v, e) for e in schema["enum"]):
            errs.append("%s: %s is not one of %s" % (path, _short(v), _short(schema["enum"])))
        if isinstance(v, dict):
            errs += self._object_errors(v, schema, path)
        if isinstance(v, list):
            errs += self._array_errors(v, schema, path)
        if isinstance(v, str):
            n = len(v)  # code points, as JSON Schema counts
            if "minLength" in schema and n < schema["minLength"]:
                errs.append("%s: %d characters, fewer than %d" % (path, n, schema["minLength"]))
            if "maxLength" in schema and n > schema["maxLength"]:
                errs.append("%s: %d characters, more than %d" % (path, n, schema["maxLength"]))
            if "pattern" in schema and not self._pattern(schema["pattern"]).search(v):
                errs.append("%s: %s does not match %s" % (path, _short(v), schema["pattern"]))
            if "format" in schema and not _check_format(schema["format"], v):
                errs.append("%s: %s is not a %s" % (path, _short(v), schema["format"]))
        if _is_number(v):
            if "minimum" in schema and v < schema["minimum"]:
                errs.append("%s: %r is less than %r" % (path, v, schema["minimum"]))
            if "maximum" in schema and v > schema["maximum"]:
                errs.append("%s: %r is more than %r" % (path, v, schema["maximum"]))
            if "exclusiveMinimum" in schema and v <= schema["exclusiveMinimum"]:
                errs.append("%s: %r is not more than %r" % (path, v, schema["exclusiveMinimum"]))
            if "exclusiveMaximum" in schema and v >= schema["exclusiveMaximum"]:
                errs.append("%s: %r is not less than %r" % (path, v, schema["exclusiveMaximum"]))
        for i, sub in enumerate(schema.get("allOf", ())):
            errs += self.errors(v, sub, path)
        if "anyOf" in schema:
            branch_errs = [self.errors(v, sub, path) for sub in schema["anyOf"]]
            if all(branch_errs):
                errs.append("%s: matches none of anyOf: %s" % (path, _closest(branch_errs)))
        if "oneOf" in schema:
            branch_errs = [self.errors(v, sub, path) for sub in schema["oneOf"]]
            matched = [i for i, e in enumerate(branch_errs) if not e]
            if len(matched) != 1:
                hint = self._discriminated(v, schema, branch_errs)
                errs.append("%s: matches %d of oneOf (exactly 1 needed)%s" % (
                    path, len(matched), ": " + (hint or _closest(branch_errs)) if not matched else
                    " (branches %s)" % matched))
        if "not" in schema and not self.errors(v, schema["not"], path):
            errs.append("%s: must not match %s" % (path, _short(schema["not"])))
        return errs

    def _discriminated(self, v, schema, branch_errs):
        disc = schema.get("discriminator")
        if not (disc and isinstance(v, dict)):
            return None
        target = disc.get("mapping", {}).get(v.get(disc.get("propertyName")))
        for i, sub in enumerate(schema["oneOf"]):
            if isinstance(sub, dict) and sub.get("$ref") == target:
                return "as %s: %s" % (target.rsplit("/", 1)[-1], "; ".join(branch_errs[i]))
        return None

    def _object_errors(self, v, schema, path):
        errs = []
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in v:
                errs.append("%s: missing required property %r" % (path, name))
        for name, deps in schema.get("dependentRequired", {}).items():
            if name in v:
                for dep in deps:
                    if dep not in v:
                        errs.append("%s: %r requires %r" % (path, name, dep))
        if "minProperties" in schema and len(v) < schema["minProperties"]:
            errs.append("%s: %d properties, fewer than %d" % (path, len(v), schema["minProperties"]))
        if "maxProperties" in schema and len(v) > schema["maxProperties"]:
            errs.append("%s: %d properties, more than %d" % (path, len(v), schema["maxProperties"]))
        for name, value in v.items():
            sub_path = "%s.%s" % (path, name)
            if "propertyNames" in schema:
                for e in self.errors(name, schema["propertyNames"], sub_path):
                    errs.append("%s (property name)" % e)
            if name in props:
                errs += self.errors(value, props[name], sub_path)
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    errs.append("%s: property %r is not allowed" % (path, name))
                elif extra is not True:
                    errs += self.errors(value, extra, sub_path)
        return errs

    def _array_errors(self, v, schema, path):
        errs = []
        if "minItems" in schema and len(v) < schema["minItems"]:
            errs.append("%s: %d items, fewer than %d" % (path, len(v), schema["minItems"]))
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append("%s: %d items, more than %d" % (path, len(v), schema["maxItems"]))
        if schema.get("uniqueItems"):
            for i in range(len(v)):
                for j in range(i):
                    if json_equal(v[i], v[j]):
                        errs.append("%s: items %d and %d are equal" % (path, j, i))
        if "items" in schema:
            for i, item in enumerate(v):
                errs += self.errors(item, schema["items"], "%s[%d]" % (path, i))
        return errs


def _short(v, limit=120):
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _closest(branch_errs):
    best = min(branch_errs, key=len)
    return "; ".join(best[:4]) + (" ..." if len(best) > 4 else "")


def check_schema_shape(schema, where, problems, doc):
    """Static check: keywords known, well-typed, sub-schemas recursively; $refs resolvable."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        problems.append("%s: schema is %r, not an object" % (where, schema))
        return
    for k, val in schema.items():
        if k.startswith("x-"):
            continue
        if k not in ASSERTIONS and k not in ANNOTATIONS:
            problems.append("%s: unsupported keyword %r" % (where, k))
            continue
        if k == "$ref":
            try:
                target = json_pointer(doc, val)
            except (KeyError, IndexError, ValueError, AttributeError):
                problems.append("%s: unresolvable $ref %r" % (where, val))
                continue
            if not val.startswith("#/components/schemas/"):
                problems.append("%s: schema $ref %r outside #/components/schemas" % (where, val))
            if not isinstance(target, (dict, bool)):
                problems.append("%s: $ref %r is not a schema" % (where, val))
        elif k == "type":
            types = val if isinstance(val, list) else [val]
            if not types or any(t not in TYPE_NAMES for t in types) or len(set(types)) != len(types):
                problems.append("%s: bad type %r" % (where, val))
        elif k in ("required",):
            if not isinstance(val, list) or not all(isinstance(x, str) for x in val) \
                    or len(set(val)) != len(val):
                problems.append("%s: required must be a list of distinct strings, got %r" % (where, val))
            props = schema.get("properties")
            if props is not None and schema.get("additionalProperties") is False:
                for name in val:
                    if name not in props:
                        problems.append("%s: required %r is not among the properties" % (where, name))
        elif k == "dependentRequired":
            if not isinstance(val, dict) or not all(
                    isinstance(x, list) and all(isinstance(y, str) for y in x) for x in val.values()):
                problems.append("%s: bad dependentRequired %r" % (where, val))
        elif k == "enum":
            if not isinstance(val, list) or not val:
                problems.append("%s: enum must be a non-empty list" % where)
        elif k in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                problems.append("%s: %s must be a non-negative integer" % (where, k))
        elif k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if not _is_number(val):
                problems.append("%s: %s must be a number" % (where, k))
        elif k == "pattern":
            try:
                re.compile(val)
            except (re.error, TypeError) as exc:
                problems.append("%s: pattern %r: %s" % (where, val, exc))
        elif k == "format":
            try:
                _check_format(val, "")
            except SchemaError as exc:
                problems.append("%s: %s" % (where, exc))
        elif k == "properties":
            if not isinstance(val, dict):
                problems.append("%s: properties must be an object" % where)
                continue
            for name, sub in val.items():
                if not isinstance(name, str):
                    problems.append("%s: property name %r is not a string" % (where, name))
                check_schema_shape(sub, "%s/properties/%s" % (where, name), problems, doc)
        elif k in ("additionalProperties", "propertyNames", "items", "not"):
            check_schema_shape(val, "%s/%s" % (where, k), problems, doc)
        elif k in ("allOf", "anyOf", "oneOf"):
            if not isinstance(val, list) or not val:
                problems.append("%s: %s must be a non-empty list" % (where, k))
                continue
            for i, sub in enumerate(val):
                check_schema_shape(sub, "%s/%s/%d" % (where, k, i), problems, doc)
        elif k == "discriminator":
            if "oneOf" not in schema and "anyOf" not in schema:
                problems.append("%s: discriminator without oneOf/anyOf" % where)
            for key, ref in (val.get("mapping") or {}).items():
                branches = [s.get("$ref") for s in schema.get("oneOf", schema.get("anyOf", []))
                            if isinstance(s, dict)]
                if ref not in branches:
                    problems.append("%s: discriminator mapping %r -> %r is not a branch" % (where, key, ref))


# --------------------------------------------------------------------------
# Document helpers
# --------------------------------------------------------------------------

DOC = load_document()
V = Validator(DOC)


def operations(doc=DOC, methods=ROUTED_METHODS):
    """[(path, method, operation, path_item)] for every documented routed operation (OPTIONS,
    answered by the HTTP layer, only when methods asks for it)."""
    out = []
    for path, item in doc.get("paths", {}).items():
        for method in methods:
            if method in item:
                out.append((path, method, item[method], item))
    return out


def operation(path, method):
    item = DOC["paths"].get(path)
    if item is None or method.lower() not in item:
        raise AssertionError("%s %s is not documented" % (method.upper(), path))
    return item[method.lower()]


def op_parameters(path, method):
    item = DOC["paths"][path]
    params = {}
    for p in item.get("parameters", []) + item[method].get("parameters", []):
        p = V.deref(p)
        params[(p["name"].lower() if p["in"] == "header" else p["name"], p["in"])] = p
    return params


def reaches_problem(schema, seen=()):
    """True when every value the schema admits is built on components/schemas/Problem."""
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if ref == PROBLEM_REF:
        return True
    if ref and ref not in seen:
        if reaches_problem(V.resolve(ref), seen + (ref,)):
            return True
    if any(reaches_problem(s, seen) for s in schema.get("allOf", ())):
        return True
    for key in ("oneOf", "anyOf"):
        if key in schema and all(reaches_problem(s, seen) for s in schema[key]):
            return True
    return False


def all_schemas(doc=DOC):
    """(where, schema) for every schema position of the document."""
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        yield "#/components/schemas/" + name, schema
    for where, node in walk(doc):
        if not isinstance(node, dict) or where.startswith("#/components/schemas"):
            continue
        if "schema" in node and isinstance(node["schema"], (dict, bool)):
            if "in" in node or "content" in where or "headers" in where or "/content/" in where:
                yield where + "/schema", node["schema"]


# --------------------------------------------------------------------------
# 1-3: the document on its own and against routes.c
# --------------------------------------------------------------------------

class DocumentTests(unittest.TestCase):
    maxDiff = None

    def test_parses_and_is_openapi_3_1(self):
        self.assertIsInstance(DOC, dict)
        self.assertIsInstance(DOC.get("openapi"), str, "openapi must be a string such as 3.1.0")
        self.assertRegex(DOC["openapi"], r"^3\.1\.\d+$")
        info = DOC.get("info", {})
        self.assertEqual(info.get("title"), "surveyd")
        self.assertEqual(info.get("version"), meson_version(),
                         "info.version must match meson.build's project version")
        self.assertIn("http://127.0.0.1:8080", [s.get("url") for s in DOC.get("servers", [])])
        scheme = DOC.get("components", {}).get("securitySchemes", {}).get("bearerAuth")
        self.assertEqual((scheme or {}).get("type"), "http")
        self.assertEqual((scheme or {}).get("scheme", "").lower(), "bearer")
        self.assertEqual(DOC.get("security"), [{"bearerAuth": []}])
        for name in ("Problem", "Response", "SurveyDefinition", "Question", "MetricsReply",
                     "NpsMetrics", "CsatMetrics", "CesMetrics", "YesNoMetrics", "ChoiceMetrics",
                     "TextMetrics", "Group"):
            self.assertIn(name, DOC["components"]["schemas"])

    def test_values_are_json(self):
        """YAML-only values (dates, non-string keys, YAML 1.1 booleans as keys) would not survive
        a JSON rendering of the document."""
        bad = []

        def check(node, where):
            if isinstance(node, dict):
                for k, v in node.items():
                    if not isinstance(k, str):
                        bad.append("%s: key %r is a %s" % (where, k, type(k).__name__))
                    check(v, "%s/%s" % (where, k))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    check(v, "%s/%d" % (where, i))
            elif not (node is None or isinstance(node, (str, bool, int, float))):
                bad.append("%s: %r is a %s" % (where, node, type(node).__name__))
        check(DOC, "#")
        self.assertEqual(bad, [])

    def test_routes_and_document_agree(self):
        routes = parse_routes()
        self.assertEqual(len(routes), len(set(routes)), "duplicate routes in routes.c")
        # '**' (one or more segments, for ids that may hold '/') is still one path parameter.
        served = {(meth.lower(), pattern.replace("**", "*")) for meth, pattern in routes}
        documented = {}
        for path, method, _, _ in operations():
            documented[(method, template_to_pattern(path))] = path
        missing = sorted("%s %s" % (m.upper(), p) for m, p in served - documented.keys())
        extra = sorted("%s %s" % (m.upper(), documented[(m, p)])
                       for m, p in documented.keys() - served)
        self.assertEqual(missing, [], "routes in server/api/routes.c missing from schema/openapi.yaml")
        self.assertEqual(extra, [], "operations in schema/openapi.yaml that server/api/routes.c lacks")
        templates = {}
        for path in DOC["paths"]:
            templates.setdefault(template_to_pattern(path), []).append(path)
        self.assertEqual({k: v for k, v in templates.items() if len(v) > 1}, {},
                         "two documented templates for one route pattern")

    def test_every_ref_resolves(self):
        unresolved = []
        refs = 0
        for where, node in walk(DOC):
            if isinstance(node, dict) and "$ref" in node:
                refs += 1
                ref = node["$ref"]
                if not isinstance(ref, str) or not ref.startswith("#/"):
                    unresolved.append("%s: non-local $ref %r" % (where, ref))
                    continue
                try:
                    json_pointer(DOC, ref)
                except (KeyError, IndexError, ValueError) as exc:
                    unresolved.append("%s: %s" % (where, exc))
            if isinstance(node, dict) and "mapping" in node and where.endswith("/discriminator"):
                for ref in node["mapping"].values():
                    try:
                        json_pointer(DOC, ref)
                    except (KeyError, IndexError, ValueError) as exc:
                        unresolved.append("%s: %s" % (where, exc))
        self.assertGreater(refs, 50)
        self.assertEqual(unresolved, [])

    def test_schemas_use_only_validated_keywords(self):
        problems = []
        count = 0
        for where, schema in all_schemas():
            count += 1
            check_schema_shape(schema, where, problems, DOC)
        self.assertGreater(count, 50)
        self.assertEqual(problems, [])

    def test_examples_validate(self):
        checked = 0
        problems = []
        for where, node in walk(DOC):
            if not isinstance(node, dict) or "example" not in node:
                continue
            if where.startswith("#/components/schemas/") or "/schema" in where:
                schema = {k: v for k, v in node.items() if k != "example"}
            elif "schema" in node:
                schema = node["schema"]
            else:
                continue
            checked += 1
            problems += ["%s: %s" % (where, e) for e in V.errors(node["example"], schema)]
        self.assertGreaterEqual(checked, 3)
        self.assertEqual(problems, [])

    def test_operations_are_complete(self):
        problems = []
        op_ids = set()
        for path, method, op, item in operations(methods=HTTP_METHODS):
            name = "%s %s" % (method.upper(), path)
            if not (isinstance(op.get("summary"), str) and op["summary"].strip()):
                problems.append("%s: no summary" % name)
            op_id = op.get("operationId")
            if not op_id or op_id in op_ids:
                problems.append("%s: missing or duplicate operationId %r" % (name, op_id))
            op_ids.add(op_id)
            desc = op.get("description") or ""
            roles = op.get("x-surveyd-roles")
            if not re.search(r"\bRole: ", desc):
                problems.append("%s: the description must start its role sentence with 'Role: '" % name)
            if not roles or not set(roles) <= ROLES:
                problems.append("%s: x-surveyd-roles must be a non-empty subset of %s" % (name, sorted(ROLES)))
                roles = []
            for role in roles:
                if not re.search(r"\b%s\b" % role, desc):
                    problems.append("%s: role %r not named in the description" % (name, role))
            security = op.get("security", DOC.get("security"))
            anonymous_ok = security == [] or {} in security
            if anonymous_ok != ("public" in roles):
                problems.append("%s: security %r disagrees with roles %r" % (name, security, roles))

            params = op_parameters(path, method)
            for p in params.values():
                if "schema" not in p:
                    problems.append("%s: parameter %r has no schema" % (name, p["name"]))
            declared = {n for (n, where) in params if where == "path"}
            in_template = set(re.findall(r"\{([^}/]+)\}", path))
            if declared != in_template:
                problems.append("%s: path parameters %s, template has %s" % (
                    name, sorted(declared), sorted(in_template)))
            for (n, where), p in params.items():
                if where == "path" and p.get("required") is not True:
                    problems.append("%s: path parameter %r must be required" % (name, n))
            if ("x-request-id", "header") not in params:
                problems.append("%s: X-Request-Id request header not declared" % name)

            responses = op.get("responses") or {}
            if not responses:
                problems.append("%s: no responses" % name)
            statuses = set(responses)
            for status, resp in responses.items():
                where = "%s -> %s" % (name, status)
                if not re.fullmatch(r"[1-5]\d\d", str(status)):
                    problems.append("%s: bad status key" % where)
                    continue
                resp = V.deref(resp)
                if not resp.get("description"):
                    problems.append("%s: no description" % where)
                headers = resp.get("headers", {})
                if "X-Request-Id" not in headers:
                    problems.append("%s: X-Request-Id reply header not declared" % where)
                code = int(status)
                content = resp.get("content") or {}
                # The hosted survey page (x-surveyd-page) answers a person: its own errors are
                # HTML pages; what the HTTP layer refuses before it (405, 413...) stays JSON.
                if code >= 400 and op.get("x-surveyd-page") and list(content) == ["text/html"]:
                    pass
                elif code >= 400:
                    if list(content) != ["application/problem+json"]:
                        problems.append("%s: must be application/problem+json only" % where)
                    elif not reaches_problem(content["application/problem+json"].get("schema")):
                        problems.append("%s: schema is not built on %s" % (where, PROBLEM_REF))
                if code in (204, 304) and content:
                    problems.append("%s: has a body" % where)
                need = {401: "WWW-Authenticate", 503: "Retry-After", 405: "Allow", 201: "Location"}
                if code in need and need[code] not in headers:
                    problems.append("%s: %s header not declared" % (where, need[code]))
            if set(roles) - {"public"}:
                for s in ("401", "403"):
                    if s not in statuses:
                        problems.append("%s: token-checked but no %s" % (name, s))
            if "requestBody" in op:
                body = op["requestBody"]
                if not body.get("content"):
                    problems.append("%s: requestBody without content" % name)
                for media in (body.get("content") or {}).values():
                    if "schema" not in media:
                        problems.append("%s: request media type without schema" % name)
                for s in ("400", "413", "415", "422"):
                    if s not in statuses:
                        problems.append("%s: takes a body but no %s" % (name, s))
            if "304" in statuses and ("if-none-match", "header") not in params:
                problems.append("%s: 304 without an If-None-Match parameter" % name)
        self.assertEqual(problems, [])

    def test_http_layer_replies_are_attached(self):
        """Issue 12, item 7: what the HTTP layer answers on every path is part of each path's
        operations, not a component nobody references: OPTIONS (Preflight, or 403 for a refused
        Origin), 405 with Allow on every operation, Access-Control-Expose-Headers on every reply
        that names its headers; and the document says whom to contact."""
        problems = []
        for path, item in DOC["paths"].items():
            opt = item.get("options")
            if opt is None:
                problems.append("OPTIONS %s not documented" % path)
            else:
                if opt.get("responses", {}).get("204") != {"$ref": "#/components/responses/Preflight"}:
                    problems.append("OPTIONS %s: 204 is not components/responses/Preflight" % path)
                if "403" not in opt.get("responses", {}):
                    problems.append("OPTIONS %s: no 403 for a refused Origin" % path)
        for path, method, op, _ in operations():
            if op["responses"].get("405") != {"$ref": "#/components/responses/MethodNotAllowed"}:
                problems.append("%s %s: 405 is not components/responses/MethodNotAllowed" % (method.upper(), path))
            for status, resp in op["responses"].items():
                headers = V.deref(resp).get("headers", {})
                if "Access-Control-Expose-Headers" not in headers:
                    problems.append("%s %s -> %s: Access-Control-Expose-Headers not listed"
                                    % (method.upper(), path, status))
        contact = DOC["info"].get("contact")
        if not (isinstance(contact, dict) and contact.get("name")):
            problems.append("info.contact missing")
        self.assertEqual(problems, [])

    def test_errors_are_never_cacheable(self):
        """Issue 12, item 4: no error reply is documented with an ETag or a Cache-Control other
        than no-store (a cache must not keep an error in place of a result); the server agrees
        (LiveAPITests.test_metrics_errors_are_not_cached)."""
        problems = []
        for path, method, op, _ in operations(methods=HTTP_METHODS):
            for status, resp in op["responses"].items():
                if int(status) < 400:
                    continue
                headers = V.deref(resp).get("headers", {})
                where = "%s %s -> %s" % (method.upper(), path, status)
                if "ETag" in headers:
                    problems.append("%s: documents an ETag" % where)
                cache = headers.get("Cache-Control")
                if cache is not None:
                    schema = V.deref(V.deref(cache).get("schema", {}))
                    if schema.get("const") != "no-store" or V.deref(cache).get("required") is not True:
                        problems.append("%s: Cache-Control is not always no-store: %r" % (where, schema))
        self.assertEqual(problems, [])

    def test_validator_itself(self):
        """The validator must catch what the live tests rely on it to catch."""
        s = {"type": "object", "additionalProperties": False, "required": ["a"],
             "properties": {"a": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
                            "b": {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
                            "c": {"enum": ["x", "y"]},
                            "d": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            "e": {"$ref": "#/components/schemas/ResponseIdentifier"}}}
        ok = {"a": None, "b": [1, 2.0], "c": "x", "d": 3, "e": "a" * 26}
        self.assertEqual(V.errors(ok, s), [])
        for bad in ({}, {"a": -1}, {"a": 11}, {"a": "1"}, {"a": True}, {"a": 1, "z": 1},
                    {"a": 1, "b": [1.5]}, {"a": 1, "b": [1, 2, 3]}, {"a": 1, "c": "z"},
                    {"a": 1, "d": 1.5}, {"a": 1, "d": None}, {"a": 1, "e": "A" * 26}):
            self.assertNotEqual(V.errors(bad, s), [], bad)
        self.assertNotEqual(V.errors(1, {"const": True}), [])
        self.assertNotEqual(V.errors(True, {"type": "integer"}), [])
        self.assertEqual(V.errors(9.0, {"type": "integer"}), [])
        with self.assertRaises(SchemaError):
            V.errors(1, {"nullable": True})


# --------------------------------------------------------------------------
# 4-5: live replies against the document
# --------------------------------------------------------------------------

def readme_definition(public=True):
    return {
        "title": "Support follow-up",
        "public": public,
        "allowed_origins": ["https://www.example.com"],
        "questions": [
            {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?", "required": True},
            {"id": "sat", "type": "csat", "scale": 5, "text": "How satisfied are you with the support?"},
            {"id": "easy", "type": "ces", "scale": 7, "text": "How easy was it to get your issue handled?"},
            {"id": "resolved", "type": "yes_no", "text": "Was it resolved on first contact?"},
            {"id": "expect", "type": "choice", "options": ["met", "exceeded", "fell short"],
             "allow_other": True},
            {"id": "comment", "type": "text", "max_length": 2000},
            {"id": "thumbs", "type": "csat", "scale": 2},
        ],
    }


class LiveAPITests(BaseAPITest):
    """Every reply checked against the document entry for its path, method and status."""

    maxDiff = None

    # -- conformance ------------------------------------------------------
    def conform(self, resp, method, path, expect=None, response_obj=None):
        """Validates a live reply against the document; returns its JSON body (or None)."""
        where = "%s %s -> %d" % (method.upper(), path, resp.status)
        if expect is not None:
            self.assertEqual(resp.status, expect, "%s: %r" % (where, resp.body[:800]))
        if response_obj is None:
            responses = operation(path, method)["responses"]
            self.assertIn(str(resp.status), responses,
                          "%s: status not documented (%r)" % (where, resp.body[:500]))
            response_obj = responses[str(resp.status)]
        doc_resp = V.deref(response_obj)
        doc_headers = {k.lower(): V.deref(h) for k, h in (doc_resp.get("headers") or {}).items()}
        for name, h in doc_headers.items():
            value = resp.headers.get(name)
            if value is None:
                self.assertFalse(h.get("required"), "%s: required header %s missing" % (where, name))
                continue
            schema = h.get("schema", {})
            typed = V.deref(schema)
            if typed.get("type") == "integer" and re.fullmatch(r"\d+", value):
                value = int(value)
            errs = V.errors(value, schema, "header " + name)
            self.assertEqual(errs, [], where)
        for name in MEANINGFUL_HEADERS:
            if resp.headers.get(name) is not None:
                self.assertIn(name.lower(), doc_headers,
                              "%s: sends %s: %r, which the document does not list"
                              % (where, name, resp.headers.get(name)))
        cache = resp.headers.get("Cache-Control")
        if cache is not None and cache != "no-store":
            self.assertIn("cache-control", doc_headers,
                          "%s: Cache-Control %r is not the default no-store and is not documented"
                          % (where, cache))
        content = doc_resp.get("content") or {}
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not content:
            self.assertEqual(resp.body, b"", "%s: documented without a body" % where)
            return None
        self.assertIn(ctype, content, "%s: Content-Type %r not documented (%s)"
                      % (where, resp.headers.get("Content-Type"), sorted(content)))
        schema = content[ctype].get("schema", {})
        if ctype in JSON_TYPES:
            self.assertIsNotNone(resp.json, "%s: body is not JSON: %r" % (where, resp.body[:300]))
            errs = V.errors(resp.json, schema)
            self.assertEqual(errs, [], "%s: %s" % (where, _short(resp.json, 2000)))
            return resp.json
        # Text is UTF-8; an image (the favicon) is bytes, checked as a string of them.
        text = resp.body.decode("latin-1" if ctype.startswith("image/") else "utf-8")
        self.assertEqual(V.errors(text, schema), [], where)
        return None

    def assertRequestValid(self, body, method, path, ctype="application/json", valid=True):
        media = operation(path, method)["requestBody"]["content"][ctype]
        errs = V.errors(body, media["schema"])
        if valid:
            self.assertEqual(errs, [], "documented %s %s body schema rejects a body the server "
                                       "takes: %s" % (method.upper(), path, _short(body, 500)))
        return errs

    def put(self, sid, definition, token=ADMIN_TOKEN, **kw):
        return self.req("PUT", "/v1/surveys/" + sid, definition, token=token, **kw)

    def make_survey(self, definition, prefix="oa"):
        sid = uid(prefix)
        self.assertRequestValid(definition, "put", "/v1/surveys/{survey}")
        r = self.put(sid, definition)
        self.conform(r, "put", "/v1/surveys/{survey}", 201)
        return sid

    def submit(self, sid, body, token=INGEST_TOKEN, headers=None, expect=201, ctype="application/json"):
        if expect == 201:
            self.assertRequestValid(body, "post", "/v1/surveys/{survey}/responses", ctype)
        hdrs = dict(headers or {})
        data = body
        if ctype != "application/json":
            hdrs["Content-Type"] = ctype
            data = json.dumps(body)
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, data, headers=hdrs, token=token)
        return self.conform(r, "post", "/v1/surveys/{survey}/responses", expect), r

    def metrics(self, sid, query="", token=READ_TOKEN, expect=200, headers=None):
        r = self.req("GET", "/v1/surveys/%s/metrics%s" % (sid, query), token=token, headers=headers)
        return self.conform(r, "get", "/v1/surveys/{survey}/metrics", expect), r

    # -- tests ------------------------------------------------------------
    def test_metrics_errors_are_not_cached(self):
        """Issue 12, item 4: a metrics error, even one found while computing (too many time
        buckets) after a 200 was cached for the survey, is Cache-Control: no-store without an
        ETag, as the document now says; the 200 keeps its ETag and no-cache."""
        sid = self.make_survey(readme_definition(), prefix="nocache")
        self.submit(sid, {"answers": {"rec": 9}, "submitted_at": "2020-01-02T00:00:00Z"})
        _, ok = self.metrics(sid)
        self.assertEqual(ok.headers.get("Cache-Control"), "no-cache")
        self.assertIsNotNone(ok.headers.get("ETag"))
        for query in ("?from=2000-01-01&to=2020-01-01&group_by=day",  # found while computing
                      "?from=2020-01-01&to=2020-02-01&group_by=day",  # then a cached 200 ...
                      "?from=2000-01-01&to=2020-01-01&group_by=day",  # ... and the error again
                      "?group_by=hour", "?from=yesterday"):
            expect = 200 if "2020-02-01" in query else 422
            _, r = self.metrics(sid, query, expect=expect)
            if expect == 422:
                self.assertEqual(r.headers.get("Cache-Control"), "no-store", query)
                self.assertIsNone(r.headers.get("ETag"), query)
                # Conditional requests do not turn an error into a 304.
                _, again = self.metrics(sid, query, expect=422, headers={"If-None-Match": ok.headers["ETag"]})
                self.assertIsNone(again.headers.get("ETag"), query)

    def test_idempotency_key_rule_stated_once(self):
        """Issue 12, item 5: one Idempotency-Key rule, in the same words in the server's 422, the
        document and the README; and the server holds to it (a space is a printable character)."""
        rule = "1 to 255 printable ASCII characters (space included)"
        param = V.deref({"$ref": "#/components/parameters/IdempotencyKey"})
        self.assertIn(rule, " ".join(param["description"].split()))
        self.assertEqual(param["schema"]["pattern"], "^[ -~]{1,255}$")
        with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
            readme = " ".join(f.read().split())
        self.assertIn("**Idempotency-Key** (%s" % rule, readme)
        self.assertNotIn("visible ASCII characters): a retry", readme)
        sid = self.make_survey(readme_definition(), prefix="idem")
        for key in ("k" * 256, "tab\there", "caf\u00e9"):
            j, r = self.submit(sid, {"answers": {"rec": 3}}, headers={"Idempotency-Key": key}, expect=422)
            self.assertEqual(j["errors"], [{"field": "Idempotency-Key", "message": "must be " + rule}], repr(key))
        self.submit(sid, {"answers": {"rec": 4}}, headers={"Idempotency-Key": "retry 1 of 3 ~!"})
        self.submit(sid, {"answers": {"rec": 4}}, headers={"Idempotency-Key": "k" * 255})

    def test_readme_lists_the_exposed_headers(self):
        """Issue 12, item 6: the README's list of headers exposed to pages is the one the server
        sends in Access-Control-Expose-Headers (and the document's)."""
        with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
            readme = " ".join(f.read().split())
        m = re.search(r"replies expose ((?:`[A-Za-z-]+`(?:, | and )?)+)", readme)
        self.assertIsNotNone(m, "the README's 'replies expose ...' sentence")
        listed = set(re.findall(r"`([A-Za-z-]+)`", m.group(1)))
        sid = self.make_survey(readme_definition(), prefix="expose")
        _, r = self.submit(sid, {"answers": {"rec": 8}}, token=None,
                           headers={"Origin": "https://www.example.com"})
        sent = set(re.split(r",\s*", r.headers["Access-Control-Expose-Headers"]))
        self.assertEqual(listed, sent)
        documented = V.deref({"$ref": "#/components/headers/Access-Control-Expose-Headers"})
        self.assertEqual(set(re.split(r",\s*", documented["schema"]["const"])), sent)

    def test_public_documents(self):
        """Every public GET without path parameters (health, assets), with revalidation."""
        seen = 0
        for path, method, op, _ in operations():
            if method != "get" or op.get("x-surveyd-roles") != ["public"] or "{" in path:
                continue
            seen += 1
            r = self.req("GET", path, headers={"X-Request-Id": "openapi-test-1"})
            self.conform(r, "get", path, 200)
            self.assertEqual(r.headers.get("X-Request-Id"), "openapi-test-1")
            etag = r.headers.get("ETag")
            if "304" in op["responses"]:
                self.assertTrue(etag, "GET %s documents 304 but sends no ETag" % path)
                r2 = self.req("GET", path, headers={"If-None-Match": etag})
                self.conform(r2, "get", path, 304)
        self.assertGreaterEqual(seen, 2)

    def test_survey_definitions(self):
        p = "/v1/surveys/{survey}"
        definition = readme_definition()
        sid = uid("def")
        self.assertRequestValid(definition, "put", p)
        r = self.put(sid, definition)
        body = self.conform(r, "put", p, 201)
        self.assertEqual(r.headers.get("Location"), "/v1/surveys/" + sid)
        self.assertEqual(body["id"], sid)
        # The body of a GET may be PUT back as is: the input schema must take it too.
        r = self.req("GET", "/v1/surveys/" + sid)  # public: no token
        got = self.conform(r, "get", p, 200)
        self.assertRequestValid(got, "put", p)
        r = self.put(sid, got)
        self.conform(r, "put", p, 200)
        r = self.req("GET", "/v1/surveys", token=READ_TOKEN)
        listed = self.conform(r, "get", "/v1/surveys", 200)
        self.assertIn(sid, [s["id"] for s in listed["surveys"]])
        # Errors of this path.
        self.conform(self.put(sid, "{", headers={"Content-Type": "application/json"}), "put", p, 400)
        self.conform(self.put(sid, json.dumps(definition), headers={"Content-Type": "text/plain"}),
                     "put", p, 415)
        bad = dict(definition, questions=[{"id": "x", "type": "nps", "scale": 5}], colour="red")
        self.assertTrue(self.assertRequestValid(bad, "put", p, valid=False))
        j = self.conform(self.put(sid, bad), "put", p, 422)
        self.assertIn("colour", [e["field"] for e in j["errors"]])
        self.conform(self.put("Bad_Id", definition), "put", p, 422)
        self.conform(self.put(sid, definition, token=READ_TOKEN), "put", p, 403)
        self.conform(self.put(sid, definition, token="nope"), "put", p, 401)
        big = json.dumps(dict(definition, title="x" * 70000)).encode()
        r = raw_request(self.daemon.port, "PUT", "/v1/surveys/" + sid,
                        [("Authorization", "Bearer " + ADMIN_TOKEN),
                         ("Content-Type", "application/json"),
                         ("Content-Length", str(len(big)))], [big])
        self.conform(r, "put", p, 413)
        # A change that would reinterpret stored answers.
        self.submit(sid, {"answers": {"rec": 9}})
        changed = copy.deepcopy(definition)
        changed["questions"][0] = {"id": "rec", "type": "csat"}
        self.conform(self.put(sid, changed), "put", p, 409)
        # Deletion.
        self.conform(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN), "delete", p, 204)
        self.conform(self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN), "get", p, 404)
        self.conform(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN), "delete", p, 404)
        self.conform(self.req("GET", "/v1/surveys/" + sid), "get", p, 401)

    def test_responses_and_metrics(self):
        sid = self.make_survey(readme_definition())
        empty = self.make_survey(readme_definition(public=False))
        customer = "cust-" + uid("c")
        earlier = fmt_time(utc_now() - datetime.timedelta(hours=1))

        # -- submissions --------------------------------------------------
        first = {"answers": {"rec": 9, "sat": 5, "easy": 6, "resolved": True,
                             "expect": {"other": "so-so"}, "comment": "Quick and friendly",
                             "thumbs": "good"},
                 "channel": "chat", "customer": customer, "agent": "agent-7",
                 "interaction": uid("ticket"), "submitted_at": earlier,
                 "properties": {"plan": "pro", "region": "eu"}}
        key = {"Idempotency-Key": uid("key")}
        created, r = self.submit(sid, first, headers=key)
        rid = created["id"]
        self.assertEqual(r.headers.get("Location"), "/v1/responses/" + rid)
        again, r = self.submit(sid, first, headers=key)
        self.assertEqual(again["id"], rid)
        self.assertEqual(r.headers.get("Idempotent-Replayed"), "true")
        j, _ = self.submit(sid, dict(first, channel="web"), headers=key, expect=422)
        self.assertEqual(j["code"], "idempotency_key_reused")
        j, _ = self.submit(sid, dict(first, channel="web"), headers={"Idempotency-Key": "k" * 256},
                           expect=422)
        self.assertEqual(j["code"], "validation_failed")
        j, _ = self.submit(sid, dict(first, submitted_at=None), expect=409)
        self.assertEqual(j["id"], rid)
        second = {"answers": {"rec": 3, "resolved": False, "expect": "met", "comment": ""},
                  "customer": customer}
        created2, _ = self.submit(sid, second, ctype="text/plain", token=None)
        rid2 = created2["id"]
        third = {"answers": {"rec": 10, "sat": 2}, "channel": "email", "agent": "agent-8"}
        self.submit(sid, third, token=ADMIN_TOKEN)
        bad = {"answers": {"rec": 11, "nope": 1}, "channel": "Chat", "extra": True}
        self.assertTrue(self.assertRequestValid(bad, "post", "/v1/surveys/{survey}/responses",
                                                valid=False))
        self.submit(sid, bad, expect=422)
        self.submit(sid, "[1,", expect=400)
        self.submit(sid, first, headers={"Content-Type": "application/xml"}, expect=415)
        self.submit(empty, first, token=None, expect=401)
        self.submit(empty, first, token=READ_TOKEN, expect=403)
        self.submit(uid("missing"), first, expect=404)

        # -- reading, follow-ups -----------------------------------------
        rp = "/v1/responses/{id}"
        got = self.conform(self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN), "get", rp, 200)
        self.assertEqual(got["answers"]["thumbs"], 2)
        self.assertEqual(got["answers"]["expect"], {"other": "so-so"})
        got2 = self.conform(self.req("GET", "/v1/responses/" + rid2, token=READ_TOKEN), "get", rp, 200)
        self.assertIsNone(got2["channel"])
        self.assertIsNone(got2["properties"])
        self.conform(self.req("GET", "/v1/responses/" + "a" * 26, token=READ_TOKEN), "get", rp, 404)
        self.conform(self.req("GET", "/v1/responses/" + rid, token=INGEST_TOKEN), "get", rp, 403)
        patch = {"answers": {"comment": "Later thoughts", "sat": None}}
        self.assertRequestValid(patch, "patch", rp)
        pkey = {"Idempotency-Key": uid("pkey")}
        r = self.req("PATCH", "/v1/responses/" + rid, patch, token=INGEST_TOKEN, headers=pkey)
        patched = self.conform(r, "patch", rp, 200)
        self.assertNotIn("sat", patched["answers"])
        r = self.req("PATCH", "/v1/responses/" + rid, patch, token=INGEST_TOKEN, headers=pkey)
        self.conform(r, "patch", rp, 200)
        self.assertEqual(r.headers.get("Idempotent-Replayed"), "true")
        r = self.req("PATCH", "/v1/responses/" + rid2, {"answers": {"easy": 7}})  # no token at all
        self.conform(r, "patch", rp, 401)
        r = self.req("PATCH", "/v1/responses/" + rid2, {"answers": {"easy": 7}},  # its edit token, public
                     token=created2["edit_token"])
        self.assertEqual(set(self.conform(r, "patch", rp, 200)), {"id", "survey", "submitted_at", "answers"})
        r = self.req("PATCH", "/v1/responses/" + rid2, {"answers": {"rec": None}}, token=INGEST_TOKEN)
        self.conform(r, "patch", rp, 422)  # rec is required
        r = self.req("PATCH", "/v1/responses/" + rid2, {"answers": {}, "more": 1}, token=INGEST_TOKEN)
        self.conform(r, "patch", rp, 422)
        r = self.req("PATCH", "/v1/responses/" + rid2, {"answers": {"easy": 7}}, token=READ_TOKEN)
        self.conform(r, "patch", rp, 403)
        r = self.req("PATCH", "/v1/responses/" + "b" * 26, {"answers": {"easy": 7}}, token=INGEST_TOKEN)
        self.conform(r, "patch", rp, 404)
        r = self.req("PATCH", "/v1/responses/" + "b" * 26, {"answers": {"easy": 7}}, token=created2["edit_token"])
        self.conform(r, "patch", rp, 401)  # an edit token never learns whether an id exists

        # -- listing and export -------------------------------------------
        lp = "/v1/surveys/{survey}/responses"
        base = "/v1/surveys/%s/responses" % sid
        page = self.conform(self.req("GET", base + "?limit=1", token=READ_TOKEN), "get", lp, 200)
        self.assertEqual(len(page["responses"]), 1)
        self.assertIsInstance(page["next_cursor"], str)
        cursor = urllib.parse.quote(page["next_cursor"])
        page2 = self.conform(self.req("GET", base + "?limit=100&cursor=" + cursor, token=READ_TOKEN),
                             "get", lp, 200)
        self.assertIsNone(page2["next_cursor"])
        self.assertEqual(len(page2["responses"]), 2)
        q = "?channel=chat&from=2000-01-01&to=%s" % urllib.parse.quote(
            fmt_time(utc_now() + datetime.timedelta(days=1)))
        filtered = self.conform(self.req("GET", base + q, token=READ_TOKEN), "get", lp, 200)
        self.assertEqual([x["id"] for x in filtered["responses"]], [rid])
        r = self.req("GET", base + "?format=ndjson", token=READ_TOKEN)
        self.conform(r, "get", lp, 200)
        lines = r.body.decode("utf-8").splitlines()
        self.assertEqual(len(lines), 3)
        for line in lines:
            self.assertEqual(V.errors(json.loads(line), {"$ref": "#/components/schemas/Response"}), [])
        r = self.req("GET", base, token=READ_TOKEN, headers={"Accept": "text/csv"})
        self.conform(r, "get", lp, 200)
        # Every field quoted (issue 11, item 7).
        self.assertTrue(r.body.startswith(b'"id","survey","submitted_at","received_at","channel",'
                                          b'"customer","agent","interaction","rec",'), r.body[:200])
        r = self.req("GET", base + "?format=csv&limit=1", token=READ_TOKEN)
        self.conform(r, "get", lp, 200)
        self.conform(self.req("GET", base + "?cursor=zz", token=READ_TOKEN), "get", lp, 422)
        self.conform(self.req("GET", base + "?limit=0", token=READ_TOKEN), "get", lp, 422)
        self.conform(self.req("GET", base + "?group_by=day", token=READ_TOKEN), "get", lp, 422)
        self.conform(self.req("GET", "/v1/surveys/%s/responses" % uid("none"), token=READ_TOKEN),
                     "get", lp, 404)

        # -- customers ----------------------------------------------------
        cp = "/v1/customers/{customer}/responses"
        hist = self.conform(self.req("GET", "/v1/customers/%s/responses?limit=1" % customer,
                                     token=READ_TOKEN), "get", cp, 200)
        self.assertEqual(hist["customer"], customer)
        self.assertEqual(hist["summary"][sid]["responses"], 2)
        self.assertIsNotNone(hist["summary"][sid]["nps"])
        self.assertIsNotNone(hist["summary"][sid]["csat"])
        self.assertIsInstance(hist["next_cursor"], str)
        self.conform(self.req("GET", "/v1/customers/%s/responses" % ("c" * 129), token=READ_TOKEN),
                     "get", cp, 404)
        self.conform(self.req("GET", "/v1/customers/x/responses?from=2026-01-01", token=READ_TOKEN),
                     "get", cp, 422)

        # -- metrics ------------------------------------------------------
        m, r = self.metrics(sid)
        self.assertEqual(m["responses"], 3)
        self.assertIsNone(m["from"])
        self.assertEqual(m["questions"]["easy"]["answered"], 2)
        etag = r.headers.get("ETag")
        self.metrics(sid, headers={"If-None-Match": etag}, expect=304)
        window = "?from=%s&to=%s" % (
            (utc_now() - datetime.timedelta(days=3)).strftime("%Y-%m-%d"),
            (utc_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d"))
        m, _ = self.metrics(sid, window + "&group_by=day")
        self.assertGreaterEqual(len(m["groups"]), 4)
        m, _ = self.metrics(sid, window + "&compare=previous")
        self.assertIn("previous", m["questions"]["rec"])
        self.assertIsNone(m["questions"]["rec"]["change"])  # the earlier window has no answers
        m, _ = self.metrics(sid, "?group_by=channel")
        self.assertIn(None, [g["key"] for g in m["groups"]])
        for group_by in ("week", "month", "agent"):
            self.metrics(sid, "?group_by=" + group_by)
        m, _ = self.metrics(sid, "?channel=chat&agent=agent-7")
        self.assertEqual(m["filters"], {"channel": "chat", "agent": "agent-7"})
        m, _ = self.metrics(sid, "?channel=email")
        ces = m["questions"]["easy"]
        self.assertEqual(ces["answered"], 0)
        self.assertIsNone(ces["ci95"])
        # With no answers every derived figure is null, and the document must say it may be.
        m, _ = self.metrics(empty, window + "&compare=previous&group_by=channel")
        rec = m["questions"]["rec"]
        self.assertIsNone(rec["score"])
        self.assertIsNone(rec["margin_of_error"])
        self.assertIsNone(m["questions"]["sat"]["mean"])
        self.assertIsNone(m["questions"]["resolved"]["yes_pct"])
        self.assertIsNone(rec["change"])
        self.metrics(sid, "?group_by=year", expect=422)
        self.metrics(sid, "?from=2000-01-01&to=2020-01-01&group_by=day", expect=422)  # > 3700 buckets
        self.metrics(sid, "?compare=previous", expect=422)
        self.metrics(sid, "?from=2026-02-01&to=2026-01-01", expect=422)
        self.metrics(uid("none"), expect=404)
        self.metrics(sid, token=INGEST_TOKEN, expect=403)
        self.metrics(sid, token=None, expect=401)
        op = "/v1/metrics"
        r = self.req("GET", op, token=READ_TOKEN)
        overview = self.conform(r, "get", op, 200)
        self.assertIn(sid, [s["survey"] for s in overview["surveys"]])
        self.conform(self.req("GET", op, token=READ_TOKEN, headers={"If-None-Match": r.headers["ETag"]}),
                     "get", op, 304)
        self.conform(self.req("GET", op + "?survey=x", token=READ_TOKEN), "get", op, 422)

        # -- deletion -----------------------------------------------------
        self.conform(self.req("DELETE", "/v1/responses/" + rid2, token=ADMIN_TOKEN), "delete", rp, 204)
        self.conform(self.req("DELETE", "/v1/responses/" + rid2, token=ADMIN_TOKEN), "delete", rp, 404)
        ep = "/v1/customers/{customer}"
        erased = self.conform(self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN),
                              "delete", ep, 200)
        self.assertEqual(erased["deleted"], 1)
        erased = self.conform(self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN),
                              "delete", ep, 200)
        self.assertEqual(erased["deleted"], 0)
        self.conform(self.req("DELETE", "/v1/customers/" + "c" * 129, token=ADMIN_TOKEN), "delete", ep, 404)

    def test_roles_match_document(self):
        """x-surveyd-roles against the server, for every operation. Denied: no token is 401 unless
        public; a token of a role not listed is 403 (admin may do everything). Allowed: each listed
        role gets past authorisation, probed without side effects (invalid bodies, unknown ids)."""
        private = self.make_survey(readme_definition(public=False), prefix="roles")
        public = self.make_survey(readme_definition(public=True), prefix="roles-pub")
        created, _ = self.submit(private, {"answers": {"rec": 5}, "customer": "role-cust"})
        created_pub, _ = self.submit(public, {"answers": {"rec": 5}})
        real = {"survey": private, "id": created["id"], "customer": "role-cust"}
        # Allowed probes must change nothing: unknown ids for deletions, invalid bodies for writes.
        harmless = {"get": {"survey": private, "id": created["id"], "customer": "role-cust"},
                    "delete": {"survey": uid("gone"), "id": "a" * 26, "customer": uid("nobody")},
                    "put": {"survey": uid("never")}, "post": {"survey": private},
                    "patch": {"id": created["id"]}}
        harmless_public = dict(harmless, get={"survey": public, "id": created_pub["id"],
                                              "customer": "role-cust"},
                               post={"survey": public}, patch={"id": created_pub["id"]})
        valid = {"put": readme_definition(public=False), "post": {"answers": {"rec": 1}},
                 "patch": {"answers": {"rec": 2}}}
        invalid = {"put": {"title": ""}, "post": {"answers": {}}, "patch": {"answers": {}}}

        def concrete(path, values):
            # A hosted page's link token: an unknown one (its 404 page) is the harmless probe; so
            # is an unknown webhook subscription (every /v1/webhooks write is refused or 404).
            values = dict(values, token="nosuchtoken", webhook=uid("no-hook"), delivery=NO_DELIVERY,
                          topic="no-such-topic")
            return re.sub(r"\{([^}/]+)\}", lambda m: values[m.group(1)], path)

        checked = 0
        for path, method, op, _ in operations():
            roles = set(op["x-surveyd-roles"])
            if "public" not in roles:
                r = self.req(method.upper(), concrete(path, real), valid.get(method), token=None)
                self.conform(r, method, path, 401)
                checked += 1
            else:
                r = self.req(method.upper(), concrete(path, harmless_public[method]), invalid.get(method))
                self.assertNotIn(r.status, (401, 403), "%s %s without a token" % (method.upper(), path))
                self.conform(r, method, path)
                checked += 1
            for token, role in ((READ_TOKEN, "read"), (INGEST_TOKEN, "ingest"), (ADMIN_TOKEN, "admin")):
                if role in roles or role == "admin":
                    r = self.req(method.upper(), concrete(path, harmless[method]), invalid.get(method),
                                 token=token)
                    self.assertNotIn(r.status, (401, 403), "%s %s with a %s token: %r"
                                     % (method.upper(), path, role, r.body[:300]))
                elif roles != {"public"}:
                    r = self.req(method.upper(), concrete(path, real), valid.get(method), token=token)
                    self.assertEqual(r.status, 403, "%s %s with a %s token" % (method.upper(), path, role))
                else:
                    continue
                self.conform(r, method, path)
                checked += 1
        self.assertGreater(checked, 40)
        # Nothing above changed anything.
        self.assertEqual(self.req("GET", "/v1/responses/" + created["id"], token=READ_TOKEN).json["answers"],
                         {"rec": 5})

    def test_routing_errors(self):
        """405 (with Allow naming exactly the documented methods) and 404 for unknown paths."""
        concrete_values = {"survey": "x", "id": "a" * 26, "customer": "c", "token": "nosuchtoken",
                           "webhook": "no-such-hook", "delivery": NO_DELIVERY,
                           "topic": "no-such-topic"}
        for path, item in DOC["paths"].items():
            documented = {m.upper() for m in ROUTED_METHODS if m in item}
            other = next(m for m in ("POST", "PUT", "PATCH", "DELETE", "GET") if m not in documented)
            concrete = re.sub(r"\{([^}/]+)\}", lambda m: concrete_values[m.group(1)], path)
            r = self.req(other, concrete, {} if other != "GET" else None, token=ADMIN_TOKEN)
            self.conform(r, other, path, 405,
                         response_obj={"$ref": "#/components/responses/MethodNotAllowed"})
            allowed = set(re.split(r",\s*", r.headers["Allow"]))
            self.assertEqual(allowed, documented, "Allow for %s" % path)
        r = self.req("GET", "/v1/no-such-thing", token=ADMIN_TOKEN)
        self.assertEqual(r.status, 404)
        self.assertEqual(V.errors(r.json, {"$ref": "#/components/schemas/NotFoundProblem"}), [])

    def test_cors_and_preflight(self):
        """OPTIONS is answered by the HTTP layer (components/responses/Preflight); a public
        submission from a refused Origin is 403."""
        sid = self.make_survey(readme_definition(), prefix="cors")  # allowed_origins: www.example.com
        allowed = {"Origin": "https://www.example.com"}
        refused = {"Origin": "https://elsewhere.example"}
        _, r = self.submit(sid, {"answers": {"rec": 8}}, token=None, headers=allowed)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "https://www.example.com")
        self.assertEqual(r.headers.get("Vary"), "Origin, Accept-Encoding")
        self.assertEqual(V.errors(r.headers.get("Access-Control-Expose-Headers"),
                                  V.deref({"$ref": "#/components/headers/Access-Control-Expose-Headers"})
                                  ["schema"]), [])
        j, r = self.submit(sid, {"answers": {"rec": 8}}, token=None, headers=refused, expect=403)
        self.assertIsNone(r.headers.get("Access-Control-Allow-Origin"))
        for path in DOC["paths"]:
            concrete = re.sub(r"\{([^}/]+)\}", lambda m: {"survey": sid, "id": "a" * 26,
                                                           "customer": "c", "token": "nosuchtoken",
                                                           "webhook": "no-such-hook",
                                                           "delivery": NO_DELIVERY,
                                                           "topic": "no-such-topic"}[m.group(1)], path)
            documented = {m.upper() for m in ROUTED_METHODS if m in DOC["paths"][path]}
            r = self.req("OPTIONS", concrete, headers=allowed)
            if path.startswith("/v1/surveys/{survey}"):
                self.conform(r, "options", path, 204)
                self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "https://www.example.com")
            else:
                # Not this survey's endpoint: the origin is not allowed there.
                self.conform(r, "options", path, 403)
            self.assertEqual(set(re.split(r",\s*", r.headers["Allow"])), documented | {"OPTIONS"},
                             "Allow of OPTIONS %s" % path)
            r = self.req("OPTIONS", concrete)  # no Origin: no CORS headers, still 204
            self.conform(r, "options", path, 204)
            self.assertIsNone(r.headers.get("Access-Control-Allow-Methods"))

    def test_request_limits_agree(self):
        """Boundary bodies: the documented request schema accepts exactly what the server accepts."""
        p = "/v1/surveys/{survey}"
        q = {"id": "q", "type": "nps"}

        def d(**kw):
            out = {"title": "t", "questions": [dict(q)]}
            out.update(kw)
            return out

        def one(**kw):
            return d(questions=[dict(kw)])

        definitions = [
            (d(title="x" * 200), True), (d(title="x" * 201), False), (d(title=""), False),
            (d(questions=[]), False),
            (d(questions=[{"id": "q%d" % i, "type": "yes_no"} for i in range(50)]), True),
            (d(questions=[{"id": "q%d" % i, "type": "yes_no"} for i in range(51)]), False),
            (one(id="a" * 64, type="nps"), True), (one(id="a" * 65, type="nps"), False),
            (one(id="-a", type="nps"), False), (one(id="Q", type="nps"), False),
            (one(id="q", type="nps", scale=10), False), (one(id="q", type="rating"), False),
            (one(id="q", type="csat", scale=10), True), (one(id="q", type="csat", scale=8), False),
            (one(id="q", type="csat", scale=1), False), (one(id="q", type="ces", scale=5), True),
            (one(id="q", type="ces", scale=6), False), (one(id="q", type="ces", scale=7.0), True),
            (one(id="q", type="text", max_length=10000), True),
            (one(id="q", type="text", max_length=10001), False),
            (one(id="q", type="text", max_length=0), False),
            (one(id="q", type="text", options=["a"]), False),
            (one(id="q", type="choice", options=["o%d" % i for i in range(50)]), True),
            (one(id="q", type="choice", options=["o%d" % i for i in range(51)]), False),
            (one(id="q", type="choice", options=[]), False),
            (one(id="q", type="choice"), False),
            (one(id="q", type="choice", options=["a", "a"]), False),
            (one(id="q", type="choice", options=["x" * 200]), True),
            (one(id="q", type="choice", options=["x" * 201]), False),
            (one(id="q", type="choice", options=["a"], allow_other=1), False),
            (one(id="q", type="yes_no", text="x" * 1000), True),
            (one(id="q", type="yes_no", text="x" * 1001), False),
            (one(id="q", type="yes_no", required="true"), False),
            (d(public="yes"), False), (d(colour="red"), False),
            (d(allowed_origins=None), True), (d(allowed_origins=["http://localhost:8080"]), True),
            (d(allowed_origins=["https://a.example/path"]), False),
            (d(allowed_origins=["ftp://a.example"]), False),
            (d(allowed_origins=["https://a%d.example" % i for i in range(50)]), True),
            (d(allowed_origins=["https://a%d.example" % i for i in range(51)]), False),
            (d(created_at=123, updated_at="whenever"), True),
        ]
        mismatches = []
        for body, server_ok in definitions:
            r = self.put(uid("lim"), body)
            self.assertIn(r.status, (201, 422), r.body[:300])
            self.assertEqual(r.status == 201, server_ok, "server on %s: %r" % (_short(body), r.body[:300]))
            schema_ok = not self.assertRequestValid(body, "put", p, valid=False)
            if schema_ok != server_ok:
                mismatches.append("PUT %s: server %s, schema %s" % (_short(body, 200), server_ok, schema_ok))

        sid = self.make_survey({"title": "limits", "questions": [
            {"id": "n", "type": "nps"}, {"id": "t", "type": "text", "max_length": 10000},
            {"id": "c", "type": "choice", "options": ["a"], "allow_other": True},
            {"id": "y", "type": "yes_no"}]})

        def a(**answers):
            return {"answers": answers}

        def with_(**kw):
            out = a(n=5)
            out.update(kw)
            return out

        responses = [
            (a(n=10), True), (a(n=0), True), (a(n=11), False), (a(n=-1), False), (a(n=9.5), False),
            (a(n=9.0), True), ({"answers": {}}, False), ({}, False),
            (a(t="x" * 10000), True), (a(t="x" * 10001), False),
            (a(c={"other": "x" * 2000}), True), (a(c={"other": "x" * 2001}), False),
            (a(c={"other": ""}), False), (a(c={"other": "x", "more": "y"}), False),
            (a(y=True), True), (a(y=True, n=None), True),
            (with_(channel="web"), True), (with_(channel="w" * 32), True),
            (with_(channel="w" * 33), False), (with_(channel="Web"), False), (with_(channel=""), False),
            (with_(channel=None), True), (with_(customer="x" * 128), True),
            (with_(customer="x" * 129), False), (with_(agent=""), False), (with_(interaction=5), False),
            (with_(properties={"k%d" % i: "v" for i in range(20)}), True),
            (with_(properties={"k%d" % i: "v" for i in range(21)}), False),
            (with_(properties={"k": "v" * 256}), True), (with_(properties={"k": "v" * 257}), False),
            (with_(properties={"k" * 64: "v"}), True), (with_(properties={"k" * 65: "v"}), False),
            (with_(properties={"k": 1}), False), (with_(properties=None), True),
            (with_(submitted_at="2020-01-02T03:04:05.678+02:00"), True),
            (with_(submitted_at="2020-01-02"), False), (with_(submitted_at=12), False),
            (with_(extra=1), False),
        ]
        rp = "/v1/surveys/{survey}/responses"
        for body, server_ok in responses:
            r = self.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
            self.assertIn(r.status, (201, 422), r.body[:300])
            self.assertEqual(r.status == 201, server_ok, "server on %s: %r" % (_short(body), r.body[:300]))
            schema_ok = not self.assertRequestValid(body, "post", rp, valid=False)
            if schema_ok != server_ok:
                mismatches.append("POST %s: server %s, schema %s" % (_short(body, 200), server_ok, schema_ok))
        self.assertEqual(mismatches, [])


class InvitationDocumentTests(BaseAPITest):
    """Invitations' replies against the document: created, suppressed, replayed, refused, read; and
    the 503 of a daemon without --public-url (LiveAPITests' daemon has none)."""

    daemon_args = ("--public-url", "https://surveys.example.com")
    conform = LiveAPITests.conform
    assertRequestValid = LiveAPITests.assertRequestValid

    def test_invitation_replies(self):
        path, get_path = "/v1/surveys/{survey}/invitations", "/v1/invitations/{id}"
        sid = uid("inv-doc")
        r = self.req("PUT", "/v1/surveys/" + sid, dict(readme_definition(), sample_rate=0.5), token=ADMIN_TOKEN)
        self.conform(r, "put", "/v1/surveys/{survey}", 201)
        body = {"customer": "doc-1", "channel": "email", "agent": "a", "interaction": "t-1",
                "properties": {"plan": "pro"}, "expires_in": 3600}
        self.assertRequestValid(body, "post", path)
        key = {"Idempotency-Key": uid("doc-key")}
        outcomes = set()
        for i in range(40):  # some customers are in the sample, some out
            b = dict(body, customer="doc-%d" % i)
            r = self.req("POST", "/v1/surveys/%s/invitations" % sid, b, token=INGEST_TOKEN,
                         headers=key if i == 0 else None)
            j = self.conform(r, "post", path)
            outcomes.add((r.status, j.get("reason")))
            g = self.req("GET", "/v1/invitations/" + j["id"], token=READ_TOKEN)
            self.conform(g, "get", get_path, 200)
            if i == 0:
                again = self.req("POST", "/v1/surveys/%s/invitations" % sid, b, token=INGEST_TOKEN, headers=key)
                self.conform(again, "post", path, r.status)
                self.conform(self.req("POST", "/v1/surveys/%s/invitations" % sid, body, token=INGEST_TOKEN,
                                      headers=key), "post", path, 422)
            if r.status == 201:
                throttled = self.req("POST", "/v1/surveys/%s/invitations" % sid, b, token=INGEST_TOKEN)
                self.assertEqual(self.conform(throttled, "post", path, 200)["reason"], "throttled")
        self.assertEqual({s for s, _ in outcomes}, {200, 201})
        self.conform(self.req("POST", "/v1/surveys/%s/invitations" % sid, {"customer": ""}, token=INGEST_TOKEN),
                     "post", path, 422)
        self.conform(self.req("POST", "/v1/surveys/%s/invitations" % sid,
                              {"customer": "c", "send": {"email": "a@example.com"}}, token=INGEST_TOKEN),
                     "post", path, 409)
        self.conform(self.req("POST", "/v1/surveys/nope/invitations", body, token=INGEST_TOKEN), "post", path, 404)
        self.conform(self.req("GET", "/v1/invitations/" + "a" * 26, token=READ_TOKEN), "get", get_path, 404)
        with Daemon() as d:
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, readme_definition(), token=ADMIN_TOKEN).status, 201)
            r = d.req("POST", "/v1/surveys/%s/invitations" % sid, body, token=INGEST_TOKEN)
            self.assertEqual(self.conform(r, "post", path, 503)["code"], "public_url_not_configured")


class LimitedDaemonTests(BaseAPITest):
    """A daemon with a tiny anonymous rate limit and a Prometheus token."""

    METRICS_TOKEN = "prometheus-secret"
    daemon_env = {"SURVEYD_RATE_LIMIT": "0.001", "SURVEYD_RATE_BURST": "1",
                  "SURVEYD_METRICS_TOKEN": METRICS_TOKEN}

    conform = LiveAPITests.conform

    def test_rate_limited_submissions(self):
        sid = uid("rl")
        r = self.req("PUT", "/v1/surveys/" + sid, readme_definition(), token=ADMIN_TOKEN)
        self.conform(r, "put", "/v1/surveys/{survey}", 201)
        p = "/v1/surveys/{survey}/responses"
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": 1}})
        created = self.conform(r, "post", p, 201)
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": 2}})
        j = self.conform(r, "post", p, 429)
        self.assertEqual(j["code"], "rate_limited")
        r = self.req("PATCH", "/v1/responses/" + created["id"], {"answers": {"rec": 3}},
                     token=created["edit_token"])
        self.conform(r, "patch", "/v1/responses/{id}", 429)
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": 2}}, token=INGEST_TOKEN)
        self.conform(r, "post", p, 201)  # ingest tokens are not limited

    def test_prometheus_token(self):
        self.conform(self.req("GET", "/metrics"), "get", "/metrics", 401)
        self.conform(self.req("GET", "/metrics", token=INGEST_TOKEN), "get", "/metrics", 403)
        for token in (self.METRICS_TOKEN, READ_TOKEN, ADMIN_TOKEN):
            self.conform(self.req("GET", "/metrics", token=token), "get", "/metrics", 200)


class WebhookDocumentTests(BaseAPITest):
    """/v1/webhooks against the document, with deliveries to a real receiver on loopback."""

    daemon_args = ("--webhook-allow-private", "--webhook-retry-base-ms", "100")
    conform = LiveAPITests.conform
    assertRequestValid = LiveAPITests.assertRequestValid

    def wait_delivered(self, wid, count):
        deadline = time.monotonic() + 60
        while True:
            r = self.req("GET", "/v1/webhooks/%s/deliveries?status=delivered" % wid, token=ADMIN_TOKEN)
            j = self.conform(r, "get", "/v1/webhooks/{webhook}/deliveries", 200)
            if len(j["deliveries"]) >= count:
                return j["deliveries"]
            self.assertLess(time.monotonic(), deadline, "deliveries not delivered: %r" % j)
            time.sleep(0.05)

    def test_webhook_replies(self):
        from webhook_receiver import Receiver  # noqa: PLC0415
        p, one = "/v1/webhooks", "/v1/webhooks/{webhook}"
        dl, d1 = one + "/deliveries", one + "/deliveries/{delivery}"
        sid = uid("wh-doc")
        self.conform(self.req("PUT", "/v1/surveys/" + sid, readme_definition(), token=ADMIN_TOKEN),
                     "put", "/v1/surveys/{survey}", 201)
        with Receiver() as rx:
            wid = uid("doc")
            body = {"url": rx.url, "events": ["response.created", "survey.updated"], "surveys": [sid],
                    "filter": {"question": "rec", "min": 0, "max": 10}, "format": "standard", "enabled": True}
            self.assertRequestValid(body, "put", one)
            created = self.conform(self.req("PUT", p + "/" + wid, body, token=ADMIN_TOKEN), "put", one, 201)
            rx.secrets.append(created["secret"])
            self.conform(self.req("PUT", p + "/" + wid, body, token=ADMIN_TOKEN), "put", one, 200)
            self.conform(self.req("GET", p, token=ADMIN_TOKEN), "get", p, 200)
            got = self.conform(self.req("GET", p + "/" + wid, token=ADMIN_TOKEN), "get", one, 200)
            self.assertRequestValid({k: got[k] for k in ("url", "events", "surveys", "filter", "format", "enabled")},
                                    "put", one)
            self.submit_response(sid)
            delivered = self.wait_delivered(wid, 1)
            did = delivered[0]["id"]
            self.conform(self.req("GET", "%s/%s/deliveries/%s" % (p, wid, did), token=ADMIN_TOKEN), "get", d1, 200)
            self.conform(self.req("GET", "%s/%s/deliveries?limit=1&status=delivered" % (p, wid), token=ADMIN_TOKEN),
                         "get", dl, 200)
            self.conform(self.req("POST", "%s/%s/deliveries/%s/retry" % (p, wid, did), token=ADMIN_TOKEN),
                         "post", d1 + "/retry", 200)
            rx.wait_for(lambda e: len(e) >= 2)
            self.wait_delivered(wid, 1)
            replay = {"from": "2026-01-01", "to": "2026-03-01T00:00:00Z"}
            self.assertRequestValid(replay, "post", one + "/replay")
            self.conform(self.req("POST", p + "/%s/replay" % wid, replay, token=ADMIN_TOKEN), "post",
                         one + "/replay", 200)
            self.assertRequestValid({"overlap_hours": 2}, "post", one + "/rotate-secret")
            self.conform(self.req("POST", p + "/%s/rotate-secret" % wid, {"overlap_hours": 2}, token=ADMIN_TOKEN),
                         "post", one + "/rotate-secret", 200)
            # A delivery being sent: 409.
            rx.hold = threading.Event()
            self.submit_response(sid)
            rx.wait_in_progress(1)
            sending = self.conform(self.req("GET", "%s/%s/deliveries?status=sending" % (p, wid), token=ADMIN_TOKEN),
                                   "get", dl, 200)["deliveries"]
            self.conform(self.req("POST", "%s/%s/deliveries/%s/retry" % (p, wid, sending[0]["id"]),
                                  token=ADMIN_TOKEN), "post", d1 + "/retry", 409)
            rx.hold.set()
        # Errors of these paths.
        bad = {"url": "ftp://x", "events": []}
        self.assertTrue(self.assertRequestValid(bad, "put", one, valid=False))
        self.conform(self.req("PUT", p + "/" + wid, bad, token=ADMIN_TOKEN), "put", one, 422)
        with Daemon() as strict:
            r = strict.req("PUT", p + "/x", {"url": "http://127.0.0.1/", "events": ["response.created"]},
                           token=ADMIN_TOKEN)
            self.assertEqual(self.conform(r, "put", one, 422)["code"], "webhook_url_forbidden")
            r = strict.req("PUT", p + "/x", {"url": "http://no-such-host.invalid/", "events": ["response.created"]},
                           token=ADMIN_TOKEN)
            self.assertEqual(self.conform(r, "put", one, 422)["code"], "webhook_url_unresolved")
        self.conform(self.req("PUT", p + "/" + wid, "{", headers={"Content-Type": "application/json"},
                              token=ADMIN_TOKEN), "put", one, 400)
        self.conform(self.req("GET", "%s/%s/deliveries?limit=0" % (p, wid), token=ADMIN_TOKEN), "get", dl, 422)
        self.conform(self.req("GET", "%s/%s/deliveries/%s" % (p, wid, NO_DELIVERY), token=ADMIN_TOKEN),
                     "get", d1, 404)
        self.conform(self.req("POST", "%s/%s/deliveries/%s/retry" % (p, wid, NO_DELIVERY), token=ADMIN_TOKEN),
                     "post", d1 + "/retry", 404)
        self.conform(self.req("POST", p + "/%s/replay" % wid, {"from": "2026-01-02", "to": "2026-01-01"},
                              token=ADMIN_TOKEN), "post", one + "/replay", 422)
        self.conform(self.req("POST", p + "/%s/rotate-secret" % wid, {"overlap_hours": 999}, token=ADMIN_TOKEN),
                     "post", one + "/rotate-secret", 422)
        self.conform(self.req("DELETE", p + "/" + wid, token=ADMIN_TOKEN), "delete", one, 204)
        for method, path, op in (("GET", p + "/" + wid, one), ("DELETE", p + "/" + wid, one),
                                 ("GET", "%s/%s/deliveries" % (p, wid), dl),
                                 ("POST", p + "/%s/rotate-secret" % wid, one + "/rotate-secret")):
            self.conform(self.req(method, path, token=ADMIN_TOKEN), method.lower(), op, 404)

    def submit_response(self, sid):
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": 4}}, token=INGEST_TOKEN)
        self.conform(r, "post", "/v1/surveys/{survey}/responses", 201)


if __name__ == "__main__":
    unittest.main()
