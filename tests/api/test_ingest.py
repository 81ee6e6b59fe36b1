"""The ingest path's storage layout (issue 14): response ids that sort by creation time, so the
UNIQUE index on responses.id grows at its right edge instead of taking a random page per insert."""

import os
import re
import time
import unittest

import harness
from harness import BaseAPITest, READ_TOKEN

ID_RE = re.compile(r"^[a-z2-7]{26}$")


class ResponseIdOrderTest(BaseAPITest):

    def test_ids_sort_by_creation_time(self):
        sid = self.new_survey()
        ids = []
        for i in range(12):
            r = self.post_ok(sid, {"answers": {"nps": i % 11}})
            ids.append(r.json["id"])
            time.sleep(0.003)  # a new millisecond for each: ids within one millisecond are unordered
        for rid in ids:
            self.assertRegex(rid, ID_RE)
        self.assertEqual(ids, sorted(ids), "ids made later must sort after ids made earlier")
        self.assertEqual(len(set(ids)), len(ids))

    def test_ids_within_one_millisecond_differ_in_many_bits(self):
        # 82 random bits after the time: two ids of the same moment share at most the time prefix.
        sid = self.new_survey()
        ids = [self.post_ok(sid, {"answers": {"nps": 5}}).json["id"] for _ in range(20)]
        tails = {rid[10:] for rid in ids}
        self.assertEqual(len(tails), len(ids), "the random part must differ")

    def test_old_random_ids_still_read(self):
        # Ids of older surveyds (130 random bits) are still well-formed: an unknown one is a 404.
        r = self.req("GET", "/v1/responses/" + "z" * 26, token=READ_TOKEN)
        self.assertEqual(r.status, 404, r.body[:300])


@harness.skip_unless_sqlite("about SQLite's WAL file and its checkpoints")
class BackgroundCheckpointTest(BaseAPITest):
    """WAL checkpoints run on a thread of their own, not inside the writer's COMMIT; once ingest
    pauses, that thread folds the WAL back into the database and truncates it."""

    def wal_size(self):
        try:
            return os.path.getsize(self.daemon.db_path + "-wal")
        except FileNotFoundError:
            return 0

    def test_idle_wal_is_truncated(self):
        sid = self.new_survey()
        ids = [self.post_ok(sid, {"answers": {"nps": n % 11}}).json["id"] for n in range(30)]
        self.assertGreater(self.wal_size(), 0, "the commits went to the WAL")
        deadline = time.monotonic() + 8
        while self.wal_size() > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.wal_size(), 0, "an idle daemon's WAL is checkpointed and truncated")
        for rid in ids:  # and nothing was lost on the way
            self.assertEqual(self.get_response(rid).status, 200)
        self.assertEqual(self.post_ok(sid, {"answers": {"nps": 1}}).status, 201)


if __name__ == "__main__":
    unittest.main()
