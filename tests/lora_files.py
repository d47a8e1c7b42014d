"""Write LoRA files from tiny models, as the community's tools write them (tests/ldm_layout.py does the same
for SD single files): diffusers' own save_lora_weights, and kohya sd-scripts' naming."""

import copy

import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

SPATIAL = ["to_q", "to_k", "to_v", "to_out.0"]  # the attention projections a style LoRA adapts


def make_lora(unet, folder, fmt, seed=0, rank=4, alpha=2.0):
    """A random LoRA on `unet`'s attention, written as diffusers saves it or as kohya's sd-scripts names it;
    returns the file and the adapted UNet (peft's own forward: the oracle)."""
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(seed)
    adapted = copy.deepcopy(unet)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=SPATIAL, init_lora_weights=False)
    adapted.add_adapter(config, adapter_name="made")
    sd = get_peft_model_state_dict(adapted, adapter_name="made")
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "diffusers":
        StableDiffusionPipeline.save_lora_weights(str(folder), unet_lora_layers=sd, weight_name="lora.safetensors",
                                                  unet_lora_adapter_metadata=config.to_dict())
    else:  # kohya: lora_unet_<module path with underscores>.lora_down / lora_up / alpha
        kohya = {}
        for k, v in sd.items():
            module, kind = k.rsplit(".lora_", 1)
            base = "lora_unet_" + module.replace(".", "_")
            kohya[f"{base}.{'lora_down' if kind.startswith('A') else 'lora_up'}.weight"] = v.contiguous()
            kohya[f"{base}.alpha"] = torch.tensor(alpha)
        save_file(kohya, str(folder / "lora.safetensors"))
    return folder / "lora.safetensors", adapted.eval()
