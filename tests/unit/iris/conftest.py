from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iris"


def read(name: str) -> bytes:
    return (FIXTURES / f"{name}.png").read_bytes()


def encode_png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def gray(name: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(read(name), np.uint8), cv2.IMREAD_GRAYSCALE)


@pytest.fixture(scope="session")
def templates():
    from carekey.biometrics.iris import api

    return {p.stem: api.extract(p.read_bytes()) for p in sorted(FIXTURES.glob("*.png"))}
