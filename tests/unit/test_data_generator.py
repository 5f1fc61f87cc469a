"""The generator: deterministic, seed-sensitive, scalable, and the source of the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.generate import main
from data.generator.config import counts_for_scale
from data.generator.pipeline import DATASETS, generate
from tests.unit.test_data_support import SAMPLE, manifest

SMALL = 0.05


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fresh_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert main(["--out", str(out), "--scale", "1", "--seed", "7"]) == 0
    return out


def test_committed_sample_equals_a_fresh_generation_with_seed_7_scale_1(fresh_sample: Path) -> None:
    committed, fresh = tree(SAMPLE), tree(fresh_sample)
    assert sorted(committed) == sorted(fresh), "regenerate: python -m data.generate --out data/sample --force"
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"committed sample differs from the generator output: {changed[:5]}"


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=11, scale=SMALL)
    generate(tmp_path / "b", seed=11, scale=SMALL)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_a_different_seed_changes_every_dataset(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=1, scale=SMALL)
    second = generate(tmp_path / "b", seed=2, scale=SMALL)
    for name in DATASETS:
        hashes_a = [f["sha256"] for f in first["datasets"][name]["files"]]
        hashes_b = [f["sha256"] for f in second["datasets"][name]["files"]]
        assert hashes_a != hashes_b, f"{name} did not change with the seed"


def test_only_sales_writes_the_same_sales_files_as_a_full_run(tmp_path: Path) -> None:
    generate(tmp_path / "full", seed=5, scale=SMALL)
    assert main(["--out", str(tmp_path / "sales"), "--scale", str(SMALL), "--seed", "5", "--only", "sales"]) == 0
    only = tree(tmp_path / "sales")
    full = tree(tmp_path / "full")
    sales = {k: v for k, v in only.items() if k != "manifest.json"}
    assert sales and all(k.startswith("raw/ecoride/sales/") for k in sales)
    assert all(full[k] == v for k, v in sales.items())


def test_datasets_needed_by_others_are_not_written_when_not_asked_for(tmp_path: Path) -> None:
    result = generate(tmp_path, seed=3, scale=SMALL, only=["sessions"])
    assert list(result["datasets"]) == ["sessions"]
    assert {p.relative_to(tmp_path / "raw").parts[1] for p in (tmp_path / "raw").glob("*/*")} == {"sessions"}


def test_cli_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path), "--scale", str(SMALL), "--only", "vehicles"]
    assert main(args) == 0
    with pytest.raises(SystemExit, match="--force"):
        main(args)
    assert main([*args, "--force"]) == 0


def test_cli_rejects_an_unknown_dataset_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--only", "salez"]) == 2
    assert "salez" in capsys.readouterr().err


def test_scale_multiplies_row_counts_and_sales_reach_benchmark_size_at_100() -> None:
    one, half, hundred = counts_for_scale(1), counts_for_scale(0.5), counts_for_scale(100)
    assert (one.customers, one.sales, one.sessions) == (2_000, 8_000, 25_000)
    assert (half.customers, half.sales) == (1_000, 4_000)
    assert hundred.customers == 200_000
    assert hundred.sales == 8_000_000  # x ~130 bytes a row: >= 1 GB of sales CSV
    with pytest.raises(ValueError):
        counts_for_scale(0)


def test_the_sample_manifest_records_seed_and_scale() -> None:
    assert (manifest()["seed"], manifest()["scale"]) == (7, 1.0)
    assert list(manifest()["datasets"]) == list(DATASETS)
