#!/bin/sh
# Inside a lane's guest (tests/lanes/lane.sh boots it): the shim is PID 1 and runs this.
#   guest.sh cgroupfs   pure cgroup v2 at /sys/fs/cgroup, the cgroupfs driver
#   guest.sh systemd    the same, with Debian's systemd as PID 1 of a PID namespace
#   guest.sh kvm        kvm_amd loaded, libvirtd started, the VM driver on KVM
set -eu
pass=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export ISOBENCH_LANE=$pass PYTHONDONTWRITEBYTECODE=1
# our initrd loaded only the disk's modules; the kernel autoloads most others, not overlay
# before /proc/filesystems is read (doctor)
modprobe -a overlay veth bridge
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs /run
mkfs.ext4 -q -F /dev/vdb && mkdir -p /scratch && mount /dev/vdb /scratch
mkdir -p /scratch/tmp /scratch/cache /scratch/root
export TMPDIR=/scratch/tmp ISOBENCH_CACHE=/scratch/cache ISOBENCH_ROOT=/scratch/root
echo "guest: $(uname -r), $(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB;" \
     "cmdline: $(cat /proc/cmdline)"
echo "guest: cgroup mounts: $(awk '$9 ~ /^cgroup/ {print $5 " " $9}' /proc/self/mountinfo | tr '\n' ';')"
echo "guest: root controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
cd /lane/src
exec python3 -m tests.lanes.inside "$pass"
