"""The hosted survey page of invitation links, GET/HEAD/POST /s/{token}, over real HTTP on both
backends: a GET or HEAD never records an answer; automated visits (HEAD, prefetch headers, scanner
user agents, bursts of different ?a= values) are counted per invitation and in /metrics and never
open it; a form POST records one response with the invitation's fields, later POSTs add to it within
24 hours of the first answer; cross-site submissions are refused; unknown and expired links get HTML
404/410 pages, never JSON; invalid answers re-render the form with their messages (422).

Invitations are written straight into the database (a token's SHA-256 as the store keeps it), so
these tests depend on the page alone, not on the invitations endpoint."""

import hashlib
import json
import re
import secrets
import unittest
import urllib.parse

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon, db_execute, db_query,
                     is_postgres, run_threads, skip_unless_postgres, uid)

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
PAGE_DEF = {
    "title": "How did we do?",
    "questions": [
        {"id": "nps", "type": "nps", "required": True},
        {"id": "solved", "type": "yes_no"},
        {"id": "topic", "type": "choice", "options": ["Billing", "Bugs"], "allow_other": True},
        {"id": "comment", "type": "text", "max_length": 40},
    ],
}
DAY_MS = 24 * 3600 * 1000
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


class HostedPageBase(BaseAPITest):

    def setUp(self):
        self.survey = self.new_survey(PAGE_DEF)

    def invite(self, survey=None, customer="cust-1", channel="email", agent="agent-7",
               interaction=None, properties=None, expires_in_ms=7 * DAY_MS):
        """A sent invitation as the store keeps it; returns (id, token, form_key)."""
        token = "".join(secrets.choice(BASE32) for _ in range(32))
        inv_id = uid("inv")
        form_key = secrets.token_hex(16)
        now = int(db_query(self.daemon, "SELECT created_at FROM surveys WHERE id = ?",
                           (survey or self.survey,))[0][0])
        db_execute(self.daemon,
                   "INSERT INTO invitations (id, survey, customer, channel, agent, interaction, properties,"
                   " outcome, token_hash, form_key, created_at, expires_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                   (inv_id, survey or self.survey, customer, channel, agent, interaction,
                    json.dumps(properties) if properties else None,
                    hashlib.sha256(token.encode()).digest(), form_key, now,
                    now + expires_in_ms if expires_in_ms else 0))
        return inv_id, token, form_key

    def row(self, inv_id):
        cols = ("opened_at", "responded_at", "response_id", "automated_visits", "last_visit_value", "captured")
        rows = db_query(self.daemon, "SELECT %s FROM invitations WHERE id = ?" % ", ".join(cols), (inv_id,))
        self.assertEqual(len(rows), 1)
        out = dict(zip(cols, rows[0]))
        out["captured"] = json.loads(out["captured"]) if out["captured"] else None
        return out

    def responses(self, survey=None):
        r = self.req("GET", "/v1/surveys/%s/responses" % (survey or self.survey), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json["responses"]

    def page(self, method, token, query="", headers=None, ua=CHROME):
        h = {"User-Agent": ua} if ua else {}
        h.update(headers or {})
        return self.req(method, "/s/%s%s" % (token, query), headers=h)

    def post_form(self, token, fields, headers=None, ua=CHROME, same_origin=True):
        h = {"User-Agent": ua, "Content-Type": "application/x-www-form-urlencoded"}
        if same_origin:
            h["Origin"] = "http://127.0.0.1:%d" % self.daemon.port
            h["Sec-Fetch-Site"] = "same-origin"
        h.update(headers or {})
        return self.req("POST", "/s/" + token, body=urllib.parse.urlencode(fields), headers=h)

    def assertHtml(self, r, status, contains=()):
        text = r.body.decode("utf-8")
        self.assertEqual(r.status, status, text[:600])
        self.assertEqual(r.headers.get("Content-Type"), "text/html; charset=utf-8")
        self.assertTrue(text.startswith("<!doctype html>"), text[:200])
        self.assertIn("default-src 'none'", r.headers.get("Content-Security-Policy") or "")
        self.assertEqual(r.headers.get("Referrer-Policy"), "same-origin")
        for piece in contains:
            self.assertIn(piece, text)
        return text

    def automated_metric(self, reason):
        r = self.req("GET", "/metrics")
        m = re.search(r'^surveyd_invitation_automated_visits_total\{reason="%s"\} (\d+)$' % reason,
                      r.body.decode(), re.M)
        self.assertIsNotNone(m, "no automated-visit counter for %s" % reason)
        return int(m.group(1))


class PageVisitTests(HostedPageBase):

    def test_get_shows_the_form_with_the_link_value_and_records_nothing(self):
        inv, token, key = self.invite()
        r = self.page("GET", token, "?a=9")
        text = self.assertHtml(r, 200, ['<html lang="en">', "<title>How did we do?</title>",
                                        'name="form_key" value="%s"' % key, 'data-capture="nps"'])
        self.assertRegex(text, r'id="q-nps-9" value="9" checked>')
        self.assertEqual(text.count(" checked"), 1)
        self.assertEqual(text.count("<fieldset"), 4)
        self.assertEqual(text.count("<legend"), 4)
        self.assertEqual(self.responses(), [])
        row = self.row(inv)
        self.assertGreater(row["opened_at"], 0)
        self.assertEqual(row["responded_at"], 0)
        self.assertEqual(row["automated_visits"], 0)
        self.assertEqual(row["last_visit_value"], "9")
        # The page's style and script come from this server (the CSP allows nothing inline).
        css = re.search(r'href="(page\.css\?v=[0-9a-f]+)"', text).group(1)
        js = re.search(r'src="(page\.js\?v=[0-9a-f]+)"', text).group(1)
        for path, kind in (("/s/" + css, "text/css"), ("/s/" + js, "application/javascript")):
            a = self.req("GET", path)
            self.assertEqual(a.status, 200, path)
            self.assertTrue(a.headers.get("Content-Type").startswith(kind))
            self.assertIn("immutable", a.headers.get("Cache-Control"))

    def test_value_not_on_the_scale_preselects_nothing(self):
        inv, token, _ = self.invite()
        text = self.assertHtml(self.page("GET", token, "?a=11"), 200)
        self.assertNotIn(" checked", text)
        self.assertNotIn("data-capture", text)

    def test_automated_visits_are_counted_never_opened_nor_answered(self):
        inv, token, _ = self.invite()
        before = {k: self.automated_metric(k) for k in ("head", "prefetch", "scanner")}
        visits = [
            ("HEAD", {}, CHROME, "head"),
            ("GET", {"Purpose": "prefetch"}, CHROME, "prefetch"),
            ("GET", {"Sec-Purpose": "prefetch;prerender"}, CHROME, "prefetch"),
            ("GET", {"X-Purpose": "preview"}, CHROME, "prefetch"),
            ("GET", {"X-Moz": "prefetch"}, CHROME, "prefetch"),
            ("GET", {}, "Mozilla/5.0 (compatible; Mimecast-URL-Protect)", "scanner"),
            ("GET", {}, "Mozilla/5.0 (Windows NT 10.0) SafeLinks/1.0", "scanner"),
            ("GET", {}, "Proofpoint-URL-Defense/2.0", "scanner"),
            ("GET", {}, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "scanner"),
            ("HEAD", {}, "Barracuda Sentinel (EE)", "head"),
            ("GET", {}, None, "scanner"),   # no User-Agent at all
        ]
        for method, headers, ua, _ in visits:
            r = self.page(method, token, "?a=9", headers=headers, ua=ua)
            self.assertEqual(r.status, 200, (method, headers, ua))
            if method == "GET":
                self.assertNotIn("data-capture", r.body.decode())
        self.assertEqual(self.responses(), [])
        row = self.row(inv)
        self.assertEqual(row["automated_visits"], len(visits))
        self.assertEqual(row["opened_at"], 0)
        self.assertEqual(row["responded_at"], 0)
        for reason in before:
            expected = sum(1 for v in visits if v[3] == reason)
            self.assertEqual(self.automated_metric(reason) - before[reason], expected, reason)

    def test_a_burst_of_different_values_is_automated(self):
        inv, token, _ = self.invite()
        bursts = self.automated_metric("burst")
        self.assertEqual(self.page("GET", token, "?a=10").status, 200)
        self.assertGreater(self.row(inv)["opened_at"], 0)      # looked like a person, at first
        self.assertEqual(self.page("GET", token, "?a=0").status, 200)
        self.assertEqual(self.page("GET", token, "?a=5").status, 200)
        row = self.row(inv)
        self.assertEqual(row["automated_visits"], 3)           # the first one too, once unmasked
        self.assertEqual(row["opened_at"], 0)
        self.assertEqual(self.automated_metric("burst") - bursts, 3)
        self.assertEqual(self.responses(), [])
        # The same value again is no burst; nor is another value long after (aged, not slept).
        self.assertEqual(self.page("GET", token, "?a=5").status, 200)
        db_execute(self.daemon, "UPDATE invitations SET last_visit_at = last_visit_at - 60000 WHERE id = ?", (inv,))
        self.assertEqual(self.page("GET", token, "?a=8").status, 200)
        row = self.row(inv)
        self.assertEqual(row["automated_visits"], 3)
        self.assertGreater(row["opened_at"], 0)

    def test_odd_link_values_are_kept_bounded_and_valid(self):
        inv, token, _ = self.invite()
        self.assertEqual(self.page("GET", token, "?a=%FF%FE").status, 200)       # not UTF-8
        self.assertEqual(self.row(inv)["last_visit_value"], "?")
        db_execute(self.daemon, "UPDATE invitations SET last_visit_at = last_visit_at - 60000 WHERE id = ?", (inv,))
        self.assertEqual(self.page("GET", token, "?a=" + "%C3%A9" * 500).status, 200)
        self.assertEqual(self.row(inv)["last_visit_value"], "\u00e9" * 400)       # 800 bytes, whole characters
        self.assertEqual(self.responses(), [])

    def test_unknown_and_expired_links_get_html_pages(self):
        r = self.page("GET", "nosuchtoken234")
        self.assertHtml(r, 404, ["Survey not found"])
        self.assertHtml(self.post_form("nosuchtoken234", {"nps": "9"}), 404, ["Survey not found"])
        inv, token, key = self.invite(expires_in_ms=DAY_MS)
        db_execute(self.daemon, "UPDATE invitations SET expires_at = created_at - 1 WHERE id = ?", (inv,))
        self.assertHtml(self.page("GET", token), 410, ["closed"])
        self.assertHtml(self.post_form(token, {"form_key": key, "nps": "9"}), 410, ["closed"])
        self.assertEqual(self.responses(), [])
        # Not JSON, whatever the client asks for.
        r = self.page("GET", "nosuchtoken234", headers={"Accept": "application/json"})
        self.assertHtml(r, 404)


class PageSubmitTests(HostedPageBase):

    def test_submit_stores_one_response_with_the_invitations_fields_then_follow_ups_add_to_it(self):
        inv, token, key = self.invite(customer="cust-42", channel="email", agent="agent-7",
                                      interaction="T-%s" % uid(), properties={"plan": "pro"})
        self.assertEqual(self.page("GET", token, "?a=9").status, 200)
        r = self.post_form(token, {"form_key": key, "nps": "9"})
        text = self.assertHtml(r, 200, ["Thank you"])
        self.assertNotIn('name="nps"', text)                   # answered: not asked again
        self.assertIn('name="comment"', text)
        stored = self.responses()
        self.assertEqual(len(stored), 1)
        resp = stored[0]
        self.assertEqual(resp["answers"], {"nps": 9})
        self.assertEqual((resp["customer"], resp["channel"], resp["agent"]), ("cust-42", "email", "agent-7"))
        self.assertTrue(resp["interaction"].startswith("T-"))
        self.assertEqual(resp["properties"], {"plan": "pro"})
        row = self.row(inv)
        self.assertEqual(row["response_id"], resp["id"])
        self.assertGreater(row["responded_at"], 0)
        self.assertEqual(row["captured"], {"nps": "submit"})

        # A comment added: the same response, updated; the rollups follow (metrics count it once).
        r = self.post_form(token, {"form_key": key, "comment": "Quick and kind", "solved": "true",
                                   "topic": "", "topic.other": "Shipping"})
        self.assertHtml(r, 200, ["Thank you!"])                # every question answered
        stored = self.responses()
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0]["id"], resp["id"])
        self.assertEqual(stored[0]["answers"], {"nps": 9, "solved": True, "topic": {"other": "Shipping"},
                                                "comment": "Quick and kind"})
        self.assertEqual(self.row(inv)["captured"],
                         {"nps": "submit", "solved": "submit", "topic": "submit", "comment": "submit"})
        m = self.req("GET", "/v1/surveys/%s/metrics" % self.survey, token=READ_TOKEN)
        self.assertEqual(m.status, 200)
        self.assertEqual(m.json["responses"], 1, m.json)
        self.assertEqual(m.json["questions"]["nps"]["answered"], 1, m.json["questions"]["nps"])
        self.assertEqual(m.json["questions"]["comment"]["answered"], 1, m.json["questions"]["comment"])
        # Opening the link again within the day: nothing left to ask.
        self.assertHtml(self.page("GET", token), 200, ["Thank you!"])

    def test_interaction_capture_is_recorded_as_such(self):
        inv, token, key = self.invite()
        r = self.post_form(token, {"form_key": key, "capture": "interaction", "nps": "9"})
        self.assertHtml(r, 200, ["Thank you"])
        self.assertEqual(self.row(inv)["captured"], {"nps": "interaction"})
        # The whole form sent later with the same score: it stays captured by interaction.
        r = self.post_form(token, {"form_key": key, "nps": "9", "comment": "ok"})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.row(inv)["captured"], {"nps": "interaction", "comment": "submit"})
        # A changed score is the person's own submit.
        self.post_form(token, {"form_key": key, "nps": "7"})
        self.assertEqual(self.row(inv)["captured"]["nps"], "submit")
        self.assertEqual(len(self.responses()), 1)
        self.assertEqual(self.responses()[0]["answers"]["nps"], 7)

    def test_after_24_hours_the_page_says_answered(self):
        inv, token, key = self.invite()
        self.assertEqual(self.post_form(token, {"form_key": key, "nps": "6"}).status, 200)
        db_execute(self.daemon, "UPDATE invitations SET responded_at = responded_at - ? WHERE id = ?",
                   (DAY_MS + 1000, inv))
        r = self.post_form(token, {"form_key": key, "nps": "10", "comment": "changed my mind"})
        self.assertHtml(r, 409, ["already been answered"])
        self.assertHtml(self.page("GET", token), 200, ["already been answered"])
        stored = self.responses()
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0]["answers"], {"nps": 6})
        # Within the window it still updates (just under 24 hours).
        db_execute(self.daemon, "UPDATE invitations SET responded_at = responded_at + 2000 WHERE id = ?", (inv,))
        self.assertEqual(self.post_form(token, {"form_key": key, "comment": "late"}).status, 200)
        self.assertEqual(self.responses()[0]["answers"], {"nps": 6, "comment": "late"})

    def test_interaction_answered_elsewhere_gets_the_answered_page(self):
        interaction = "T-%s" % uid()
        self.post_ok(self.survey, {"answers": {"nps": 3}, "interaction": interaction})
        inv, token, key = self.invite(interaction=interaction)
        self.assertHtml(self.post_form(token, {"form_key": key, "nps": "9"}), 409, ["already been answered"])
        self.assertEqual(len(self.responses()), 1)
        self.assertEqual(self.row(inv)["responded_at"], 0)

    def test_invalid_answers_re_render_the_form_with_messages(self):
        inv, token, key = self.invite()
        r = self.post_form(token, {"form_key": key, "nps": "11", "comment": "x" * 41, "topic": "Nope"})
        text = self.assertHtml(r, 422, ['role="alert"', "must be an integer from 0 to 10",
                                        "must be at most 40 characters", 'aria-invalid="true"'])
        self.assertIn("x" * 41 + "</textarea>", text)          # what was typed is kept
        r = self.post_form(token, {"form_key": key, "comment": ""})
        self.assertHtml(r, 422, ["Please answer this question."])
        r = self.post_form(token, {"form_key": key, "comment": "no score"})
        text = self.assertHtml(r, 422, ['<p class="sd-qerr" id="q-nps-err">Please answer this question.</p>'])
        self.assertIn("no score</textarea>", text)
        self.assertEqual(self.responses(), [])
        self.assertEqual(self.row(inv)["responded_at"], 0)

    def test_cross_site_and_keyless_submissions_are_refused(self):
        inv, token, key = self.invite()
        refused = [
            ({"nps": "9"}, {}),                                              # no form_key
            ({"form_key": "0" * 32, "nps": "9"}, {}),                         # a wrong one
            ({"form_key": key[:-1], "nps": "9"}, {}),                         # a prefix
            ({"form_key": key, "nps": "9"}, {"Origin": "http://evil.example"}),
            ({"form_key": key, "nps": "9"}, {"Origin": "null"}),
            ({"form_key": key, "nps": "9"}, {"Sec-Fetch-Site": "cross-site"}),
        ]
        for fields, headers in refused:
            r = self.post_form(token, fields, headers=headers)
            self.assertHtml(r, 403, ["could not be verified"])
        self.assertEqual(self.responses(), [])
        self.assertEqual(self.row(inv)["responded_at"], 0)
        # Without Origin (an older browser) the key alone lets it in.
        self.assertEqual(self.post_form(token, {"form_key": key, "nps": "9"}, same_origin=False).status, 200)
        self.assertEqual(len(self.responses()), 1)

    def test_only_forms_are_accepted(self):
        inv, token, key = self.invite()
        r = self.req("POST", "/s/" + token, body={"form_key": key, "nps": 9},
                     headers={"User-Agent": CHROME})
        self.assertHtml(r, 415)
        r = self.req("POST", "/s/" + token, body=b"form_key=%s&nps=%%FF" % key.encode(),
                     headers={"User-Agent": CHROME, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertHtml(r, 422)
        self.assertEqual(self.responses(), [])


class PageRateLimitTests(HostedPageBase):
    """Anonymous writes through the page share the address's bucket with the JSON API's."""
    daemon_env = {"SURVEYD_RATE_LIMIT": "0.001", "SURVEYD_RATE_BURST": "2"}

    def test_rate_limited_submissions_get_an_html_429(self):
        inv, token, key = self.invite()
        statuses = [self.post_form(token, {"form_key": key, "comment": "c%d" % i}).status for i in range(3)]
        self.assertEqual(statuses[:2], [422, 422])              # no score: refused, but counted
        r = self.post_form(token, {"form_key": key, "nps": "9"})
        self.assertHtml(r, 429, ["Please wait"])
        self.assertTrue(r.headers.get("Retry-After"))
        self.assertEqual(self.responses(), [])


class PageCorsTests(HostedPageBase):
    """CORS applies to /s/ as to the JSON API: a foreign origin may neither read the page nor
    preflight a post to it; an origin the operator allowed may."""
    daemon_env = {"SURVEYD_CORS_ORIGINS": "https://helpdesk.example.com"}

    def test_foreign_origins_get_no_cors_grant(self):
        inv, token, key = self.invite()
        r = self.page("GET", token, headers={"Origin": "https://evil.example.com"})
        self.assertHtml(r, 200)
        self.assertIsNone(r.headers.get("Access-Control-Allow-Origin"))
        pre = self.req("OPTIONS", "/s/" + token, headers={"Origin": "https://evil.example.com",
                                                          "Access-Control-Request-Method": "POST"})
        self.assertEqual(pre.status, 403)
        self.assertIsNone(pre.headers.get("Access-Control-Allow-Origin"))
        ok = self.page("GET", token, headers={"Origin": "https://helpdesk.example.com"})
        self.assertHtml(ok, 200)
        self.assertEqual(ok.headers.get("Access-Control-Allow-Origin"), "https://helpdesk.example.com")
        self.assertEqual(self.responses(), [])


class PagePublicUrlTests(HostedPageBase):
    """Behind a reverse proxy that does not pass the Host through, the page's origin is the public
    base's (--public-url), and posts from it are the page's own."""
    daemon_env = {"SURVEYD_PUBLIC_URL": "https://surveys.example.com/feedback"}

    def test_the_public_bases_origin_is_the_pages_own(self):
        inv, token, key = self.invite()
        for origin in ("https://evil.example.com", "https://surveys.example.com.evil.com",
                       "http://surveys.example.com:8443", "https://surveys.example.co"):
            r = self.post_form(token, {"form_key": key, "nps": "9"}, headers={"Origin": origin})
            self.assertHtml(r, 403, ["could not be verified"])
        r = self.post_form(token, {"form_key": key, "nps": "9"}, headers={"Origin": "https://surveys.example.com"})
        self.assertHtml(r, 200, ["Thank you"])
        self.assertEqual(len(self.responses()), 1)


@skip_unless_postgres("two instances share a database only on PostgreSQL")
class PageTwoInstancesTests(HostedPageBase):
    """Two surveyd processes on one database, first submits racing on both: still one response
    per invitation (the page's jobs take the (survey, customer) lock before reading it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = Daemon(data_dir=cls.daemon.data_dir)
        cls.addClassCleanup(cls.other.cleanup)
        cls.other.start()

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()
        super().tearDownClass()

    def test_racing_first_submits_make_one_response(self):
        for round_ in range(3):
            inv, token, key = self.invite(customer="race-%d" % round_)
            body = urllib.parse.urlencode({"form_key": key, "nps": "9"})

            def submit(i):
                d = self.daemon if i % 2 else self.other
                return d.client.req("POST", "/s/" + token, body=body + "&comment=c%d" % i,
                                    headers={"User-Agent": CHROME,
                                             "Content-Type": "application/x-www-form-urlencoded"}).status
            self.assertEqual(set(run_threads(12, submit)), {200})
            mine = [r for r in self.responses() if r["customer"] == "race-%d" % round_]
            self.assertEqual(len(mine), 1, mine)
            self.assertEqual(self.row(inv)["response_id"], mine[0]["id"])
            self.assertEqual(mine[0]["answers"]["nps"], 9)


if __name__ == "__main__":
    unittest.main()
