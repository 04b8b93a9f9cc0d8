#!/usr/bin/env bash
# make demo: a complete acquisition on this machine, no ESXi needed.
# Starts the simulated ESXi host (`esxsink-lab`, examples/lab/basic.yaml:
# a running VM that needs a snapshot and a powered-off one), runs
# `esxsink collect --all` against it over real SSH and real NFS with the
# embedded sink on high ports, then `esxsink verify` on the case.
# ESXSINK_DEMO_SCENARIO picks another scenario (examples/lab/full.yaml).
set -euo pipefail
bin=${1:-bin/esxsink}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
lab_bin=${2:-$(dirname "$bin")/esxsink-lab}
lab_bin=$(cd "$(dirname "$lab_bin")" && pwd)/$(basename "$lab_bin")
here=$(cd "$(dirname "$0")" && pwd)
scenario=${ESXSINK_DEMO_SCENARIO:-$here/lab/basic.yaml}
ssh_port=${ESXSINK_DEMO_SSH_PORT:-32022}
nfs_port=${ESXSINK_DEMO_NFS_PORT:-32049}
pm_port=${ESXSINK_DEMO_PORTMAP_PORT:-32111}
work=$(mktemp -d "${TMPDIR:-/tmp}/esxsink-demo.XXXXXX")
case_dir=$work/case

echo "== starting the simulated ESXi host: $lab_bin --scenario $scenario =="
"$lab_bin" --scenario "$scenario" --listen "127.0.0.1:$ssh_port" --nfs-portmap-port "$pm_port" \
  >"$work/lab.out" 2>"$work/lab.log" &
lab=$!
trap 'kill -INT $lab 2>/dev/null || true; wait $lab 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "press Ctrl-C" "$work/lab.out" 2>/dev/null && break
  kill -0 $lab 2>/dev/null || { cat "$work/lab.log" >&2; exit 1; }
  sleep 0.1
done
cat "$work/lab.out"
fingerprint=$(grep -o 'SHA256:[A-Za-z0-9+/=]*' "$work/lab.out" | head -1)
ESXSINK_PASSWORD=$(sed -n 's/^  password: //p' "$work/lab.out")
export ESXSINK_PASSWORD
host=(--host "127.0.0.1:$ssh_port" --host-key "$fingerprint")

echo "== esxsink inventory: what the host holds (read-only commands) =="
"$bin" inventory "${host[@]}"

echo "== esxsink collect --all --dry-run: the plan =="
"$bin" collect "${host[@]}" --all --dry-run --case "$case_dir"

echo "== esxsink collect --all: snapshot, mount, copy, verify, clean up =="
"$bin" collect "${host[@]}" --all --case "$case_dir" --case-id DEMO-001 --examiner "Demo Examiner" \
  --nfs-port "$nfs_port" --portmap-port "$pm_port"

echo "== esxsink verify: re-hash at rest, re-walk the custody log =="
"$bin" verify "$case_dir"

echo "== esxsink report: the acquisition report, from the case folder alone =="
"$bin" report "$case_dir"
echo
echo "case folder: $case_dir (about 9 GiB: rm -rf it when done)"
echo "  custody log:   $case_dir/custody.jsonl"
echo "  evidence:      $case_dir/evidence"
echo "  host commands: $case_dir/host-commands"
echo "  report:        $case_dir/report.html"
