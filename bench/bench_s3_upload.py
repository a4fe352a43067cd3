"""Benchmark: upload throughput of a 200 MB file to a local S3 endpoint (moto_server),
multipart (the store's TransferConfig) vs a single PUT, measured in one run.
Usage: python bench/bench_s3_upload.py [--mb 200]"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from videogen_dagster.stores.objectstore import MiB, S3ObjectStore, S3Settings, part_size_for  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.mp4"
            path.write_bytes(os.urandom(args.mb * MiB))
            common = dict(bucket="bench", endpoint_url=url, access_key_id="x", secret_access_key="x", create_bucket=True)
            multi = S3ObjectStore(S3Settings(**common))
            multi.check()
            single = S3ObjectStore(S3Settings(**common, multipart_threshold=10 * 1024 * MiB))
            t = time.perf_counter()
            single.put_file("single/big.mp4", path)
            t_single = time.perf_counter() - t
            t = time.perf_counter()
            multi.put_file("multi/big.mp4", path)
            t_multi = time.perf_counter() - t
            parts = -(-path.stat().st_size // part_size_for(path.stat().st_size, 16 * MiB))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"file: {args.mb} MB, endpoint: moto_server on loopback, {os.cpu_count()} cores")
    print(f"single PUT:  {t_single:.2f} s  {args.mb / t_single:.1f} MB/s")
    print(f"multipart:   {t_multi:.2f} s  {args.mb / t_multi:.1f} MB/s  ({parts} parts of 16 MiB, 4 threads)")
    print(f"ratio multipart/single throughput: {t_single / t_multi:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
