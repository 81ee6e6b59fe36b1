"""Submissions find their survey without a database read (issue 14, CPU per POST): request threads
keep each survey as last committed and use it while no survey write has committed since. These
tests check that every survey write is seen by the very next submission, on the same connection
and right after the write's reply: a definition replaced (a question added, a survey made public or
private), a survey deleted, and one re-created under the same id."""

import unittest

from harness import ADMIN_TOKEN, BaseAPITest, uid


def definition(extra=False, public=False, title="cache"):
    questions = [{"id": "q", "type": "nps"}]
    if extra:
        questions.append({"id": "extra", "type": "yes_no"})
    d = {"title": title, "questions": questions}
    if public:
        d["public"] = True
    return d


class SurveyCacheTests(BaseAPITest):

    def warm(self, sid, answers=None):
        # Several POSTs so that every request thread has had the chance to cache the survey.
        for _ in range(6):
            self.post_ok(sid, {"answers": answers or {"q": 9}})

    def test_added_question_accepted_by_next_post(self):
        sid = uid("cache")
        self.put_survey(sid, definition())
        self.warm(sid)
        r = self.post_response(sid, {"answers": {"q": 9, "extra": True}})
        self.assertEqual(r.status, 422, r.body)  # no such question before the PUT
        self.put_survey(sid, definition(extra=True), expect=(200,))
        for _ in range(6):
            self.post_ok(sid, {"answers": {"q": 9, "extra": True}})

    def test_removed_question_refused_by_next_post(self):
        sid = uid("cache")
        self.put_survey(sid, definition(extra=True))
        self.warm(sid)  # no answer to "extra": it may be removed
        self.put_survey(sid, definition(), expect=(200,))
        for _ in range(6):
            r = self.post_response(sid, {"answers": {"q": 9, "extra": True}})
            self.assertEqual(r.status, 422, r.body)

    def test_deleted_survey_is_404_for_next_post(self):
        sid = uid("cache")
        self.put_survey(sid, definition())
        self.warm(sid)
        r = self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN)
        self.assertIn(r.status, (200, 204), r.body)
        for _ in range(6):
            r = self.post_response(sid, {"answers": {"q": 9}})
            self.assertEqual(r.status, 404, r.body)
        # Re-created under the same id, with another question: the new one is used at once.
        self.put_survey(sid, definition(extra=True), expect=(201,))
        for _ in range(6):
            self.post_ok(sid, {"answers": {"q": 9, "extra": True}})

    def test_public_flag_seen_by_next_anonymous_post(self):
        sid = uid("cache")
        self.put_survey(sid, definition(public=True))
        for _ in range(6):
            r = self.post_response(sid, {"answers": {"q": 9}}, token=None)
            self.assertEqual(r.status, 201, r.body)
        self.put_survey(sid, definition(public=False), expect=(200,))
        for _ in range(6):
            r = self.post_response(sid, {"answers": {"q": 9}}, token=None)
            self.assertIn(r.status, (401, 403), r.body)
        self.warm(sid)


if __name__ == "__main__":
    unittest.main()
