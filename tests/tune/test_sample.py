"""Which videos a tune samples (tune/sample.py): spread over subfolders, independent of listing order."""



from evs_cli.tune.sample import sample


def test_the_sample_is_spread_over_subfolders_and_independent_of_listing_order(tmp_path):
    from pathlib import Path

    found = [(tmp_path / d / f"{i}.mp4", Path(d) / f"{i}.mp4") for d in ("a", "b", "c") for i in range(10)]
    picked = sample(found, 6, seed=1)
    assert sorted(p.parts[0] for _, p in picked) == ["a", "a", "b", "b", "c", "c"]
    assert sample(list(reversed(found)), 6, seed=1) == picked
    assert sample(found, 6, seed=2) != picked
    assert len(sample(found, 100)) == 30
