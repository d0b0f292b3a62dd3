"""Writes the extra fuzz seeds that testdata/fixtures lacks (run with /usr/bin/python3, PIL).

The other seeds are existing fixtures, named by path in tests/fuzz/targets.ts.
"""

import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    image = Image.new("RGB", (24, 16))
    image.putdata([(x * 10 % 256, y * 15 % 256, x * y % 256) for y in range(16) for x in range(24)])
    image.save(os.path.join(HERE, "progressive.jpg"), quality=80, progressive=True)
    image.save(os.path.join(HERE, "subsampled.jpg"), quality=70, subsampling=2)
    image.convert("L").save(os.path.join(HERE, "gray.jpg"), quality=80)
    image.save(os.path.join(HERE, "interlaced.gif"), interlace=True)


if __name__ == "__main__":
    main()
