"""The README's examples, run: every ```sh block of README.md, in order, in one bash session
against a fresh daemon started as a new user would (no tokens configured, so the admin token is
generated into data/admin-token; the examples' localhost:8080 replaced by its ephemeral loopback
port), with each curl's status and the shape of its reply checked against what the README shows:

- a status at the start of the comment after a command (`# 204; ...`), else any 2xx;
- a JSON object in that comment (`# {"deleted": 0}`, `# list (read): {"surveys": [...]}`);
- an output block after the command block (```json, or a block starting with `HTTP/1.1 201`):
  it belongs to the block's first command, and no heading or other code block may come between.

Shapes, not values: the same keys (an object holding `...` may have more), the same JSON types,
`"..."` for any string; `null` in the README stands for any value, and a number or array the README
shows may be `null` (a figure without answers is null). Blocks that cannot run here are listed in
SKIPPED with the reason; any other block that makes no request fails the test, so a new example
can't be left unchecked."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import REPO_ROOT, Daemon, is_postgres

README = os.path.join(REPO_ROOT, "README.md")

# A block containing one of these is not run, for the reason given.
SKIPPED = {
    "deploy/setup.sh": "installs packages and builds: it is the test command that runs this test",
    "docker ": "needs a container engine; tests/deploy/container.sh builds and runs the image",
    "systemctl": "needs root and systemd; tests/deploy checks the unit",
    "tests/bench/run.sh": "takes about 20 minutes; not part of CI",
    "postgresql://": "needs a PostgreSQL server: the PostgreSQL suite runs migrate and verify (test_migrate.py)",
}

# Blocks of features one backend does not have yet, not run on it (their own tests check the 501).
SKIPPED_ON_POSTGRES = {
    "/topics/": "topics are SQLite-only for now: PostgreSQL answers 501 topics_unavailable (test_topics.py)",
}

STATUS_MARK = "@@readme-status "
BLOCK_MARK = "@@readme-block "

# A new user's daemon: the defaults, no tokens configured (so one is generated), rate limits on.
NEW_USER_ENV = {"SURVEYD_ADMIN_TOKENS": None, "SURVEYD_READ_TOKENS": None,
                "SURVEYD_INGEST_TOKENS": None, "SURVEYD_RATE_LIMIT": None,
                # The Invitations section tells its reader to set this first.
                "SURVEYD_PUBLIC_URL": "https://surveys.example.com",
                # The Webhooks section tells its reader to set this to try a receiver on loopback.
                "SURVEYD_WEBHOOK_ALLOW_PRIVATE": "1"}


class Block:
    def __init__(self, lang, lines, start):
        self.lang, self.lines, self.start = lang, lines, start
        self.text = "\n".join(lines)
        self.outputs = []  # output blocks that belong to this block's first command


def read_blocks(path):
    """Every fenced block, and which sh block each output block belongs to."""
    blocks, current, lang, start = [], None, None, 0
    last_sh, interrupted = None, True
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f.read().split("\n"), 1):
            if current is None:
                m = re.match(r"^```(\w*)\s*$", line)
                if m:
                    current, lang, start = [], m.group(1), n
                elif line.startswith("#"):
                    interrupted = True
                continue
            if line.startswith("```"):
                block = Block(lang, current, start)
                is_output = lang == "json" or (lang == "" and current and current[0].startswith("HTTP/"))
                if lang == "sh":
                    last_sh, interrupted = block, False
                elif is_output and last_sh is not None and not interrupted:
                    last_sh.outputs.append(block)
                    interrupted = True
                else:
                    interrupted = True
                blocks.append(block)
                current = None
            else:
                current.append(line)
    return blocks


def commands_of(block):
    """(command text, annotation) per top-level command line; annotation is the trailing comment
    plus any comment lines right after it."""
    out = []
    for line in block.lines:
        stripped = line.strip()
        if stripped.startswith("#") and out:
            # strip(): a status on a comment line after the command ("# 201; ...") is checked too
            out[-1][1] = (out[-1][1] + " " + stripped.lstrip("#").strip()).strip()
        elif re.match(r"^(curl|[A-Z_]+=)", line):
            m = re.search(r"\s#\s(.*)$", line)
            out.append([line, m.group(1).strip() if m else ""])
    return out


def loose_json(text):
    """The README's JSON with its ellipses: [...] any array, {...} or ', ...}' an open object."""
    text = text.replace("[...]", "[]").replace("{...}", '{"...": null}')
    text = re.sub(r",\s*\.\.\.\s*}", ', "...": null}', text)
    return json.loads(text)


def annotation_json(annotation):
    i, j = annotation.find("{"), annotation.rfind("}")
    if i < 0 or j < i:
        return None
    return loose_json(annotation[i:j + 1])


def shape_errors(expected, actual, path="$"):
    if expected is None:
        return []
    if actual is None and isinstance(expected, (int, float, list)) and not isinstance(expected, bool):
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return ["%s: expected an object, got %r" % (path, actual)]
        errs = []
        open_object = "..." in expected
        for key in expected:
            if key == "...":
                continue
            if key not in actual:
                errs.append("%s: the README shows %r, the reply lacks it" % (path, key))
            else:
                errs += shape_errors(expected[key], actual[key], "%s.%s" % (path, key))
        if not open_object:
            extra = sorted(set(actual) - set(expected))
            if extra:
                errs.append("%s: the reply has %r, the README does not show it" % (path, extra))
        return errs
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return ["%s: expected an array, got %r" % (path, actual)]
        if expected and actual:
            return [e for i, item in enumerate(actual)
                    for e in shape_errors(expected[min(i, len(expected) - 1)], item, "%s[%d]" % (path, i))]
        return []
    if isinstance(expected, bool):
        return [] if isinstance(actual, bool) else ["%s: expected a boolean, got %r" % (path, actual)]
    if isinstance(expected, (int, float)):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        return [] if ok else ["%s: expected a number, got %r" % (path, actual)]
    if isinstance(expected, str):
        return [] if isinstance(actual, str) else ["%s: expected a string, got %r" % (path, actual)]
    return []


def split_http(text):
    """A `curl -i` reply: (status line, headers dict, body)."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


class ReadmeExamplesTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.blocks = read_blocks(README)
        cls.workdir = tempfile.mkdtemp(prefix="surveyd-readme-")
        cls.daemon = Daemon(data_dir=os.path.join(cls.workdir, "data"), env=NEW_USER_ENV)
        cls.addClassCleanup(shutil.rmtree, cls.workdir, True)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()
        cls.run_blocks = [b for b in cls.blocks if b.lang == "sh" and not cls.skip_reason(b)]
        cls.script = cls.build_script()
        proc = subprocess.run(["bash", "-c", cls.script], cwd=cls.workdir, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                              env=dict(os.environ, LC_ALL="C"))
        cls.stdout = proc.stdout.decode("utf-8", "replace")
        cls.stderr = proc.stderr.decode("utf-8", "replace")
        cls.daemon.stop()

    @staticmethod
    def skip_reason(block):
        for needle, reason in SKIPPED.items():
            if needle in block.text:
                return reason
        for needle, reason in (SKIPPED_ON_POSTGRES.items() if is_postgres() else ()):
            if needle in block.text:
                return reason
        return None

    @classmethod
    def build_script(cls):
        port = cls.daemon.port
        # Every curl reports its status after its output; -sS so failures say why on stderr.
        parts = ['curl() { command curl -sS --write-out "\\n%s%%{http_code}\\n" "$@"; }' % STATUS_MARK]
        for i, block in enumerate(cls.run_blocks):
            parts.append('echo "%s%d"' % (BLOCK_MARK, i))
            parts.append(block.text.replace("localhost:8080", "127.0.0.1:%d" % port))
        return "\n".join(parts) + "\n"

    def calls_of(self, index):
        """The (output, status) of each curl of run block `index`."""
        text = self.stdout.split("%s%d\n" % (BLOCK_MARK, index), 1)[1]
        text = text.split(BLOCK_MARK, 1)[0]
        statuses = re.findall(re.escape(STATUS_MARK) + r"(\d{3})", text)
        pieces = text.split(STATUS_MARK)[:-1]
        outputs = [re.sub(r"^\d{3}\n", "", p) for p in pieces]
        return [(o.rstrip("\n"), int(s)) for o, s in zip(outputs, statuses)]

    def where(self, block, command=""):
        return "README.md line %d: %s\n--- stderr of the session ---\n%s" % (
            block.start, command.strip()[:160], self.stderr[-2000:])

    # ------------------------------------------------------------------

    def test_every_block_is_run_or_skipped_for_a_reason(self):
        sh = [b for b in self.blocks if b.lang == "sh"]
        self.assertGreaterEqual(len(self.run_blocks), 10)
        for block in sh:
            with self.subTest(line=block.start):
                if self.skip_reason(block) and self.skip_reason(block) not in SKIPPED_ON_POSTGRES.values():
                    self.assertNotIn("localhost:8080", block.text,
                                     "a skipped block makes requests: " + self.where(block))
                else:
                    self.assertTrue(commands_of(block), "no command found: " + self.where(block))

    def test_admin_token_comes_from_the_generated_file(self):
        with open(os.path.join(self.workdir, "data", "admin-token")) as f:
            self.assertTrue(f.read().strip())
        self.assertIn('ADMIN="Authorization: Bearer $(cat data/admin-token)"', README_TEXT())

    def test_statuses_and_shapes(self):
        checked = 0
        for i, block in enumerate(self.run_blocks):
            commands = [c for c in commands_of(block) if c[0].startswith("curl")]
            calls = self.calls_of(i)
            self.assertEqual(len(calls), len(commands),
                             "each curl must answer once: " + self.where(block))
            for k, ((command, note), (output, status)) in enumerate(zip(commands, calls)):
                with self.subTest(line=block.start, command=command.strip()[:80]):
                    self.check_call(block, k, command, note, output, status)
                    checked += 1
        self.assertGreaterEqual(checked, 15)

    def check_call(self, block, k, command, note, output, status):
        where = self.where(block, command) + "\n--- reply ---\n" + output[:1500]
        m = re.match(r"^(\d{3})\b", note)
        shown = [o for o in block.outputs if k == 0]
        http = [o for o in shown if o.lines and o.lines[0].startswith("HTTP/")]
        if m:
            self.assertEqual(status, int(m.group(1)), where)
        elif http:
            self.assertEqual(status, int(http[0].lines[0].split()[1]), where)
        else:
            self.assertTrue(200 <= status < 300, where)
        body = output
        if " -si " in command or " -i " in command:
            status_line, headers, body = split_http(output)
            for o in http:
                self.assertEqual(status_line.split()[:2], o.lines[0].split()[:2], where)
                for line in o.lines[1:]:
                    if not line.strip():
                        break
                    self.assertIn(line.split(":")[0].strip().lower(), headers, where)
        expected = []
        if annotation_json(note) is not None:
            expected.append(annotation_json(note))
        for o in shown:
            text = "\n".join(o.lines)
            if o in http:
                text = text.partition("\n\n")[2]
            if text.strip():
                expected.append(loose_json(text))
        if " -o " in command:
            self.assertEqual(body.strip(), "", where)
            return
        for shape in expected:
            try:
                actual = json.loads(body)
            except ValueError:
                self.fail("the reply is not JSON: " + where)
            self.assertEqual(shape_errors(shape, actual), [], where)

    def test_exports_written(self):
        for name in ("support.csv", "support.ndjson"):
            path = os.path.join(self.workdir, name)
            self.assertTrue(os.path.isfile(path), name)

    def test_output_blocks_are_json(self):
        """Output blocks the README shows without a command are at least valid JSON."""
        for block in self.blocks:
            if block.lang == "json":
                with self.subTest(line=block.start):
                    loose_json(block.text)


def README_TEXT():
    with open(README, encoding="utf-8") as f:
        return f.read()


if __name__ == "__main__":
    unittest.main()
