"""MinIO events on Kafka reach the right bronze table: fast, once, in few commits, bad files aside."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaProducer
from minio import Minio

from lakehouse.settings import Settings
from tests.integration.listener.conftest import (
    Bronze,
    ListenerProcess,
    dead_letters,
    end_offsets,
    mc,
    put,
    read_topic,
    record_count,
    running_listener,
    sales_csv,
    sample_file,
    wait_for,
    wait_for_partitions,
)

pytestmark = pytest.mark.integration

SALES = "raw/ecoride/sales/"
STATIONS_KEY = "raw/chargenet/stations/stations.json"
STATIONS_FALLBACK = json.dumps(
    [{"station_id": f"ST-{i:05d}", "name": f"Test {i}", "operator": "ChargeNet",
      "location": {"latitude": 34.1, "longitude": -118.2, "address": "1 Main St", "city": "Los Angeles", "state": "CA"},
      "charger_type": "L2", "num_ports": 2, "max_power_kw": 11.0, "opened_date": "2020-01-01", "status": "active"} for i in range(5)]
).encode()


def test_an_mc_copied_sales_file_and_an_uploaded_stations_file_appear_in_their_bronze_tables(
    listener_settings: Settings, s3: Minio, bronze: Bronze, tmp_path: Path, processes: Callable[..., ListenerProcess]
) -> None:
    # The listener runs as users run it (`python -m listener`), in its own process.
    sales = sample_file("raw/ecoride/sales/sales_2023-01.csv", lambda: sales_csv(1, 25))
    stations = sample_file("raw/chargenet/stations/stations.json", lambda: STATIONS_FALLBACK)
    local_sales = tmp_path / "sales_2023-01.csv"
    local_sales.write_bytes(sales)
    listener = processes(listener_settings)
    listener.wait_consuming()
    started = time.monotonic()
    mc(listener_settings, "cp", str(local_sales), f"local/{listener_settings.bucket}/{SALES}sales_2023-01.csv")
    sales_uploaded = time.monotonic()
    put(s3, listener_settings, STATIONS_KEY, stations)
    stations_uploaded = time.monotonic()

    wait_for("the sales rows", lambda: bronze.rows_per_key("ecoride_sales")[f"{SALES}sales_2023-01.csv"] == record_count("x.csv", sales),
             describe=listener.log)
    sales_seen = time.monotonic()
    wait_for("the station rows", lambda: bronze.rows_per_key("chargenet_stations")[STATIONS_KEY] == record_count("x.json", stations),
             describe=listener.log)
    stations_seen = time.monotonic()

    table = f"{listener_settings.bronze_namespace}.ecoride_sales"
    assert listener.metric("lakehouse_listener_files_total", table=table, outcome="loaded") == 1
    assert listener.metric("lakehouse_listener_rows_loaded_total", table=f"{listener_settings.bronze_namespace}.chargenet_stations") == record_count(
        "x.json", stations
    )
    assert listener.metric("lakehouse_listener_file_latency_seconds_count") == 2
    # Upper bounds: the bronze poll adds up to ~0.2 s plus a table load per check. MinIO's
    # on-disk event queue (QUEUE_DIR) forwards events on a fixed 3 s tick: expect 0-3 s of that.
    deliveries = listener.metric("lakehouse_listener_delivery_latency_seconds_count")
    print(
        f"\nLATENCY upload->visible in bronze: sales {sales_seen - sales_uploaded:.2f}s (mc cp took {sales_uploaded - started:.2f}s), "
        f"stations {stations_seen - stations_uploaded:.2f}s; PUT->committed mean {listener.metric('lakehouse_listener_file_latency_seconds_sum') / 2:.2f}s; "
        f"broker->committed (listener's share) mean {listener.metric('lakehouse_listener_delivery_latency_seconds_sum') / max(deliveries, 1):.2f}s"
    )
    assert sales_seen - sales_uploaded < 10 and stations_seen - stations_uploaded < 10


def test_a_key_with_spaces_and_non_ascii_characters_loads_under_its_decoded_key(
    listener_settings: Settings, s3: Minio, bronze: Bronze
) -> None:
    key = f"{SALES}Verkäufe März 2024 (final)+v2 — ñ.csv"
    with running_listener(listener_settings) as listener:
        wait_for_partitions(listener)
        put(s3, listener_settings, key, sales_csv(1, 3))
        rows = wait_for("the row of the odd key", lambda: bronze.rows_per_key("ecoride_sales"))
    assert rows == {key: 3}


def test_a_redelivered_event_and_an_unchanged_reupload_add_no_rows_but_new_content_does(
    listener_settings: Settings, s3: Minio, bronze: Bronze
) -> None:
    key = f"{SALES}resent.csv"
    events_from = end_offsets(listener_settings, listener_settings.events_topic)
    with running_listener(listener_settings) as listener:
        wait_for_partitions(listener)
        put(s3, listener_settings, key, sales_csv(1, 3))
        wait_for("the first version", lambda: bronze.rows_per_key("ecoride_sales")[key] == 3)

        ours = [r for r in read_topic(listener_settings, listener_settings.events_topic, events_from)
                if json.loads(r.value)["Records"][0]["s3"]["bucket"]["name"] == listener_settings.bucket]
        assert len(ours) == 1
        producer = KafkaProducer(bootstrap_servers=listener_settings.kafka_bootstrap)
        producer.send(listener_settings.events_topic, key=ours[0].key, value=ours[0].value).get(10)
        producer.close()
        duplicates = lambda: listener.metrics.value("lakehouse_listener_files_total", table=f"{listener_settings.bronze_namespace}.ecoride_sales", outcome="duplicate")  # noqa: E731
        wait_for("the redelivered event to be handled", lambda: duplicates() == 1)

        put(s3, listener_settings, key, sales_csv(1, 3))  # same bytes, same etag
        wait_for("the unchanged re-upload to be handled", lambda: duplicates() == 2)
        assert bronze.rows_per_key("ecoride_sales")[key] == 3

        put(s3, listener_settings, key, sales_csv(100, 4))  # new version of the same key
        wait_for("the new version", lambda: bronze.rows_per_key("ecoride_sales")[key] == 7)
    versions = bronze.rows_per_version("ecoride_sales")
    assert sorted(versions.values()) == [3, 4]


def test_two_hundred_files_uploaded_at_once_load_in_far_fewer_iceberg_commits(
    listener_settings: Settings, s3: Minio, bronze: Bronze
) -> None:
    files = {f"{SALES}burst/f{i:03d}.csv": sales_csv(i * 10, 2) for i in range(200)}
    with running_listener(listener_settings) as listener:
        wait_for_partitions(listener)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda item: put(s3, listener_settings, *item), files.items()))
        uploaded = time.monotonic()
        wait_for("all 200 files", lambda: len(bronze.rows_per_key("ecoride_sales")) == 200, timeout=120, interval=0.5)
        done = time.monotonic()
        batches = listener.metrics.value("lakehouse_listener_batches_total")
    rows = bronze.rows_per_key("ecoride_sales")
    assert rows == {key: 2 for key in files}
    commits = bronze.commits("ecoride_sales")
    print(f"\nBURST 200 files: {commits} Iceberg commits, {batches:.0f} listener batches; "
          f"upload {uploaded - started:.1f}s, all in bronze {done - started:.1f}s after the first upload")
    assert commits <= 20


def test_a_truncated_json_file_and_an_unroutable_key_go_to_quarantine_and_dead_letters_and_the_next_good_file_loads(
    listener_settings: Settings, s3: Minio, bronze: Bronze
) -> None:
    truncated_key, unroutable_key, good_key = STATIONS_KEY, "raw/unknown/thing.csv", f"{SALES}good.csv"
    stations = sample_file("raw/chargenet/stations/stations.json", lambda: STATIONS_FALLBACK)
    dlq_from = end_offsets(listener_settings, listener_settings.dlq_topic)
    with running_listener(listener_settings) as listener:
        wait_for_partitions(listener)
        put(s3, listener_settings, truncated_key, stations[: len(stations) // 2])
        put(s3, listener_settings, unroutable_key, b"a,b\n1,2\n")
        time.sleep(0.5)
        put(s3, listener_settings, good_key, sales_csv(1, 2))
        wait_for("the good file", lambda: bronze.rows_per_key("ecoride_sales")[good_key] == 2)
        wait_for("two quarantined files", lambda: listener.metrics.value("lakehouse_listener_files_total", table="-", outcome="quarantined")
                 + listener.metrics.value("lakehouse_listener_files_total", table=f"{listener_settings.bronze_namespace}.chargenet_stations", outcome="quarantined") == 2)
    letters = {dl["key"]: dl for dl in dead_letters(listener_settings, dlq_from)}
    assert set(letters) == {truncated_key, unroutable_key}
    assert letters[unroutable_key]["reason"] == "unroutable_key"
    assert letters[truncated_key]["reason"] not in ("", "error", "unknown")
    for dl in letters.values():
        assert dl["exception"] and dl["error"] and dl["event"]["eventName"].startswith("s3:ObjectCreated:")
        assert dl["event"]["s3"]["bucket"]["name"] == listener_settings.bucket
    quarantined = {o.object_name for o in s3.list_objects(listener_settings.bucket, prefix="quarantine/", recursive=True)}
    for key in (truncated_key, unroutable_key):
        assert {f"quarantine/{key}", f"quarantine/{key}.error.json"} <= quarantined
    assert bronze.rows_per_key("chargenet_stations") == {}
    print(f"\nDEAD LETTER REASONS: { {k: v['reason'] for k, v in letters.items()} }")
