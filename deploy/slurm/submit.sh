#!/usr/bin/env bash
# Submits a sharded reproduction to Slurm: an array of N shard tasks, and the merge job that depends on all of them
# (--dependency=afterok). Prints the two job ids.
#   deploy/slurm/submit.sh SHARDS OUT [reproduce arguments...]
#   deploy/slurm/submit.sh 16 /shared/energyfs-full all --seeds 3
#   ENERGYFS_COMMAND=sweep deploy/slurm/submit.sh 8 /shared/sweep-bibtex "$PWD/sweep.json"   (a sweep: give the file as an absolute path)
# OUT must be on a file system every node sees; so must this repository, built first (./build.sh build).
# Extra sbatch options (partition, account, time limit) go in SBATCH_* environment variables, e.g. SBATCH_PARTITION.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shards="$1"; out="$2"; shift 2
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "SHARDS must be a positive integer, got '$shards'" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
array=$(cd "$out" && sbatch --parsable --array=1-"$shards" --export=ALL,ENERGYFS="$root",ENERGYFS_OUT="$out",ENERGYFS_COMMAND="${ENERGYFS_COMMAND:-reproduce}" "$here/reproduce-shard.sbatch" "$@")
array="${array%%;*}"
merge=$(cd "$out" && sbatch --parsable --dependency=afterok:"$array" --export=ALL,ENERGYFS="$root",ENERGYFS_OUT="$out",ENERGYFS_COMMAND="${ENERGYFS_COMMAND:-reproduce}" "$here/merge.sbatch" "$@")
echo "shards: job $array (array 1-$shards); merge: job ${merge%%;*}; report in $out"
