#!/usr/bin/python3
"""What a PyTorch user would run to classify a folder: torch eager, torchvision's transforms on
PIL images, a DataLoader. The yardstick of bench/classify_bench.ts, which runs it in the same
benchmark run as the zoo.

    /usr/bin/python3 bench/torch_classify.py DIR WEIGHTS.pth [--batch 16] [--workers 1]
    /usr/bin/python3 bench/torch_classify.py DIR --decode-only

Classifies every *.jpg in DIR with a torchvision ResNet-50 (WEIGHTS: a state_dict, e.g. the
seeded one of testdata/fixtures/fullsize.py) under ImageNet-1k V2 preprocessing (Resize(232),
CenterCrop(224), ToTensor, Normalize) and prints one JSON line: the images, the seconds from
the first batch's request to the last prediction (model loading excluded), images per second.
`--decode-only` times PIL's open + convert("RGB") + Resize(232) + CenterCrop(224) of each file in
turn, one thread, and prints the milliseconds per image.
"""

import argparse
import json
import os
import time

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

GEOMETRY = T.Compose([T.Resize(232), T.CenterCrop(224)])
TRANSFORM = T.Compose([GEOMETRY, T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


class Folder(torch.utils.data.Dataset):
    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        with Image.open(self.files[index]) as image:
            return TRANSFORM(image.convert("RGB"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("weights", nargs="?")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--decode-only", action="store_true")
    args = parser.parse_args()
    files = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir) if f.endswith(".jpg"))

    if args.decode_only:
        start = time.perf_counter()
        for path in files:
            with Image.open(path) as image:
                GEOMETRY(image.convert("RGB"))
        seconds = time.perf_counter() - start
        print(json.dumps({"images": len(files), "ms_per_image": 1000 * seconds / len(files)}))
        return

    torch.set_num_threads(args.threads)
    model = torchvision.models.resnet50()
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    model.eval()
    loader = torch.utils.data.DataLoader(
        Folder(files), batch_size=args.batch, num_workers=args.workers
    )
    start = time.perf_counter()
    top1 = []
    with torch.inference_mode():
        for batch in loader:
            top1.extend(model(batch).argmax(1).tolist())
    seconds = time.perf_counter() - start
    print(json.dumps({
        "images": len(top1),
        "seconds": seconds,
        "images_per_s": len(top1) / seconds,
        "workers": args.workers,
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
