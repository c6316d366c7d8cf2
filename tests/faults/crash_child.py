"""Child process for the kill -9 tests: opens a data folder and runs retention (or one erasure or revocation),
optionally killing itself with SIGKILL right after the first key-store secret is destroyed.

    python -m tests.faults.crash_child DATA_DIR retention|erase:PID|revoke:PID [kill-after-destroy]
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from carekey import bootstrap
from carekey.config import Settings
from carekey.services.patients import Patient
from carekey.storage.keystore import FileSecretStore
from tests.e2e.web_support import ImageFakeMatcher


def main() -> None:
    data, task = Path(sys.argv[1]), sys.argv[2]
    if sys.argv[3:] == ["kill-after-destroy"]:
        real = FileSecretStore.destroy

        def destroy_then_die(self, key_ref):  # type: ignore[no-untyped-def]
            real(self, key_ref)
            os.kill(os.getpid(), signal.SIGKILL)

        FileSecretStore.destroy = destroy_then_die  # type: ignore[method-assign]
    built = bootstrap.build(
        Settings(data_dir=data, argon2_time_cost=1, argon2_memory_kib=64), matcher=ImageFakeMatcher()
    )
    print("ready", flush=True)
    kind, _, pid = task.partition(":")
    if kind == "retention":
        built.services.retention.run()
    elif kind == "erase":
        built.services.patients.erase(Patient(pid))
    else:
        built.services.patients.revoke(Patient(pid), "biometric_identification")
    built.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
