#!/usr/bin/env bash
# Tests the Slurm deployment for real on this machine: installs slurm-wlm and munge when absent (apt-get, as root),
# starts a single-node Slurm (munged, slurmctld, slurmd) from a generated slurm.conf in a temporary folder, submits
# a sharded reproduction of a small part of the catalogue with submit.sh (an array of shards, and the merge job
# that depends on it), waits for it, and checks that the merged results equal a single-process run's. Stops every
# daemon it started and removes the folder. Exit 0 when they agree.
#   deploy/slurm/local-cluster-test.sh [SHARDS] [reproduce arguments...]     (default: 2 dual --quick)
# Run through build.sh's environment (the test suite does): ENERGYFS_DOTNET or the repository's build.sh is used.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shards="${1:-2}"; [ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- dual --quick
say() { printf '[slurm-test] %s\n' "$*" >&2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || { say "slurm-wlm and munge are not installed and this is not root: cannot install them"; exit 3; }
  say "installing slurm-wlm and munge (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
[ "$(id -u)" = 0 ] || { say "a single-node Slurm needs root here (slurmd runs jobs as their users)"; exit 3; }

cli="$root/src/fsharp/EnergyFs.Cli/bin/Release/net10.0/EnergyFs.Cli.dll"
[ -f "$cli" ] || { say "not built: $cli (./build.sh build)"; exit 2; }
work="$(mktemp -d -t energyfs-slurm.XXXXXX)"
pids=()
cleanup() {
  for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
host="$(hostname -s)"
mkdir -p "$work/state" "$work/spool" "$work/munge" "$work/out"
chmod 700 "$work/munge"
# A private munge key and socket: the machine's munge (if any) is left alone.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
cat >"$work/slurm.conf" <<CONF
ClusterName=energyfs-test
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmctldPort=16917
SlurmdPort=16918
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=energyfs Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  state="$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)"
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { say "the node did not come up (state '$state')"; tail -n 20 "$work/slurmctld.log" "$work/slurmd.log" >&2; exit 1; }
say "single-node Slurm up ($host, $(nproc) CPUs); submitting $shards shards of: reproduce $*"

started=$(date +%s)
ids="$("$here/submit.sh" "$shards" "$work/out" "$@" --json)"
say "$ids"
merge="$(sed -E 's/.*merge: job ([0-9]+).*/\1/' <<<"$ids")"
for _ in $(seq 600); do
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -o %i)" ] || { say "jobs still queued after 10 minutes"; squeue >&2; exit 1; }
say "array and merge finished in $(( $(date +%s) - started )) s"
mergeOut="$work/out/energyfs-merge-$merge.out"
[ -f "$mergeOut" ] || { say "no merge output ($mergeOut): the merge job did not run (a shard failed?)"; cat "$work"/out/*.out >&2 || true; exit 1; }
sharded="$(tail -n1 "$mergeOut")"

say "the same reproduction in one process"
single="$("$root/build.sh" dotnet "$cli" --threads 1 reproduce "$@" --out "$work/single" --json 2>/dev/null | tail -n1)"
# The experiments' metric means and the checks must agree; times, paths and the command differ by design.
python3 - "$sharded" "$single" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for key in ("experiments", "passed", "checks", "failures"):
    if a[key] != b[key]:
        print(f"[slurm-test] {key} differ:\n sharded: {a[key]}\n single:  {b[key]}", file=sys.stderr); sys.exit(1)
print(f"[slurm-test] sharded on Slurm == single process: {len(a['experiments'])} experiments, {a['passed']} of {a['checks']} checks", file=sys.stderr)
PY
