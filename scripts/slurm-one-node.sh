#!/bin/bash
# Starts a one-node Slurm on this machine (Debian's slurm-wlm and munge:
# munged, slurmctld, slurmd), runs a sharded pmemvm campaign through
# `sbatch --array` with vmm/deploy/campaign.sbatch (the merge as a
# dependent job), runs the same campaign unsharded, and compares the two
# reports' bugs and counts. Outside the default test suite; needs root.
#
#   scripts/slurm-one-node.sh            # 3 shards of pmem-log, seeds 1..4
#
# Environment: SHARDS (3), CAMPAIGN_ARGS (a small pmem-log matrix),
# PMEMVM (target/release/pmemvm, built if missing), WORK (a temp dir).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SHARDS=${SHARDS:-3}
CAMPAIGN_ARGS=${CAMPAIGN_ARGS:---scenario pmem-log --variants all --seeds 1..4 --states minimal,maximal}
PMEMVM=${PMEMVM:-$root/target/release/pmemvm}
WORK=${WORK:-$(mktemp -d /tmp/pmemvm-slurm.XXXXXX)}
[ "$(id -u)" -eq 0 ] || { echo "slurm-one-node.sh: needs root (it installs and starts Slurm)" >&2; exit 2; }
[ -x "$PMEMVM" ] || (cd "$root" && cargo build --release -p pmemvm)
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi

# munge: a key and the daemon.
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c munged 2>/dev/null || munged --force

# Slurm: one node with this machine's cores, one partition.
host=$(hostname -s)
cpus=$(nproc)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=pmemvm
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed' && break
    sleep 1
done
sinfo

# The sharded campaign through the job array; the first task submits the
# merge as a job depending on the array.
cd "$WORK"
export CAMPAIGN_DIR=$WORK/sharded CAMPAIGN_ARGS PMEMVM
mkdir -p "$CAMPAIGN_DIR"
begin=$(date +%s)
job=$(sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task="$cpus" "$root/vmm/deploy/campaign.sbatch")
echo "submitted array job $job ($SHARDS shards)"
while squeue -h | grep -q .; do sleep 2; done
echo "array and merge done in $(( $(date +%s) - begin )) s"
cat pmemvm-campaign-*.log | grep -E '^(pmemvm campaign|cells:|FAILED|no bug)' || true
[ -s "$CAMPAIGN_DIR/report.json" ] || { echo "no merged report: see $WORK/*.log" >&2; exit 1; }

# The same campaign unsharded, and the comparison.
# shellcheck disable=SC2086
"$PMEMVM" campaign $CAMPAIGN_ARGS --out "$WORK/whole" --report "$WORK/whole.json" >/dev/null || true
python3 - "$CAMPAIGN_DIR/report.json" "$WORK/whole.json" <<'PY'
import json, sys
def summary(path):
    r = json.load(open(path))
    bugs = sorted((json.dumps(b["key"], sort_keys=True), b["check"], len(b["cells"]), b["images"]) for b in r["bugs"])
    return bugs, r["counts"]
sharded, whole = summary(sys.argv[1]), summary(sys.argv[2])
print(f"sharded: {len(sharded[0])} bug(s), counts {sharded[1]}")
print(f"whole:   {len(whole[0])} bug(s), counts {whole[1]}")
if sharded != whole:
    sys.exit("the merged shards differ from the unsharded campaign")
print("the merged shards equal the unsharded campaign")
PY
