"""RSA private keys: OpenSSL's validated load against Go's checks and an unvalidated load.

kforensic used to load every RSA private key with cryptography's default, which runs OpenSSL's
full key check (primality of p and q); Go never runs it (rsa.PrivateKey.Validate checks that the
numbers agree, gomodel/privkey.py). Prints the median time per key, three keys per size.

    PYTHONPATH=$PWD python bench/rsa_keys.py
"""

from __future__ import annotations

import os
import statistics
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from analyzer.gomodel import privkey


def _median_ms(call, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    for bits in (2048, 4096):
        ders = [rsa.generate_private_key(65537, bits).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
            for _ in range(3)]
        validated = statistics.median(_median_ms(lambda d=d: serialization.load_der_private_key(d, None)) for d in ders)
        go_way = statistics.median(_median_ms(lambda d=d: (privkey.pkcs1_error(d), privkey.load_der_key(d, "rsa"))) for d in ders)
        print(f"{bits}-bit key: OpenSSL-validated load {validated:.1f} ms; Go's checks + unvalidated load {go_way:.2f} ms")


if __name__ == "__main__":
    main()
