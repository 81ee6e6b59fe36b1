"""Issue 11, item 2: a response id grants nothing; only its submitter may
follow it up.

- the 201 of a submission (and its idempotent replay) carries an edit_token
  (160 random bits, only its SHA-256 stored, valid 24 hours);
- an anonymous PATCH must present it as `Authorization: Bearer <edit_token>`;
  the id alone, another response's token, or a made-up one get one and the
  same 401, and so does an unknown id: ids can't be probed;
- the 409 for a duplicate interaction names the existing id only to ingest
  and admin tokens;
- a PATCH reply to a caller without read rights (ingest token, edit token)
  holds only id, survey, submitted_at and answers."""

import hashlib
import re
import unittest

import harness
from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, simple_definition, uid)

EDIT_TOKEN_RE = re.compile(r"^[a-z2-7]{32}$")
FOLLOW_UP_KEYS = {"id", "survey", "submitted_at", "answers"}


class EditTokenTests(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.public = uid("et-pub")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.public, simple_definition(public=True),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r

    def submit(self, body=None, token=None, headers=None):
        r = self.post_response(self.public, body or {"answers": {"nps": 3}}, token=token,
                               headers=headers)
        self.assertEqual(r.status, 201, r.body)
        return r.json

    def patch(self, rid, answers, token=None, headers=None):
        return self.req("PATCH", "/v1/responses/" + rid, {"answers": answers}, token=token,
                        headers=headers)

    def answers_of(self, rid):
        g = self.get_response(rid)
        self.assertEqual(g.status, 200, g.body)
        return g.json["answers"]

    def stored_hash(self, rid):
        rows = harness.db_query(self.daemon, "SELECT edit_token_hash FROM responses WHERE id = ?", (rid,))
        value = rows[0][0] if rows else None
        if isinstance(value, str):      # PostgreSQL's bytea, as JSON gives it: \x and hex
            value = bytes.fromhex(value[2:])
        dump = harness.db_dump(self.daemon)
        return (bytes(value) if value is not None else None), dump

    def test_201_carries_an_edit_token_stored_only_hashed(self):
        first = self.submit(token=None)
        second = self.submit(token=INGEST_TOKEN)
        for created in (first, second):
            self.assertRegex(created["edit_token"], EDIT_TOKEN_RE)  # 32 x 5 = 160 bits
            self.assertNotEqual(created["edit_token"], created["id"])
        self.assertNotEqual(first["edit_token"], second["edit_token"])
        digest, dump = self.stored_hash(first["id"])
        self.assertEqual(digest, hashlib.sha256(first["edit_token"].encode()).digest())
        self.assertNotIn(first["edit_token"], dump)  # no key given: no replay record holds it

    def test_idempotent_replay_gives_back_the_same_token(self):
        h = {"Idempotency-Key": uid("et-key")}
        body = {"answers": {"nps": 4}}
        first = self.post_response(self.public, body, token=None, headers=h)
        again = self.post_response(self.public, body, token=None, headers=h)
        self.assertEqual((first.status, again.status), (201, 201), again.body)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json["edit_token"], first.json["edit_token"])
        self.assertEqual(again.json["id"], first.json["id"])
        self.assertEqual(self.patch(first.json["id"], {"nps": 5}, token=again.json["edit_token"]).status, 200)

    def test_the_id_alone_grants_nothing(self):
        victim = self.submit({"answers": {"nps": 9, "comment": "mine"}, "customer": "cust-et",
                              "agent": "agent-et", "properties": {"plan": "pro"}})
        rid = victim["id"]
        # No token: the id was the whole capability before.
        r = self.patch(rid, {"nps": 0})
        self.assertProblem(r, 401, "unauthorized")
        self.assertNotIn(b"cust-et", r.body)
        other = self.submit()
        refused = [
            self.patch(rid, {"nps": 0}, token=other["edit_token"]),     # someone else's token
            self.patch(rid, {"nps": 0}, token="a" * 32),                # a made-up one
            self.patch(rid, {"nps": 0}, token=victim["id"]),            # the id as a token
        ]
        for r in refused:
            self.assertProblem(r, 401, "unauthorized")
            self.assertNotIn(b"cust-et", r.body)
        self.assertEqual(self.answers_of(rid), {"nps": 9, "comment": "mine"})

    def test_wrong_token_and_unknown_id_answer_alike(self):
        mine = self.submit()
        victim = self.submit()
        unknown = "b" * 26

        def shape(r):
            return (r.status, r.headers.get("Content-Type"), r.headers.get("WWW-Authenticate"),
                    r.json and {k: v for k, v in r.json.items()})
        wrong = self.patch(victim["id"], {"nps": 1}, token=mine["edit_token"])
        missing = self.patch(unknown, {"nps": 1}, token=mine["edit_token"])
        malformed = self.patch("x" * 200, {"nps": 1}, token=mine["edit_token"])
        self.assertProblem(wrong, 401, "unauthorized")
        self.assertEqual(shape(wrong), shape(missing))
        self.assertEqual(shape(wrong), shape(malformed))
        # Without any token too: no difference between an id that exists and one that doesn't.
        self.assertEqual(shape(self.patch(victim["id"], {"nps": 1})), shape(self.patch(unknown, {"nps": 1})))
        # A trusted caller still learns that an id is unknown.
        self.assertProblem(self.patch(unknown, {"nps": 1}, token=INGEST_TOKEN), 404, "not_found")

    def test_edit_token_follow_up_reply_holds_only_what_was_sent(self):
        created = self.submit({"answers": {"nps": 2}, "customer": "cust-et2", "agent": "agent-et2",
                               "interaction": uid("ticket"), "properties": {"region": "eu"}})
        r = self.patch(created["id"], {"comment": "later"}, token=created["edit_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.json), FOLLOW_UP_KEYS)
        self.assertEqual(r.json["answers"], {"nps": 2, "comment": "later"})
        self.assertEqual((r.json["id"], r.json["survey"], r.json["submitted_at"]),
                         (created["id"], self.public, created["submitted_at"]))
        self.assertEqual(self.answers_of(created["id"]), {"nps": 2, "comment": "later"})

    def test_ingest_token_follow_up_reply_is_reduced_admin_sees_all(self):
        created = self.submit({"answers": {"nps": 2}, "customer": "cust-et3", "agent": "agent-et3",
                               "properties": {"region": "eu"}}, token=INGEST_TOKEN)
        h = {"Idempotency-Key": uid("et-pkey")}
        r = self.patch(created["id"], {"nps": 6}, token=INGEST_TOKEN, headers=h)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.json), FOLLOW_UP_KEYS)
        self.assertNotIn(b"cust-et3", r.body)
        # Its replay, too.
        again = self.patch(created["id"], {"nps": 6}, token=INGEST_TOKEN, headers=h)
        self.assertEqual((again.status, again.headers.get("Idempotent-Replayed")), (200, "true"))
        self.assertEqual(again.body, r.body)
        # Admin may read responses: the whole response, replay included.
        full = self.patch(created["id"], {"nps": 6}, token=ADMIN_TOKEN, headers=h)
        self.assertEqual(full.status, 200, full.body)
        self.assertEqual(full.json, self.get_response(created["id"]).json)
        full = self.patch(created["id"], {"nps": 7}, token=ADMIN_TOKEN)
        self.assertEqual(full.json["customer"], "cust-et3")
        self.assertEqual(full.json["properties"], {"region": "eu"})

    def test_read_token_still_forbidden(self):
        created = self.submit()
        self.assertProblem(self.patch(created["id"], {"nps": 1}, token=READ_TOKEN), 403, "forbidden")

    def test_duplicate_interaction_names_the_id_only_to_trusted_callers(self):
        ticket = uid("ticket")
        first = self.submit({"answers": {"nps": 9}, "interaction": ticket})
        r = self.post_response(self.public, {"answers": {"nps": 1}, "interaction": ticket}, token=None)
        j = self.assertProblem(r, 409, "conflict")
        self.assertNotIn("id", j)
        self.assertNotIn(first["id"].encode(), r.body)
        for token in (INGEST_TOKEN, ADMIN_TOKEN):
            with self.subTest(token=token):
                r = self.post_response(self.public, {"answers": {"nps": 1}, "interaction": ticket},
                                       token=token)
                self.assertEqual(self.assertProblem(r, 409, "conflict").get("id"), first["id"])
        self.assertEqual(self.answers_of(first["id"]), {"nps": 9})

    def test_deleting_a_response_deletes_its_token(self):
        created = self.submit()
        self.assertEqual(self.req("DELETE", "/v1/responses/" + created["id"], token=ADMIN_TOKEN).status, 204)
        self.assertIsNone(self.stored_hash(created["id"])[0])
        self.assertProblem(self.patch(created["id"], {"nps": 1}, token=created["edit_token"]),
                           401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
