#!/usr/bin/env bash
# make demo: the evidence sink end to end on this machine, no ESXi needed.
# Starts `esxsink serve` on high ports in a temporary case, copies a
# generated disk image into it with libnfs's nfs-cp (standing in for the
# ESXi host's dd), stops the sink, verifies the case and audits it with
# hashdeep and md5sum -c.
set -euo pipefail
bin=${1:-bin/esxsink}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for tool in nfs-cp md5sum; do
  command -v "$tool" >/dev/null || { echo "demo needs $tool: apt-get install libnfs-utils coreutils" >&2; exit 1; }
done
nfs_port=${ESXSINK_DEMO_NFS_PORT:-32049}
pm_port=${ESXSINK_DEMO_PORTMAP_PORT:-32111}
work=$(mktemp -d "${TMPDIR:-/tmp}/esxsink-demo.XXXXXX")
case_dir=$work/case
echo "== generating a 64 MiB disk image (random data with a zero run) =="
head -c $((48 << 20)) /dev/urandom > "$work/demo-flat.vmdk"
head -c $((16 << 20)) /dev/zero >> "$work/demo-flat.vmdk"

echo "== starting the sink: $bin serve --case $case_dir =="
"$bin" serve --case "$case_dir" --case-id DEMO-001 --examiner "Demo Examiner" \
  --address 127.0.0.1 --nfs-port "$nfs_port" --portmap builtin --portmap-port "$pm_port" \
  --allow 127.0.0.1 >"$work/serve.out" 2>"$work/serve.log" &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "press Ctrl-C" "$work/serve.out" 2>/dev/null && break
  kill -0 $sink 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
cat "$work/serve.out"

echo "== copying with nfs-cp (the ESXi host would run dd onto its NFS mount) =="
nfs-cp "$work/demo-flat.vmdk" "nfs://127.0.0.1/esxsink/demo-flat.vmdk?nfsport=$nfs_port&mountport=$nfs_port&version=3"
"$bin" status "$case_dir"

echo "== stopping the sink (finalizes the file and closes the custody log) =="
kill -INT $sink
wait $sink
trap - EXIT

echo "== esxsink verify: re-hash at rest, re-walk the custody log =="
"$bin" verify "$case_dir"
"$bin" export --format sums "$case_dir"
"$bin" export --format hashdeep "$case_dir"
echo "== independent checks =="
echo "source: $(md5sum < "$work/demo-flat.vmdk" | cut -d' ' -f1)  demo-flat.vmdk (md5 on the 'host')"
(cd "$case_dir/evidence" && md5sum -c ../MD5SUMS)
if command -v hashdeep >/dev/null; then
  (cd "$case_dir/evidence" && hashdeep -l -r -a -k ../hashdeep.txt .)
fi
rm -f "$work/demo-flat.vmdk"
echo
echo "case folder: $case_dir"
echo "  custody log: $case_dir/custody.jsonl"
echo "  evidence:    $case_dir/evidence"
