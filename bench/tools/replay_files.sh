#!/usr/bin/env bash
# Issue 14 findings 1-3 replayed on copies of a demo data folder with the carekey CLI (black-box: files only).
# Usage: bench/tools/replay_files.sh DEMO_FOLDER   (a folder made by `carekey init` + `carekey demo`)
set -u
SRC=$1; B=$(dirname "$0")/../../.venv/bin/carekey; PY=$(dirname "$0")/../../.venv/bin/python
export CAREKEY_PASSWORD=$(grep '^auditor' "$SRC/demo-users.txt" | cut -f3)
fresh() { D=$(mktemp -d /tmp/ck_replay.XXXX); cp -a "$SRC/." "$D/"; echo "$D"; }
echo "14.1 file modes: $(stat -c '%a %n' "$SRC"/carekey.* | tr '\n' ' ')"
for case in "rm carekey.keystore" "truncate -s 0 carekey.keystore" "rm carekey.keys" "truncate -s 10 carekey.keys" \
            "rm carekey.log.key" "rm carekey.db"; do
  D=$(fresh); (cd "$D" && $case)
  timeout 60 "$B" serve --data "$D" --port 8799 > "$D/serve.txt" 2>&1; rs=$?
  "$B" init --data "$D" --if-missing > "$D/init.txt" 2>&1; ri=$?
  timeout 60 "$B" serve --data "$D" --port 8799 > "$D/serve2.txt" 2>&1; rs2=$?
  echo "14.2 $case | serve exit $rs | init --if-missing exit $ri | serve after init exit $rs2 (124 = it served) |" \
       "$(grep -m1 -i 'refus\|error\|missing' "$D/serve.txt" | cut -c1-110)"
  rm -rf "$D"
done
for attack in "cut_tail(e, 25)" "drop_heads(e)"; do
  D=$(fresh)
  "$PY" -c "import sqlalchemy as sa; from tests.faults.tamper import *; e = sa.create_engine('sqlite:///$D/carekey.db'); $attack"
  "$B" log verify --data "$D" --user auditor > "$D/verify.txt" 2>&1; rv=$?
  echo "14.3 $attack | log verify (no --heads) exit $rv (8 = tampering found) | $(grep -m1 -i 'removed\|missing\|fail' "$D/verify.txt" | cut -c1-110)"
  rm -rf "$D"
done
