#!/usr/bin/env python3
"""The bad-input contract of biasscope-cli, case by case (CTest `cli.bad_input`, docs/cli.md "Errors").

Every case gives one subcommand one bad input (an option out of range, NaN, a missing, empty, corrupt or
mutated file, a folder that is not what it claims) and asserts:
  * exit status 2,
  * exactly one line on stderr starting "biasscope-cli: error: " (the last line; other lines may only be
    progress or warnings), naming the option or the file (an expected substring),
  * no internal text in it (exception class names, "json.exception", "c10::", "what():", "terminate"),
  * nothing that existed before changed or vanished, and no new file appeared (empty folders may).
The inputs are generated here from the repository's test data; nothing is downloaded.
Usage: bad_input.py --cli BIASSCOPE_CLI --data tests/data --work DIR [--jobs N] [--only TEXT] [--no-figures]
"""
import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

INTERNAL = ("json.exception", "c10::", "what()", "terminate called", "std::", "Exception raised", "basic_string", "stoi", "stod",
            "[json", "Assertion", "cv::Exception", "filesystem error")


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def snapshot(root):
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                files[p] = (os.path.getsize(p), os.path.getmtime(p))
    return files


def png_bytes(w, h, rgb=(120, 60, 30)):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Suite:
    def __init__(self, cli, data, work):
        self.cli, self.data, self.work = cli, os.path.abspath(data), os.path.abspath(work)
        self.cases = []

    def w(self, *p):
        return os.path.join(self.work, *p)

    def write(self, rel, content):
        p = self.w(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        return p

    def run(self, args, check=True):
        r = subprocess.run([self.cli] + args, capture_output=True, text=True, env=self.env)
        if check and r.returncode != 0:
            raise SystemExit(f"setup failed: {' '.join(args)}\n{r.stdout}\n{r.stderr}")
        return r

    # ------------------------------------------------------------------ inputs
    def setup(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.env = dict(os.environ, BIASSCOPE_CACHE_DIR=self.w("cache"), OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
        d = self.data
        self.vit = os.path.join(d, "tiny-vit")
        self.vitpth = os.path.join(d, "tiny-vit.pth")
        self.image = os.path.join(d, "golden-image.png")
        self.cnn = os.path.join(d, "gradcam", "resnet-basic.safetensors")
        # images of a study set and a folder data set
        png = open(self.image, "rb").read()
        for i in range(3):
            self.write(f"imgs/img{i}.png", png)
            self.write(f"folder/a/a{i}.png", png)
            self.write(f"folder/b/b{i}.png", png)
        self.write("data.csv", "path,label,split\n" + "".join(f"folder/{c}/{c}{i}.png,{k},{s}\n" for k, c in enumerate("ab")
                                                                   for i, s in enumerate(["train", "val", "test"])))
        self.study = {"name": "bad", "heads": [{"name": "cls", "path": self.vit}],
                      "targets": [{"name": "t0", "head": "cls", "class": 0}, {"name": "t1", "head": "cls", "class": 1}],
                      "image_sets": [{"name": "s1", "folder": self.w("imgs"), "reference_target": "t0"}],
                      "analysis": {"confidence_threshold": 0.0, "top_k": 2}}
        self.studyfile = self.write("study.json", json.dumps(self.study))
        self.run(["study", "run", self.studyfile, "--out", self.w("store"), "--threads", "1"])
        self.run(["lrp", "--model", self.vit, "--image", self.image, "--target", "0", "--out", self.w("record.safetensors"), "--threads", "1"])
        self.run(["aiou", "make-data", "--out", self.w("wb"), "--bias", "0.9", "--train-per-class", "2", "--val-per-class", "1",
                  "--test-per-class", "2", "--size", "32"])
        # a COCO file for feathering (two images of the study set, one square face each)
        self.coco = {"images": [{"id": i, "file_name": f"img{i}.png", "width": 48, "height": 40} for i in range(2)],
                     "annotations": [{"id": i, "image_id": i, "category_id": 1, "segmentation": [[8, 8, 24, 8, 24, 24, 8, 24]]} for i in range(2)],
                     "categories": [{"id": 1, "name": "face"}]}
        self.cocofile = self.write("coco.json", json.dumps(self.coco))
        # a published vit_relevance/ layout, two images
        self.published = self.w("published")
        for set_ in ["unmasked_male"]:
            self.write(f"published/{set_}/scores.json", json.dumps({"p0": 0.95, "p1": 0.97}))
            for img in ["p0", "p1"]:
                top = {str(l): {"top5_index": [1, 2, 3, 4, 5], "scores": [1.0, 0.9, 0.8, 0.7, 0.6]} for l in range(2)}
                self.write(f"published/{set_}/{img}/top5_relevance_male_vit.json", json.dumps(top))
                self.write(f"published/{set_}/{img}/top5_intermediate_relevance_male_vit.json", json.dumps(top))
        self.score_sidecar = None
        self.run(["aiou", "score", "--dataset", "waterbirds", "--root", self.w("wb"), "--model", self.cnn, "--size", "32", "--out", self.w("score"),
                  "--threads", "1"])
        self.score_sidecar = [os.path.join(self.w("score"), f) for f in os.listdir(self.w("score")) if f.endswith(".json")][0]
        # corrupt files of every kind
        self.bad = {
            "empty": self.write("bad/empty.bin", b""),
            "text": self.write("bad/text.txt", "hello\n"),
            "random": self.write("bad/random.bin", os.urandom(4096)),
            "trunc_safetensors": self.write("bad/trunc.safetensors", open(os.path.join(self.vit, "model.safetensors"), "rb").read()[:300]),
            "trunc_pth": self.write("bad/trunc.pth", open(self.vitpth, "rb").read()[:2000]),
            "deep_json": self.write("bad/deep.json", "[" * 30000 + "]" * 30000),
            "bad_json": self.write("bad/bad.json", "{\"a\": "),
            "huge_png": self.write("bad/huge.png", png_bytes(1, 1)[:16] + struct.pack(">II", 40000, 40000) + png_bytes(1, 1)[24:]),
            "zero_png": self.write("bad/zero.png", png_bytes(1, 1)[:16] + struct.pack(">II", 0, 5) + png_bytes(1, 1)[24:]),
            "trunc_png": self.write("bad/trunc.png", png[: len(png) // 2]),
            "dir": self.w("imgs"),
        }
        jpg = self.run(["aiou", "make-data", "--out", self.w("jpgsrc"), "--bias", "0.5", "--train-per-class", "1", "--val-per-class", "1",
                        "--test-per-class", "1", "--size", "32"])
        jpgs = [os.path.join(dp, f) for dp, _, fs in os.walk(self.w("jpgsrc")) for f in fs if f.endswith(".jpg")]
        if jpgs:
            b = open(jpgs[0], "rb").read()
            self.bad["trunc_jpg"] = self.write("bad/trunc.jpg", b[: len(b) * 2 // 3])
        shutil.rmtree(self.w("jpgsrc"))
        # mutated model folders
        cfg = json.load(open(os.path.join(self.vit, "config.json")))
        for name, mut in {"labels_huge": {"num_labels": 2000000000}, "hidden_neg": {"hidden_size": -5}, "act": {"hidden_act": "relu"},
                          "heads_bad": {"num_attention_heads": 7}, "hidden_str": {"hidden_size": "big"}}.items():
            c = dict(cfg)
            c.update(mut)
            self.write(f"models/{name}/config.json", json.dumps(c))
            shutil.copy(os.path.join(self.vit, "model.safetensors"), self.w(f"models/{name}/model.safetensors"))
        self.write("models/nocfg_trunc/model.safetensors", open(self.bad["trunc_safetensors"], "rb").read())
        self.write("models/deepcfg/config.json", open(self.bad["deep_json"]).read())
        shutil.copy(os.path.join(self.vit, "model.safetensors"), self.w("models/deepcfg/model.safetensors"))

    # ------------------------------------------------------------------ cases
    def case(self, name, args, expect, lines=1, allow_new=False):
        args = [str(a) for a in args]
        figures = bool(args) and (args[0] == "figure" or args[:2] in (["aiou", "figure"], ["published", "consistency"]))
        self.cases.append({"name": name, "args": args, "expect": expect, "lines": lines, "allow_new": allow_new, "figures": figures})

    def numeric(self, cmd, base, option, bad_values, expect=None):
        for v in bad_values:
            self.case(f"{' '.join(cmd)} {option} {v!r}", cmd + base + [option, v], expect or option)

    def build(self):
        vit, img, out = self.vit, self.image, self.w("out")
        generic = ["nan", "NaN", "inf", "-inf", "abc", "", "1e999", "--", "0x10z"]
        lrp = ["lrp"]
        lrp_base = ["--model", vit, "--image", img, "--target", "0", "--out", self.w("out", "x.safetensors")]
        self.numeric(lrp, lrp_base, "--threads", generic + ["-1", "100000", "1.5"])
        self.numeric(lrp, lrp_base, "--gamma-conv", generic + ["-0.1", "1000"])
        self.numeric(lrp, lrp_base, "--gamma-linear", generic + ["-3", "101"])
        for o, v in [("--rule", "lrp"), ("--rule", ""), ("--readout", "grad"), ("--device", "tpu"), ("--device", "cuda:x"), ("--site", "zzz"),
                     ("--target", "label_999"), ("--target", "-1"), ("--target", "1.7"), ("--target", "99999999999")]:
            self.case(f"lrp {o} {v!r}", lrp + self._with(lrp_base, o, v), o if o != "--target" else v)
        for k, p in self.bad.items():
            self.case(f"lrp --model {k}", lrp + self._replace(lrp_base, "--model", p), p)
            if k not in ("dir",):
                self.case(f"lrp --image {k}", lrp + self._replace(lrp_base, "--image", p), p)
            self.case(f"lrp --config {k}", lrp + lrp_base + ["--config", p], p)
        for m in ["labels_huge", "hidden_neg", "act", "heads_bad", "hidden_str", "nocfg_trunc", "deepcfg"]:
            self.case(f"lrp model {m}", lrp + self._replace(lrp_base, "--model", self.w("models", m)), self.w("models", m))
        self.case("lrp missing model", lrp + self._replace(lrp_base, "--model", self.w("absent")), self.w("absent"))
        self.case("lrp --out not writable", lrp + self._replace(lrp_base, "--out", "/proc/none/x.safetensors"), "/proc/none")
        self.case("lrp --out is a folder", lrp + self._replace(lrp_base, "--out", self.w("imgs")), self.w("imgs"))
        self.case("lrp unknown option", lrp + lrp_base + ["--bogus"], "--bogus")
        self.case("lrp missing --out", lrp + lrp_base[:-2], "--out")
        # faithfulness (pixel flipping)
        fa = ["faithfulness"]
        fa_base = ["--model", vit, "--image", img, "--target", "0", "--maps", "random", "--steps", "2", "--out", self.w("out", "faith")]
        self.numeric(fa, fa_base, "--steps", generic + ["0", "-1", "1001", "2.5"])
        self.numeric(fa, fa_base, "--gradcam-layer", generic + ["64", "-65"])
        self.case("faithfulness --maps bogus", fa + self._with(fa_base, "--maps", "lime"), "lime")
        self.case("faithfulness --target bogus", fa + self._with(fa_base, "--target", "label_999"), "label_999")
        self.case("faithfulness missing images folder", fa + self._replace(fa_base, "--image", self.w("absent")), self.w("absent"))
        self.case("faithfulness --images not a folder", fa + fa_base + ["--images", img], img)
        self.case("faithfulness empty images folder", fa + self._without(fa_base, "--image") + ["--images", self.w("models")], "--image")
        for k, p in self.bad.items():
            self.case(f"faithfulness --model {k}", fa + self._replace(fa_base, "--model", p), p)

        self.case("no subcommand", [], "subcommand")
        self.case("unknown subcommand", ["frobnicate"], "frobnicate")

        # feather
        fb = ["--images", self.w("imgs"), "--annotations", self.cocofile, "--out", self.w("out", "f")]
        self.numeric(["feather"], fb, "--kernel", generic + ["0", "-3", "1000", "2.5"])
        self.case("feather even kernel", ["feather"] + fb + ["--kernel", "4"], "--kernel")
        self.case("feather background", ["feather"] + fb + ["--background", "pink"], "pink")
        self.case("feather no annotations", ["feather", "--images", self.w("imgs"), "--out", self.w("out", "f")], "--annotations")
        self.case("feather missing masks folder", ["feather", "--images", self.w("imgs"), "--masks", self.w("absent"), "--out", self.w("out", "f")],
                  self.w("absent"))
        self.case("feather missing images", ["feather"] + self._replace(fb, "--images", self.w("absent")), self.w("absent"))
        self.case("feather empty images folder", ["feather"] + self._replace(fb, "--images", self.w("models")), self.w("models"))
        for k, p in self.bad.items():
            if k != "dir":
                self.case(f"feather --annotations {k}", ["feather"] + self._replace(fb, "--annotations", p), p)
        coco_mut = {
            "not_object": [1, 2], "no_images": {"annotations": []}, "images_str": {"images": "x", "annotations": []},
            "seg_str": self._coco(lambda c: c["annotations"][0].update(segmentation="x")),
            "seg_odd": self._coco(lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3]])),
            "seg_nan_str": self._coco(lambda c: c["annotations"][0].update(segmentation=[["a", 1, 2, 3, 4, 5]])),
            "image_id_missing": self._coco(lambda c: c["annotations"][0].update(image_id=77)),
            "width_neg": self._coco(lambda c: c["images"][0].update(width=-1)),
            "width_str": self._coco(lambda c: c["images"][0].update(width="32")),
            "outside": self._coco(lambda c: c["annotations"][0].update(segmentation=[[0, 0, 500, 0, 500, 500]])),
            "both_outside": self._coco(lambda c: [a.update(segmentation=[[0, 0, 500, 0, 500, 500]]) for a in c["annotations"]]),
            "zero_area": self._coco(lambda c: [a.update(segmentation=[[5, 5, 5, 5, 5, 5]]) for a in c["annotations"]]),
            "wrong_size": self._coco(lambda c: [i.update(width=64, height=64) for i in c["images"]]),
            "nested_id": self._coco(lambda c: c["images"][0].update(id={"a": [[[[1]]]]})),
            "file_name_num": self._coco(lambda c: c["images"][0].update(file_name=5)),
        }
        for k, c in coco_mut.items():
            p = self.write(f"coco/{k}.json", json.dumps(c))
            # per-image problems: one line per image and the summary; the other images are written
            lines = {"outside": 2, "zero_area": 3, "wrong_size": 3, "both_outside": 3}.get(k, 1)
            self.case(f"feather coco {k}", ["feather"] + self._replace(fb, "--annotations", p), p, lines=lines, allow_new=k in ("outside",))

        # study run: mutations of the study file
        sr = lambda f, extra=(): ["study", "run", f, "--out", self.w("out", "store")] + list(extra)
        self.numeric(["study", "run"], [self.studyfile, "--out", self.w("out", "store")], "--threads", generic + ["-2", "5000"])
        for v in ["0/0", "1/1", "2/1", "-1/2", "0/1/2", "a/b", "0", "0/100001", "1.5/4", ""]:
            self.case(f"study run --shard {v!r}", sr(self.studyfile, ["--shard", v]), "--shard")
        muts = {
            "name_traversal": lambda s: s["image_sets"][0].update(name="../../escaped"),
            "name_slash": lambda s: s["image_sets"][0].update(name="a/b"),
            "name_empty": lambda s: s["image_sets"][0].update(name=""),
            "name_dot": lambda s: s["image_sets"][0].update(name=".."),
            "dup_set": lambda s: s["image_sets"].append(dict(s["image_sets"][0])),
            "empty_sets": lambda s: s.update(image_sets=[]),
            "sets_obj": lambda s: s.update(image_sets={"a": 1}),
            "no_sets": lambda s: s.pop("image_sets"),
            "no_targets": lambda s: s.pop("targets"),
            "no_heads": lambda s: s.pop("heads"),
            "empty_sites": lambda s: s.update(sites=[]),
            "bad_site": lambda s: s.update(sites=["zzz"]),
            "site_num": lambda s: s.update(sites=[5]),
            "class_frac": lambda s: s["targets"][0].update({"class": 1.7}),
            "class_big": lambda s: s["targets"][0].update({"class": 2 ** 32 + 1}),
            "class_neg": lambda s: s["targets"][0].update({"class": -1}),
            "class_str": lambda s: s["targets"][0].update({"class": "0"}),
            "class_out": lambda s: s["targets"][0].update({"class": 99}),
            "target_slash": lambda s: s["targets"][0].update(name="a/b"),
            "dup_target": lambda s: s["targets"].append(dict(s["targets"][0])),
            "unknown_head": lambda s: s["targets"][0].update(head="nohead"),
            "unknown_ref": lambda s: s["image_sets"][0].update(reference_target="nobody"),
            "condition": lambda s: s["image_sets"][0].update(condition="blurred"),
            "folder_missing": lambda s: s["image_sets"][0].update(folder=self.w("absent")),
            "folder_empty": lambda s: s["image_sets"][0].update(folder=self.w("models")),
            "folder_num": lambda s: s["image_sets"][0].update(folder=3),
            "head_missing": lambda s: s["heads"][0].update(path=self.w("absent")),
            "head_corrupt": lambda s: s["heads"][0].update(path=self.bad["trunc_safetensors"]),
            "dup_head": lambda s: s["heads"].append(dict(s["heads"][0])),
            "rule": lambda s: s.update(rule="lrp"),
            "readout": lambda s: s.update(readout=7),
            "threshold_big": lambda s: s.update(analysis={"confidence_threshold": 5}),
            "threshold_str": lambda s: s.update(analysis={"confidence_threshold": "high"}),
            "topk_zero": lambda s: s.update(analysis={"top_k": 0}),
            "topk_frac": lambda s: s.update(analysis={"top_k": 2.5}),
            "gamma_neg": lambda s: s.update(gamma={"conv": -1}),
            "not_object": lambda s: s.clear() or s.update(x=1),
            "name_num": lambda s: s.update(name=5),
        }
        for k, f in muts.items():
            s = json.loads(json.dumps(self.study))
            f(s)
            p = self.write(f"studies/{k}.json", json.dumps(s))
            self.case(f"study run {k}", sr(p), p if k not in ("head_missing", "head_corrupt", "folder_missing") else
                      {"head_missing": self.w("absent"), "head_corrupt": self.bad["trunc_safetensors"], "folder_missing": self.w("absent")}[k])
        for k in ["empty", "text", "deep_json", "bad_json", "random"]:
            self.case(f"study run file {k}", sr(self.bad[k]), self.bad[k])
        self.case("study run missing file", sr(self.w("absent.json")), self.w("absent.json"))
        self.write("studies/list.json", "[1, 2, 3]")
        self.case("study run list", sr(self.w("studies/list.json")), self.w("studies/list.json"))
        # two images with one stem
        s = json.loads(json.dumps(self.study))
        os.makedirs(self.w("dupstem"), exist_ok=True)
        shutil.copy(self.image, self.w("dupstem", "x.png"))
        shutil.copy(self.image, self.w("dupstem", "x.bmp"))
        s["image_sets"][0]["folder"] = self.w("dupstem")
        p = self.write("studies/dupstem.json", json.dumps(s))
        self.case("study run duplicate stems", sr(p), "same name stem")

        # study analyze
        an = ["study", "analyze", self.w("store"), "--out", self.w("out", "analysis")]
        self.numeric(["study", "analyze"], [self.w("store"), "--out", self.w("out", "analysis")], "--threshold", generic + ["-1", "1.5", "-0.0001"])
        self.numeric(["study", "analyze"], [self.w("store"), "--out", self.w("out", "analysis")], "--top-k", generic + ["0", "-5", "100000", "2.5"])
        self.numeric(["study", "analyze"], [self.w("store"), "--out", self.w("out", "analysis")], "--dpi", generic + ["0", "-1", "100000"])
        self.case("analyze top-k above the neurons", an + ["--top-k", "9999"], "top-k 9999")
        self.case("analyze format", an + ["--format", "bmp"], "--format")
        self.case("analyze significance", an + ["--significance", "maybe"], "--significance")
        self.case("analyze missing store", ["study", "analyze", self.w("absent")], self.w("absent"))
        self.case("analyze not a store", ["study", "analyze", self.w("imgs")], self.w("imgs"))
        # stores with damaged or foreign records (copies of the good store)
        rec_dir = os.path.join(self.w("store"), "relevance", "s1")
        recs = sorted(os.listdir(rec_dir))
        store_muts = {
            "truncated_record": lambda d: open(os.path.join(d, "relevance", "s1", recs[0]), "r+b").truncate(200),
            "foreign_params": lambda d: self._retag(os.path.join(d, "relevance", "s1", recs[0]), "params_key", "0000000000000000"),
            "foreign_model": lambda d: self._retag(os.path.join(d, "relevance", "s1", recs[1]), "model_key", "feedfeedfeedfeed"),
            "deleted_image": lambda d: shutil.copy(os.path.join(d, "relevance", "s1", recs[0]), os.path.join(d, "relevance", "s1", "gone.safetensors")),
            "no_records": lambda d: [os.remove(os.path.join(d, "relevance", "s1", r)) for r in recs],
            "study_json_broken": lambda d: open(os.path.join(d, "study.json"), "w").write("{"),
            "study_json_deep": lambda d: open(os.path.join(d, "study.json"), "w").write("[" * 5000 + "]" * 5000),
            "record_not_safetensors": lambda d: open(os.path.join(d, "relevance", "s1", recs[0]), "wb").write(b"not a record"),
            "record_huge_header": lambda d: open(os.path.join(d, "relevance", "s1", recs[0]), "wb").write(struct.pack("<Q", 2 ** 62) + b"{}"),
        }
        for k, f in store_muts.items():
            d = self.w("stores", k)
            shutil.copytree(self.w("store"), d)
            f(d)
            expect = {"truncated_record": recs[0], "foreign_params": recs[0], "foreign_model": "another model", "deleted_image": "gone.safetensors",
                      "no_records": "s1", "study_json_broken": "study.json", "study_json_deep": "study.json", "record_not_safetensors": recs[0],
                      "record_huge_header": recs[0]}[k]
            self.case(f"analyze store {k}", ["study", "analyze", d, "--out", self.w("out", "an-" + k)], expect)
        # import-published and merge
        pm = {
            "empty_list": lambda d: self._edit_top(d, lambda t: t["0"].update(top5_index=[])),
            "neg_index": lambda d: self._edit_top(d, lambda t: t["0"].update(top5_index=[-1, 2, 3, 4, 5])),
            "float_index": lambda d: self._edit_top(d, lambda t: t["0"].update(top5_index=[1.5, 2, 3, 4, 5])),
            "layer_key": lambda d: self._edit_top(d, lambda t: t.update({"99999999999": t.pop("0")})),
            "top_not_object": lambda d: self._edit_top(d, lambda t: t.clear() or t.update({"0": 5})),
            # found by fuzz_published_relevance: fewer scores than indices, a layer given twice ("0", "00")
            "scores_short": lambda d: self._edit_top(d, lambda t: t["0"].update(scores=[0.5, 0.2, 0.1])),
            "scores_nan": lambda d: self._edit_top(d, lambda t: t["0"].update(scores=[0.5, "x", 0.1, 0.1, 0.1])),
            "layer_twice": lambda d: self._edit_top(d, lambda t: t.update({"00": t.pop("1")})),
            "confidence_5": lambda d: open(os.path.join(d, "unmasked_male", "scores.json"), "w").write(json.dumps({"p0": 5.0, "p1": 0.9})),
            "confidence_str": lambda d: open(os.path.join(d, "unmasked_male", "scores.json"), "w").write(json.dumps({"p0": "x", "p1": 0.9})),
            "scores_missing": lambda d: os.remove(os.path.join(d, "unmasked_male", "scores.json")),
            "set_gender": lambda d: os.rename(os.path.join(d, "unmasked_male"), os.path.join(d, "unmasked_other")),
            "deep": lambda d: open(os.path.join(d, "unmasked_male", "scores.json"), "w").write("{\"a\":" * 10000 + "1" + "}" * 10000),
        }
        for k, f in pm.items():
            d = self.w("pubs", k)
            shutil.copytree(self.published, d)
            f(d)
            self.case(f"import-published {k}", ["study", "import-published", d, "--out", self.w("out", "imp-" + k)], d)
        self.case("import-published missing", ["study", "import-published", self.w("absent"), "--out", self.w("out", "imp")], self.w("absent"))
        self.case("merge missing source", ["study", "merge", self.w("absent"), "--out", self.w("out", "merged")], self.w("absent"))
        self.case("merge foreign params", ["study", "merge", self.w("stores", "foreign_params"), "--out", self.w("out", "merged")], recs[0])

        # figure
        fg = ["figure", self.w("record.safetensors"), "--out", self.w("out", "fig")]
        for o in ["--dpi", "--width", "--height", "--percentile", "--alpha"]:
            self.numeric(["figure"], [self.w("record.safetensors"), "--out", self.w("out", "fig")], o,
                         generic[:6] + (["-0.5", "1.5"] if o == "--alpha" else ["0", "-1", "100000"]))
        self.case("figure missing --image", fg + ["--image", self.w("absent.png")], "--image")
        self.case("figure --site not stored", fg + ["--site", "zzz"], "--site zzz")
        self.case("figure --target not stored", fg + ["--target", "77"], "'77'")
        self.case("figure format", fg + ["--format", "gif"], "--format")
        self.case("figure too many pixels", fg + ["--width", "20", "--dpi", "2000"], "pixels")
        self.case("published figure too many pixels", ["published", "consistency", "--vit-relevance", self.published, "--out", self.w("out", "pc"),
                                                        "--width", "30", "--dpi", "1000"], "pixels")
        for k in ["empty", "text", "random", "trunc_safetensors"]:
            self.case(f"figure record {k}", ["figure", self.bad[k], "--out", self.w("out", "fig")], self.bad[k])
        nan_rec = self.w("nanrec.safetensors")
        self._nan_record(self.w("record.safetensors"), nan_rec)
        self.case("figure NaN record", ["figure", nan_rec, "--out", self.w("out", "fig")], "NaN")

        # train
        tb = ["--data", "csv", "--root", self.w("data.csv"), "--config", os.path.join(vit, "config.json"), "--out", self.w("out", "train")]
        for o, extra in [("--epochs", ["0", "-1", "20000"]), ("--batch", ["0", "-4", "100000"]), ("--lr", ["0", "-1", "1e30", "100"]),
                         ("--weight-decay", ["-1", "11"]), ("--patience", ["0", "-1"]), ("--workers", ["-1", "1000"]), ("--threads", ["-1", "99999"])]:
            self.numeric(["train"], tb, o, generic[:7] + extra)
        self.case("train --data", ["train"] + self._replace(tb, "--data", "parquet"), "--data")
        self.case("train --mode", ["train"] + tb + ["--mode", "lora"], "--mode")
        self.case("train no init or config", ["train", "--data", "csv", "--root", self.w("data.csv"), "--out", self.w("out", "train")], "--init")
        for k in ["empty", "text", "deep_json", "bad_json"]:
            self.case(f"train --config {k}", ["train"] + self._replace(tb, "--config", self.bad[k]), self.bad[k])
        csv_muts = {"no_path": "file,label\nx.png,0\n", "empty": "", "split_bad": "path,label,split\nfolder/a/a0.png,0,dev\n",
                    "cells": "path,label,split\nfolder/a/a0.png\n", "label_big": "path,label\n" + "".join(f"folder/a/a{i}.png,99999999999\n" for i in range(3)),
                    "one_class": "path,label\n" + "".join(f"folder/a/a{i}.png,0\n" for i in range(3))}
        for k, c in csv_muts.items():
            p = self.write(f"csv/{k}.csv", c)
            self.case(f"train csv {k}", ["train"] + self._replace(tb, "--root", p), p)
        celeb = self.w("celeba")
        os.makedirs(os.path.join(celeb, "img_align_celeba"), exist_ok=True)
        for k, c in {"count": "x\nMale Young\n", "values": "1\nMale Young\n000001.jpg 1\n", "empty": "", "value": "1\nMale\n000001.jpg 7\n"}.items():
            d = self.w("celebas", k)
            os.makedirs(os.path.join(d, "img_align_celeba"), exist_ok=True)
            open(os.path.join(d, "list_attr_celeba.txt"), "w").write(c)
            self.case(f"train celeba {k}", ["train", "--data", "celeba", "--root", d, "--config", os.path.join(vit, "config.json"), "--out", self.w("out", "train")],
                      "list_attr_celeba.txt")
        self.case("train celeba missing root", ["train", "--data", "celeba", "--root", self.w("absent"), "--config", os.path.join(vit, "config.json"),
                                                "--out", self.w("out", "train")], self.w("absent"))
        self.case("train init corrupt", ["train", "--data", "csv", "--root", self.w("data.csv"),
                  "--init", self.bad["trunc_safetensors"], "--out", self.w("out", "train")], self.bad["trunc_safetensors"])

        # demo, make-demo
        db = ["--out", self.w("out", "demo")]
        for o, extra in [("--bias", ["-0.1", "1.5"]), ("--epochs", ["0", "-1", "5000"]), ("--train-per-class", ["0", "1", "-3"]),
                         ("--plain-share", ["-1", "1"]), ("--colour-cue", ["-1", "2"]), ("--threads", ["-1", "100000"])]:
            self.numeric(["demo"], db, o, generic[:6] + extra)
        self.case("make-demo --seed", ["make-demo", "--out", self.w("out", "md"), "--seed", "abc"], "--seed")
        self.case("make-demo --out not writable", ["make-demo", "--out", "/proc/none/md"], "/proc/none")

        # aiou
        ad = ["--dataset", "waterbirds", "--root", self.w("wb"), "--model", self.cnn, "--out", self.w("out", "aiou")]
        for o, extra in [("--size", ["0", "1", "-5", "100000"]), ("--batch-size", ["0", "-1", "100000"]), ("--vit-layer", ["99", "-99"]),
                         ("--threads", ["-1", "100000"])]:
            self.numeric(["aiou", "score"], ad, o, generic[:6] + extra)
        self.case("aiou score --dataset", ["aiou", "score"] + self._replace(ad, "--dataset", "imagenet"), "--dataset")
        self.case("aiou score --score", ["aiou", "score"] + ad + ["--score", "both"], "--score")
        self.case("aiou score --map", ["aiou", "score"] + ad + ["--map", "saliency"], "--map")
        self.case("aiou score missing model", ["aiou", "score"] + self._replace(ad, "--model", self.w("absent.safetensors")), self.w("absent.safetensors"))
        for k in ["empty", "text", "random", "trunc_safetensors", "trunc_pth"]:
            self.case(f"aiou score model {k}", ["aiou", "score"] + self._replace(ad, "--model", self.bad[k]), self.bad[k])
        self.case("aiou score not a data set", ["aiou", "score"] + self._replace(ad, "--root", self.w("imgs")), self.w("imgs"))
        meta = open(os.path.join(self.w("wb"), "metadata.csv")).read()
        meta_muts = {"no_split": meta.replace("split", "part"), "y_big": meta.replace(",0,", ",7,", 1), "fields": meta.split("\n")[0] + "\nx.png\n",
                     "empty": "", "missing_image": meta + "img_missing.jpg,0,0,2,x\n"}
        for k, c in meta_muts.items():
            d = self.w("wbs", k)
            shutil.copytree(self.w("wb"), d)
            open(os.path.join(d, "metadata.csv"), "w").write(c)
            self.case(f"aiou score metadata {k}", ["aiou", "score"] + self._replace(ad, "--root", d), os.path.join(d, "metadata.csv") if k != "missing_image" else "img_missing")
        sb = ["--counts", "9000", "8500", "3000", "500"]
        for v in ["nan", "-1", "1", "2", "abc", "inf"]:
            self.case(f"aiou subsample --target {v}", ["aiou", "subsample"] + sb + ["--target", v], "--target")
        for counts in [["nan", "1", "1", "1"], ["-1", "5", "5", "5"], ["1", "2", "3"], ["a", "b", "c", "d"], ["1e10", "1", "1", "1"]]:
            self.case(f"aiou subsample --counts {counts}", ["aiou", "subsample", "--counts"] + counts + ["--target", "0.1"], "--counts")
        self.numeric(["aiou", "subsample"], sb, "--total", ["nan", "-1", "abc"])
        self.numeric(["aiou", "subsample"], sb, "--plan", ["nan", "1", "-1", "abc"])
        mk = ["--out", self.w("out", "mk")]
        for o, extra in [("--bias", ["-0.5", "2"]), ("--train-per-class", ["0", "-1"]), ("--val-per-class", ["0"]), ("--test-per-class", ["0"]),
                         ("--size", ["0", "1", "15", "5000"])]:
            self.numeric(["aiou", "make-data"], mk, o, generic[:6] + extra)
        mp = ["--dataset", "waterbirds", "--root", self.w("wb"), "--model", self.cnn, "--out", self.w("out", "maps")]
        for o, extra in [("--count", ["0", "-1", "1000000"]), ("--index", ["-1"]), ("--first", ["-1"])]:
            self.numeric(["aiou", "maps"], mp, o, generic[:6] + extra)
        self.case("aiou maps --target", ["aiou", "maps"] + mp + ["--target", "max"], "--target")
        af = ["--result", self.score_sidecar, "--out", self.w("out", "afig")]
        for o in ["--dpi", "--width", "--height"]:
            self.numeric(["aiou", "figure"], af, o, generic[:6] + ["0", "-1", "100000"])
        self.case("aiou figure --kind", ["aiou", "figure"] + af + ["--kind", "pie"], "--kind")
        self.case("aiou figure missing result", ["aiou", "figure", "--result", self.w("absent.json"), "--out", self.w("out", "afig")], "absent.json")
        for k in ["empty", "text", "deep_json", "bad_json"]:
            self.case(f"aiou figure result {k}", ["aiou", "figure", "--result", self.bad[k], "--out", self.w("out", "afig")], self.bad[k])
        tr = ["--dataset", "waterbirds", "--root", self.w("wb"), "--init", self.cnn, "--out", self.w("out", "atrain")]
        for o, extra in [("--epochs", ["0", "-1"]), ("--batch-size", ["0"]), ("--lr", ["0", "-1", "1e30"]), ("--weight-decay", ["-1"]),
                         ("--train-multiple", ["0", "-1", "5000"]), ("--subgroup-mcc", ["1", "-1", "nan"]), ("--workers", ["-1"])]:
            self.numeric(["aiou", "train"], tr, o, generic[:4] + extra)
        self.case("aiou train --arch", ["aiou", "train"] + tr + ["--arch", "vgg"], "vgg")
        self.case("aiou train --one-sided-keep", ["aiou", "train"] + tr + ["--one-sided-keep", "both"], "--one-sided-keep")
        self.case("published consistency missing", ["published", "consistency", "--vit-relevance", self.w("absent"), "--out", self.w("out", "pc")], self.w("absent"))
        for o, extra in [("--threshold", ["-1", "2"]), ("--dpi", ["0"]), ("--width", ["0", "-1"]), ("--height", ["1000"])]:
            self.numeric(["published", "consistency"], ["--vit-relevance", self.published, "--out", self.w("out", "pc")], o, generic[:4] + extra)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _with(args, option, value):
        return Suite._replace(args, option, value) if option in args else list(args) + [option, value]

    @staticmethod
    def _without(args, option):
        out = list(args)
        i = out.index(option)
        del out[i:i + 2]
        return out

    @staticmethod
    def _replace(args, option, value):
        out = list(args)
        i = out.index(option)
        out[i + 1] = value
        return out

    def _coco(self, f):
        c = json.loads(json.dumps(self.coco))
        f(c)
        return c

    @staticmethod
    def _edit_top(d, f):
        p = os.path.join(d, "unmasked_male", "p0", "top5_relevance_male_vit.json")
        t = json.load(open(p))
        f(t)
        open(p, "w").write(json.dumps(t))

    @staticmethod
    def _read_st(path):
        b = open(path, "rb").read()
        n = struct.unpack("<Q", b[:8])[0]
        return json.loads(b[8:8 + n]), b[8 + n:]

    @staticmethod
    def _write_st(path, header, data):
        h = json.dumps(header).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)

    def _retag(self, path, key, value):
        h, data = self._read_st(path)
        h["__metadata__"][key] = value
        self._write_st(path, h, data)

    def _nan_record(self, src, dst):
        h, data = self._read_st(src)
        data = bytearray(data)
        for k, v in h.items():
            if k.endswith("/input") and v["dtype"] == "F32":
                a, b = v["data_offsets"]
                data[a:b] = struct.pack("<f", float("nan")) * ((b - a) // 4)
        self._write_st(dst, h, bytes(data))

    # ------------------------------------------------------------------ running
    def check(self, c, root):
        """Runs one case in `root`, a private copy of the work folder (paths in the case are rewritten to it)."""
        args = [a.replace(self.work, root) for a in c["args"]]
        expect = c["expect"].replace(self.work, root)
        before = snapshot(root)
        r = subprocess.run([self.cli] + args, capture_output=True, text=True, errors="replace", env=dict(self.env, BIASSCOPE_CACHE_DIR=root + "/cache"),
                           timeout=300)
        after = snapshot(root)
        problems = []
        if r.returncode != 2:
            problems.append(f"exit {r.returncode} (expected 2)")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("biasscope-cli: error: ")]
        if len(errors) != c["lines"]:
            problems.append(f"{len(errors)} error lines (expected {c['lines']})")
        if not lines or not lines[-1].startswith("biasscope-cli: error: "):
            problems.append("the last stderr line is not the error")
        if errors and not any(expect in e or c["expect"] in e for e in errors):  # paths inside copied files keep the original root
            problems.append(f"the error does not name {expect!r}")
        for l in errors:
            if len(l) > 600 or any((ord(ch) < 32 and ch != "\t") or ch == "\ufffd" for ch in l):
                problems.append("the message echoes raw input (unprintable or over 600 characters)")
            for bad in INTERNAL:
                if bad in l:
                    problems.append(f"internal text {bad!r} in the message")
        for p, st in before.items():
            if p not in after:
                problems.append(f"removed {p}")
            elif after[p] != st and "/cache/" not in p:
                problems.append(f"changed {p}")
        new = [p for p in after if p not in before and "/cache/" not in p]
        if new and not c["allow_new"]:
            problems.append(f"new files: {new[:3]}")
        for p in new:
            os.remove(p)
        shutil.rmtree(os.path.join(root, "out"), ignore_errors=True)
        return problems, r, args

    def main(self, jobs, only, skip_figures):
        self.setup()
        self.build()
        cases = [c for c in self.cases if (not only or only in c["name"]) and not (skip_figures and c.get("figures"))]
        print(f"{len(cases)} bad-input cases, {jobs} at a time")
        # each worker runs its share in a copy of the work folder, so snapshots see only its own case
        roots = []
        for k in range(jobs):
            root = self.work + f"-w{k}"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(self.work, root, symlinks=True)
            roots.append(root)
        # the copies' records name the original paths (images of the study store): the originals stay in place
        failed = []

        def worker(k):
            out = []
            for c in cases[k::jobs]:
                problems, r, args = self.check(c, roots[k])
                if problems:
                    out.append(f"FAIL {c['name']}: {'; '.join(problems)}\n  args: {' '.join(args)}\n  stderr: {r.stderr.strip()[-600:]}")
            return out

        with cf.ThreadPoolExecutor(jobs) as ex:
            for res in ex.map(worker, range(jobs)):
                failed += res
        for f in failed:
            print(f)
        print(f"{len(cases) - len(failed)} of {len(cases)} cases hold the contract")
        return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-figures", action="store_true", help="a headless build: leave out the cases of figure commands")
    a = ap.parse_args()
    sys.exit(Suite(a.cli, a.data, a.work).main(a.jobs, a.only, a.no_figures))
