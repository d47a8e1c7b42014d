"""The settings fingerprint (batch/settings.py): what makes a rerun redo an output, and what must not."""

from evs_cli.batch.options import RunOptions
from evs_cli.batch.settings import fingerprint
from evs_cli.engine.preset import load_preset


def test_outputs_made_before_models_vae_existed_keep_their_fingerprint_and_an_external_vae_changes_it():
    vc2 = load_preset("vc2")
    # the values evs wrote before --vae existed (e202779): a finished folder is not redone after the upgrade
    assert fingerprint(RunOptions(vc2)) == "b990359393eece71"
    assert fingerprint(RunOptions(vc2), legacy=True) == "cc7f49ca2c3951de"
    mse = vc2.with_overrides([{"models": {"vae": "stabilityai/sd-vae-ft-mse"}}])
    ema = vc2.with_overrides([{"models": {"vae": "stabilityai/sd-vae-ft-ema"}}])
    assert len({fingerprint(RunOptions(p)) for p in (vc2, mse, ema)}) == 3
