#!/usr/bin/python3
"""One-off check (needs Debian python3-opencv; CI does not run it): the published notebook's feathering
(cv2.fillPoly with int32 points, GaussianBlur 21x21 sigma 0, alpha blend over white, astype(uint8))
against `biasscope-cli feather` outputs. Usage: check_feathering_against_notebook.py IEAT_DIR OUT_DIR"""
import json
import os
import sys

import cv2
import numpy as np

ieat, ours = sys.argv[1], sys.argv[2]
worst, n = 0, 0
for g in ("male", "female"):
    d = json.load(open(os.path.join(ieat, f"{g}_annotations.json")))
    imgs = {i["id"]: i for i in d["images"]}
    polys = {}
    for a in d["annotations"]:
        polys.setdefault(a["image_id"], []).extend(a["segmentation"])
    for iid, im in imgs.items():
        name = im["extra"]["name"]
        img = cv2.imread(os.path.join(ieat, g, name))
        if img is None:  # cv2 cannot read some formats the notebook never met; PIL would
            from PIL import Image
            img = cv2.cvtColor(np.asarray(Image.open(os.path.join(ieat, g, name)).convert("RGB")), cv2.COLOR_RGB2BGR)
        mask = np.zeros((im["height"], im["width"]), np.uint8)
        for s in polys.get(iid, []):
            cv2.fillPoly(mask, [np.array(s, dtype=np.int32).reshape(-1, 2)], 255)
        if iid not in polys:
            continue  # the notebook wrote an all-white image; BiasScope leaves it out
        alpha = cv2.GaussianBlur(mask, (21, 21), 0) / 255.0
        ref = (img * alpha[..., None] + 255 * (1 - alpha[..., None])).astype(np.uint8)
        out = cv2.imread(os.path.join(ours, g, os.path.splitext(name)[0] + ".png"))
        diff = int(np.abs(out.astype(int) - ref.astype(int)).max())
        worst = max(worst, diff)
        n += 1
print(f"{n} images, max abs pixel difference to the notebook algorithm: {worst}")
sys.exit(0 if worst <= 1 else 1)
