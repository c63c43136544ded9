#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests/workflow/test_slurm.py
# (recipe and its traps: docs in config/README.md, "Running on Slurm").
#
#   sudo -E bash .ci/slurm-setup.sh      # with the project's venv active
#
# Idempotent: installs what is missing (Debian/Ubuntu: slurm-wlm, munge), writes /etc/slurm/slurm.conf
# for this host (hostname -s, nproc, free -m), starts munged, slurmctld and slurmd unless they
# already answer, waits for the node to be idle, and installs snakemake-executor-plugin-slurm into
# the active Python environment. Exits non-zero with a one-line reason when it cannot.
set -euo pipefail

fail() { echo "slurm-setup: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (installs packages and starts daemons)"
PYTHON=${PYTHON:-python3}
[ -n "${VIRTUAL_ENV:-}" ] && PYTHON="$VIRTUAL_ENV/bin/python"
command -v "$PYTHON" >/dev/null 2>&1 || fail "no Python interpreter ($PYTHON) for the executor plugin"

# 1. packages
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "slurm-wlm/munge missing and no apt-get to install them"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; } \
    || fail "apt-get install slurm-wlm munge failed"
fi

# 2. munge: a key, and the daemon
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile /etc/munge/munge.key >/dev/null 2>&1 || fail "mungekey --create failed"
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su munge -s /bin/sh -c /usr/sbin/munged || fail "munged did not start (see /var/log/munge/munged.log)"
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || fail "munge does not answer (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf for this host (memory a little under what the machine has)
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_TOTAL=$(free -m | awk '/^Mem:/ {print $2}')
MEM=$((MEM_TOTAL * 90 / 100))
CONF_DIR=/etc/slurm
[ -d /etc/slurm-llnl ] && [ ! -d /etc/slurm ] && CONF_DIR=/etc/slurm-llnl
mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
CONF="ClusterName=local
SlurmctldHost=$HOST
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
ReturnToService=2
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP"
changed=0
if [ "$(cat "$CONF_DIR/slurm.conf" 2>/dev/null)" != "$CONF" ]; then
  printf '%s\n' "$CONF" >"$CONF_DIR/slurm.conf"
  changed=1
fi

# 4. daemons (a changed configuration restarts the ones this script finds running, by pid file)
stop() {  # $1: pid file
  if [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
    kill "$(cat "$1")"
    for _ in $(seq 20); do kill -0 "$(cat "$1")" 2>/dev/null || break; sleep 0.5; done
  fi
}
if [ "$changed" = 1 ]; then stop /run/slurmd.pid; stop /run/slurmctld.pid; fi
if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
  /usr/sbin/slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
fi
if ! { [ -s /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; }; then
  /usr/sbin/slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
fi
state=""
for _ in $(seq 60); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1 || true)
  case "$state" in
    idle*|mixed*|allocated*|completing*) break ;;
    down*|drain*|drained*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
case "$state" in
  idle*|mixed*|allocated*|completing*) ;;
  *) fail "node $HOST is '${state:-unknown}', not idle (see /var/log/slurm/slurmd.log)" ;;
esac

# 5. the Snakemake executor plugin, in the active environment
if ! "$PYTHON" -c "import snakemake_executor_plugin_slurm" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q snakemake-executor-plugin-slurm >/dev/null 2>&1 \
    || fail "pip install snakemake-executor-plugin-slurm failed"
fi
echo "slurm-setup: node $HOST up ($CPUS CPUs, ${MEM} MB), partition cpu"
