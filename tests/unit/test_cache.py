"""The per-item cache: durable appends, tolerant reads, concurrent writers."""

import json
import logging
import multiprocessing

from contrastgen.cache import ItemCache, digest, model_identity


def test_entries_written_by_one_writer_are_read_by_every_other(tmp_path):
    ItemCache(tmp_path, "gen", "shard0").put_many([("a", [1, 2]), ("b", {"x": "ü"})])
    ItemCache(tmp_path, "gen", "shard1").put_many([("c", 0.5)])
    reader = ItemCache(tmp_path, "gen", "other")
    assert reader.lookup(["a", "b", "c", "missing"]) == {"a": [1, 2], "b": {"x": "ü"}, "c": 0.5}
    assert reader.lookup([]) == {}
    assert ItemCache(tmp_path, "other-namespace", "x").lookup(["a"]) == {}


def test_torn_last_line_is_skipped_named_and_the_next_append_starts_a_new_line(tmp_path, caplog):
    cache = ItemCache(tmp_path, "gen", "shard0")
    cache.put_many([("a", "first"), ("b", "second")])
    data = cache.path.read_bytes()
    cache.path.write_bytes(data[:-9])  # SIGKILL in the middle of writing the last entry
    with caplog.at_level(logging.WARNING):
        assert cache.lookup(["a", "b"]) == {"a": "first"}
    assert str(cache.path) in caplog.text and "line 2" in caplog.text
    cache.put_many([("b", "again")])
    caplog.clear()
    assert cache.lookup(["a", "b"]) == {"a": "first", "b": "again"}
    assert "1 bad entry" in caplog.text  # only the torn fragment, not the new entry


def test_corrupted_entry_is_ignored_with_a_warning(tmp_path, caplog):
    cache = ItemCache(tmp_path, "gen", "shard0")
    cache.put_many([("a", "left"), ("b", "right")])
    lines = cache.path.read_text().splitlines()
    lines[0] = lines[0].replace("left", "lefT")  # still valid JSON, wrong checksum
    cache.path.write_text("\n".join(lines) + "\n\x00\x01garbage\n")
    with caplog.at_level(logging.WARNING):
        assert cache.lookup(["a", "b"]) == {"b": "right"}
    assert "ignored 2 bad entries" in caplog.text and "checksum mismatch" in caplog.text
    assert str(cache.path) in caplog.text


def _write_many(directory, writer, n):
    cache = ItemCache(directory, "gen", writer)
    for i in range(n):
        cache.put_many([(f"{writer}-{i}-{j}", [writer, i, j]) for j in range(5)])


def test_concurrent_writers_in_real_processes_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(tmp_path, f"w{k}", 40)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    keys = [f"w{k}-{i}-{j}" for k in range(4) for i in range(40) for j in range(5)]
    found = ItemCache(tmp_path, "gen", "reader").lookup(keys)
    assert len(found) == len(keys) == 800
    assert found["w3-39-4"] == ["w3", 39, 4]


def test_keys_and_model_identity_follow_content(tmp_path):
    assert digest({"a": 1, "b": [2]}) == digest({"b": [2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    first = model_identity(tmp_path)
    assert first == model_identity(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 16}))
    second = model_identity(tmp_path)
    assert second["files"] != first["files"]
    # a repaired tokenizer (same weights, same config) gives other answers: another model
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    assert model_identity(tmp_path)["files"] != second["files"]
