"""Where the engine's models come from and how they are read, apart from the method.

    sources.py       what a model source is (hub id, folder, file, `evs:` shipped), checks that need no loading
    models.py        loading: hub id, diffusers folder, single file, VAE, fp16 variants, the SD1.5 configs
    motion_unet.py   the T2V UNet built on the T2I UNet's own spatial modules (weights stored once)
    motion_files.py  a motion module's weights file in diffusers' or the original AnimateDiff layout
    family_detect.py which AnimateDiff family a T2V model is, from its name or its weights' shapes
    loras.py         LoRAs in both UNets, each active only in its own model's stages
    fit.py           whether the models fit each other (blocks, widths, latent channels), before loading
"""
