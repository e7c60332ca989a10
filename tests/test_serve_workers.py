"""``opslab serve --workers 2``: every scrape of /metrics covers both workers, and a reload reaches both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from opslab.registry import champion_uri
from opslab.serve.process import LabServer
from serve_support import ensure_champion, every_worker, sample_records


def scrape(url: str) -> dict[tuple, float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text  # a new connection each time
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def answered_by(metrics_dir, endpoint: str) -> set[str]:
    """The pids whose counter file counted requests to ``endpoint``."""
    pids = set()
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if f'"endpoint": "{endpoint}"' in key and value > 0:
                pids.add(path.stem.split("_")[1])
    return pids


def test_every_scrape_sees_every_worker(tmp_path):
    ensure_champion()
    records = sample_records(150, seed=4)
    batches = [records[i : i + 5] for i in range(0, len(records), 5)]
    with LabServer(data_dir=tmp_path, workers=2, timeout=300) as lab:

        def predict(batch):
            with httpx.Client(base_url=lab.url, timeout=30) as http:  # own connection: any worker
                return http.post("/predict", json=batch).status_code

        # The kernel hands each new connection to whichever worker accepts first; on a busy machine one
        # worker can take a whole round, so send rounds until both have predicted.
        rounds = 0
        with ThreadPoolExecutor(8) as pool:
            while rounds < 2 or len(answered_by(tmp_path / "metrics", "/predict")) < 2:
                assert rounds < 20, "one worker answered every request of 20 rounds"
                assert set(pool.map(predict, batches)) == {200}
                rounds += 1
        scrapes = []
        for _ in range(60):  # until both workers have answered a scrape (and at least 6 scrapes)
            scrapes.append(scrape(lab.url))
            if len(scrapes) >= 6 and len(answered_by(tmp_path / "metrics", "/metrics")) == 2:
                break
        assert len(answered_by(tmp_path / "metrics", "/metrics")) == 2
        for values in scrapes:
            predicted = sum(v for (name, _), v in values.items() if name == "opslab_predictions_total")
            assert predicted == rounds * len(records)
            assert values[("opslab_prediction_probability_count", ())] == rounds * len(records)
            posts = values[("opslab_requests_total", (("endpoint", "/predict"), ("method", "POST"), ("status", "200")))]
            assert posts == rounds * len(batches)
            assert values[("opslab_drift_window_records", ())] == min(rounds * len(records), 500)
        drift = [{labels: v for (name, labels), v in s.items() if name == "opslab_feature_psi"} for s in scrapes]
        assert len(drift[0]) == 12 and all(d == drift[0] for d in drift)


def test_a_reload_answered_by_one_worker_reaches_every_worker(tmp_path):
    """/admin/reload reaches one worker (whichever accepts the connection); the others follow its choice."""
    ensure_champion()
    pinned = f"{champion_uri().split('@')[0]}/1"  # the champion by version: /model then shows no alias
    with LabServer(data_dir=tmp_path, workers=2, admin_token="t0ken", timeout=300) as lab:
        reloaded = httpx.post(f"{lab.url}/admin/reload", json={"model_uri": pinned},
                              headers={"Authorization": "Bearer t0ken"}, timeout=60)
        assert reloaded.status_code == 200, reloaded.text
        # every worker, the one that answered and the other, serves the version (so its card has no alias)
        every_worker(lab, tmp_path / "metrics", lambda card: card["alias"] is None and card["version"] == "1")
