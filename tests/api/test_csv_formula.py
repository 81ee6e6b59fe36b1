"""Issue 11, item 7: CSV can't smuggle formulas in any spreadsheet locale.

Only cells holding `,"\\r\\n` used to be quoted, so a comment `x;=cmd|' /C calc'!A0;y` reached a
spreadsheet whose list separator is ';' as the cell `=cmd|' /C calc'!A0`. Now every field is quoted,
and wherever a reader might start a cell -- at a field's start, or after ',', ';', '|', tab, CR or
LF, where a reader that takes another separator (or loses track of the quotes) splits -- a formula
character gets an apostrophe before it. JSON cells (properties, "other" write-ins) stay valid JSON
holding the same value: their risky characters are written as \\u escapes instead.
"""

import json
import re
import unittest

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, uid

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DDE = "x;=cmd|' /C calc'!A0;y"
TEXTS = [
    DDE,
    "a,=1+1",
    "a\t=HYPERLINK(\"http://evil.example\")",
    "a|@SUM(1+1)",
    "a;\"=cmd\"",
    "a;;-2+3",
    "line\n+1+1",
    "cr\r=1+1",
    "=plain leading",
    "\"=behind a quote",
    "harmless; text, with | separators",
]
PROPERTIES = {"k": "x;=p", "=key": "+v", "a,b": "-c", "semi;": "@d", "plain": "value"}
OTHER = {"other": "x;=o, y,@z"}


def fields_with_quoting(text):
    """RFC 4180 records as lists of (value, was_quoted)."""
    records, i, n = [], 0, len(text)
    while i < n:
        record = []
        while True:
            if text[i] == '"':
                j, buf = i + 1, []
                while True:
                    if text[j] == '"':
                        if text[j + 1:j + 2] == '"':
                            buf.append('"')
                            j += 2
                            continue
                        break
                    buf.append(text[j])
                    j += 1
                record.append(("".join(buf), True))
                i = j + 1
            else:
                m = re.compile(r'[^,\r\n"]*').match(text, i)
                record.append((m.group(0), False))
                i = m.end()
            if text[i] == ",":
                i += 1
                continue
            if text.startswith("\r\n", i):
                i += 2
                break
            raise AssertionError("malformed CSV at %d: %r" % (i, text[i - 20:i + 20]))
        records.append(record)
    return records


def lenient_cells(text, delim):
    """The cells a spreadsheet using `delim` as its list separator reads: a cell that starts with a
    quote is quoted until a lone quote, then anything up to the next separator or line break is
    taken literally (quotes included), as Excel and LibreOffice do with other separators' files."""
    cells, i, n = [], 0, len(text)
    while i < n:
        buf = []
        if text[i] == '"':
            i += 1
            while i < n:
                if text[i] == '"':
                    if text[i + 1:i + 2] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
        while i < n and text[i] not in (delim, "\r", "\n"):
            buf.append(text[i])
            i += 1
        cells.append("".join(buf))
        if i < n and text[i] == delim:
            i += 1
        else:
            while i < n and text[i] in "\r\n":
                i += 1
    return cells


def naive_cells(text, delim):
    """Cells of a reader that knows no quoting at all: lines, then separators, quotes stripped."""
    out = []
    for line in re.split(r"\r\n|\r|\n", text):
        out.extend(cell.lstrip('"') for cell in line.split(delim))
    return out


class CsvFormulaTest(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("csvf")
        definition = {"title": "csv", "questions": [
            {"id": "nps", "type": "nps"},
            {"id": "pick", "type": "choice", "options": ["=green", "a;-b"], "allow_other": True},
            {"id": "ok", "type": "yes_no"},
            {"id": "comment", "type": "text"}]}
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, definition, token=ADMIN_TOKEN)
        assert r.status == 201, r.body
        cls.posted = {}
        for i, text in enumerate(TEXTS):
            body = {"answers": {"nps": i % 11, "comment": text, "ok": i % 2 == 0,
                                "pick": [OTHER, "=green", "a;-b"][i % 3]},
                    "customer": "cust;=%d" % i, "agent": "ag,+%d" % i,
                    "interaction": "t|@%d" % i, "properties": PROPERTIES}
            r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid, body,
                               token=INGEST_TOKEN)
            assert r.status == 201, r.body
            cls.posted[r.json["id"]] = body
        r = cls.daemon.req("GET", "/v1/surveys/%s/responses?format=csv" % cls.sid,
                           token=READ_TOKEN)
        assert r.status == 200, r.body
        cls.text = r.body.decode("utf-8")

    def test_every_field_is_quoted(self):
        records = fields_with_quoting(self.text)
        self.assertEqual(len(records), 1 + len(TEXTS))
        for record in records:
            for value, quoted in record:
                self.assertTrue(quoted, "unquoted field %r in %r" % (value, record[0][0]))

    def test_no_cell_starts_a_formula_for_any_list_separator(self):
        for delim in (",", ";", "\t", "|"):
            for reader in (lenient_cells, naive_cells):
                with self.subTest(delim=delim, reader=reader.__name__):
                    for cell in reader(self.text, delim):
                        self.assertFalse(cell.startswith(FORMULA_START),
                                         "a %r reader sees the formula cell %r" % (delim, cell))

    def test_values_read_back_with_apostrophes_only_where_a_cell_could_start(self):
        records = fields_with_quoting(self.text)
        header = [v for v, _ in records[0]]
        self.assertEqual(header[:8], ["id", "survey", "submitted_at", "received_at", "channel",
                                      "customer", "agent", "interaction"])
        comments = {}
        for record in records[1:]:
            row = dict(zip(header, (v for v, _ in record)))
            body = self.posted[row["id"]]
            comments[body["answers"]["comment"]] = row["comment"]
            self.assertEqual(row["nps"], str(body["answers"]["nps"]))
            self.assertEqual(row["ok"], "true" if body["answers"]["ok"] else "false")
            self.assertEqual(row["channel"], "")
            i = TEXTS.index(body["answers"]["comment"])
            self.assertEqual(row["customer"], "cust;'=%d" % i)
            self.assertEqual(row["agent"], "ag,'+%d" % i)
            self.assertEqual(row["interaction"], "t|'@%d" % i)
            # JSON cells hold the same JSON value, no apostrophe anywhere.
            self.assertEqual(json.loads(row["properties"]), PROPERTIES)
            self.assertNotIn("'", row["properties"])
            pick = body["answers"]["pick"]
            if isinstance(pick, dict):
                self.assertEqual(json.loads(row["pick"]), pick)
            else:
                self.assertEqual(row["pick"], {"=green": "'=green", "a;-b": "a;'-b"}[pick])
        self.assertEqual(comments, {
            DDE: "x;'=cmd|' /C calc'!A0;y",
            "a,=1+1": "a,'=1+1",
            "a\t=HYPERLINK(\"http://evil.example\")": "a\t'=HYPERLINK(\"http://evil.example\")",
            "a|@SUM(1+1)": "a|'@SUM(1+1)",
            "a;\"=cmd\"": "a;'\"=cmd\"",
            "a;;-2+3": "a;;'-2+3",
            "line\n+1+1": "line\n'+1+1",
            "cr\r=1+1": "cr\r'=1+1",
            "=plain leading": "'=plain leading",
            "\"=behind a quote": "'\"=behind a quote",
            "harmless; text, with | separators": "harmless; text, with | separators",
        })


if __name__ == "__main__":
    unittest.main()
