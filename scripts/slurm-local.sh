#!/bin/sh
# Installs and starts a single-node Slurm (slurmctld + slurmd on this host) for trying
# `clustersim slurm` and for the opt-in test (CLUSTERSIM_SLURM_TESTS=1). Debian/Ubuntu, as root.
# Idempotent: installs only what is missing, rewrites the configuration only when it changes,
# starts only daemons that are not running. Works without systemd (containers).
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo $0" >&2
    exit 1
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
    || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q slurm-wlm munge
fi

HOST=$(hostname -s)
CPUS=$(nproc)
CONF_DIR=/etc/slurm
[ -d /etc/slurm-llnl ] && [ ! -d /etc/slurm ] && CONF_DIR=/etc/slurm-llnl
mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge

# Munge: a key, and the daemon.
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
fi

CONF=$(cat <<CONF
# Written by clustersim scripts/slurm-local.sh: one node, this host.
ClusterName=clustersim-local
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
)
changed=0
if [ ! -f "$CONF_DIR/slurm.conf" ] || [ "$(cat "$CONF_DIR/slurm.conf")" != "$CONF" ]; then
    printf '%s\n' "$CONF" > "$CONF_DIR/slurm.conf"
    changed=1
fi

if ! pgrep -x slurmctld >/dev/null 2>&1; then
    slurmctld
elif [ "$changed" -eq 1 ]; then
    scontrol reconfigure
fi
if ! pgrep -x slurmd >/dev/null 2>&1; then
    slurmd
fi

# Wait for the node, and bring it back if a previous run left it down or drained.
i=0
until sinfo -h -n "$HOST" -o %T 2>/dev/null | grep -Eq 'idle|mix|alloc'; do
    i=$((i + 1))
    if [ "$i" -gt 30 ]; then
        echo "slurm node $HOST is not ready:" >&2
        sinfo -N -l >&2 || true
        echo "see /var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log" >&2
        exit 1
    fi
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 1
done
sinfo
