"""Subject consistency plumbing with a randomly initialised DINO-architecture ViT built offline."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evs_cli.errors import EvsError
from evs_cli.eval.vbench_metrics import (
    dino_preprocess,
    load_dino,
    normalized,
    subject_consistency,
)
from evs_cli.toy.data import render, spec_for


@pytest.fixture(scope="module")
def dino_dir(tmp_path_factory):
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=224, patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=64)
    d = tmp_path_factory.mktemp("dino")
    ViTModel(cfg, add_pooling_layer=False).save_pretrained(d)
    return d


def test_preprocess_matches_vbench_layout():
    frames = np.zeros((2, 320, 512, 3), np.uint8)
    frames[..., 0] = 255
    x = dino_preprocess(frames)
    assert x.shape == (2, 3, 224, 358)  # shorter side 224, int(224 * 512 / 320) = 358
    torch.testing.assert_close(x[0, :, 100, 100], torch.tensor([(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225]))


def test_static_video_is_perfectly_consistent(dino_dir):
    model = load_dino(str(dino_dir))
    still = np.repeat(render(spec_for(1))[:1], 5, axis=0)
    assert subject_consistency(still, model) == pytest.approx(1.0, abs=1e-5)


def test_formula_uses_previous_and_first_frame(dino_dir):
    model = load_dino(str(dino_dir))
    clip = render(spec_for(2))[:6]
    with torch.no_grad():
        f = F.normalize(model(pixel_values=dino_preprocess(clip), interpolate_pos_encoding=True)
                        .last_hidden_state[:, 0], dim=-1)
    expected = np.mean([(max(0.0, float(f[i] @ f[i - 1])) + max(0.0, float(f[i] @ f[0]))) / 2 for i in range(1, 6)])
    assert subject_consistency(clip, model) == pytest.approx(expected, abs=1e-5)
    shuffled = clip[[0, 3, 1, 5, 2, 4]]  # frame order matters to the score
    assert subject_consistency(shuffled, model) != pytest.approx(expected, abs=1e-6)


def test_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(EvsError) as e:
        load_dino("nobody/no-dino")
    assert str(e.value) == ("subject_consistency skipped: DINO weights 'nobody/no-dino': no such folder, and not in "
                            "the Hugging Face cache; pass --dino DIR or set EVS_DINO")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvsError, match=rf"DINO weights '{tmp_path / 'empty'}' is not a usable model folder \(.+\); "
                                       "pass --dino DIR"):
        load_dino(str(tmp_path / "empty"))


def test_overall_normalisation_ranges():
    from evs_cli.eval.vbench_metrics import overall

    assert normalized("subject_consistency", 1.0) == pytest.approx(1.0)
    assert normalized("motion_smoothness", 0.706) == pytest.approx(0.0)
    # the paper's EVS-on-VC2 row with our ranges: (0.9593 + 0.9773 + 0.7320 + 0.5067) / 4
    row = {"motion_smoothness": 0.9881, "subject_consistency": 0.9808, "dover": 73.20, "aesthetic": 5.46}
    assert overall(row) == pytest.approx((0.2821 / 0.2915 + 0.8346 / 0.8538 + 0.7320 + 4.46 / 9) / 4, abs=1e-4)
    assert overall({k: v for k, v in row.items() if k != "dover"}) is None


def test_eval_adds_weighted_metrics_when_weights_are_local(tmp_path, dino_dir, ap_files):
    import json

    from evs_cli.eval.amt import AMTS
    from evs_cli.io.video import write_mp4
    from helpers import evs, save_half

    (tmp_path / "v").mkdir()
    write_mp4(torch.from_numpy(render(spec_for(3), frames=5, size=128)), tmp_path / "v" / "a-0.mp4", 8)
    from evs_cli.eval.dover_net import DOVER
    from evs_cli.eval.vbench_metrics import overall

    torch.save({"state_dict": AMTS().state_dict()}, tmp_path / "amt-s.pth")
    save_half(DOVER(), tmp_path / "DOVER.pth")
    r = evs("eval", tmp_path / "v", "--dino", dino_dir, "--ap-encoder", ap_files[0], "--ap-head", ap_files[1],
            "--amt", tmp_path / "amt-s.pth", "--dover", tmp_path / "DOVER.pth", "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "m.json").read_text())
    row = out["videos"][0]
    assert 0.0 <= row["subject_consistency"] <= 1.0 and isinstance(row["aesthetic"], float)
    assert 0.0 < row["motion_smoothness"] <= 1.0 and 0.0 < row["dover"] < 100.0
    assert row["overall"] == pytest.approx(overall(row)) and out["groups"][0]["overall"] == pytest.approx(row["overall"])
    assert "motion_smoothness" in r.stdout and "overall" in r.stdout
    r = evs("eval", tmp_path / "v", "--dino", tmp_path / "nowhere", "--amt", tmp_path / "none.pth")
    assert r.returncode == 0 and "subject_consistency skipped" in r.stderr and "aesthetic skipped" in r.stderr
    assert "motion_smoothness skipped" in r.stderr and "dover skipped" in r.stderr
    assert "flicker" in r.stdout  # the weight-free metrics are still there
    assert "huggingface.co" not in r.stderr and len(r.stderr.splitlines()) == 4  # once each, in our words
    r = evs("eval", tmp_path / "v", "--dino", tmp_path / "nowhere", "-q", "--json", tmp_path / "q.json")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "") and (tmp_path / "q.json").is_file()


@pytest.fixture(scope="module")
def ap_files(tmp_path_factory):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from evs_cli.eval.vbench_metrics import AestheticHead

    torch.manual_seed(1)
    d = tmp_path_factory.mktemp("ap")
    tower = SiglipVisionModel(SiglipVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                                 num_attention_heads=2, image_size=56, patch_size=14))
    tower.save_pretrained(d / "siglip")
    head = AestheticHead(32)
    torch.save({f"scoring_head.{k}": v for k, v in head.state_dict().items()}, d / "head.pth")  # published layout
    return d / "siglip", d / "head.pth"


def test_aesthetic_matches_the_reference_pipeline(ap_files):
    """Against transformers' own SiglipImageProcessor and the head applied by hand, per frame."""
    from PIL import Image
    from transformers import SiglipImageProcessor

    from evs_cli.eval.vbench_metrics import aesthetic_score, load_aesthetic

    tower, head = load_aesthetic(str(ap_files[0]), str(ap_files[1]))
    clip = render(spec_for(4))[:4]
    proc = SiglipImageProcessor(size={"height": 56, "width": 56}, resample=Image.BICUBIC)
    px = proc([Image.fromarray(f) for f in clip], return_tensors="pt").pixel_values
    with torch.no_grad():
        emb = tower(pixel_values=px).pooler_output
        expected = float(head(emb / emb.norm(dim=-1, keepdim=True)).mean())
    assert aesthetic_score(clip, (tower, head)) == pytest.approx(expected, abs=1e-4)


def test_aesthetic_without_head_says_how_to_enable():
    from evs_cli.eval.vbench_metrics import load_aesthetic

    with pytest.raises(EvsError, match="aesthetic skipped: no Aesthetic Predictor v2.5 head .*--ap-head"):
        load_aesthetic(None, None)
