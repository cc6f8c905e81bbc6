#!/bin/bash
# A test lane (make test-cgroup2, make test-kvm): the lane image built by isobench's own
# builder, booted by isobench's own VM driver, the lane's tests run inside the guest.
#   tests/lanes/lane.sh cgroup2     pass 1: cgroupfs driver; pass 2: systemd as PID 1
#   tests/lanes/lane.sh kvm         a guest with an SVM CPU: KVM inside it, libvirt, vm run
# The caller holds /tmp/isobench-integration.lock (the Make targets take it). What the lane
# leaves on the host is counted before and after; any difference fails the lane.
set -euo pipefail
lane=${1:?usage: lane.sh cgroup2|kvm}
cd "$(dirname "$0")/../.."
ISOBENCH=${ISOBENCH:-$PWD/.venv/bin/isobench}
PY=$(dirname "$ISOBENCH")/python
LANE_ROOT=${ISOBENCH_LANE_ROOT:-/var/cache/isobench/lanes}
export ISOBENCH_CGROUP_PARENT=isobench-lane-$lane
started=$(date +%s)
say() { echo "lane $lane: $*" >&2; }

# What the lane could leave: libvirt domains, cgroups under its parent, mounts of its root,
# VM run directories, containers.
census() {
    local domains cgroups mounts runs
    domains=$(virsh -q -c "${ISOBENCH_LIBVIRT_URI:-qemu:///system}" list --all --name \
              | grep -c '^isobench-' || true)
    cgroups=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d \
              -name "$ISOBENCH_CGROUP_PARENT*" 2>/dev/null | wc -l)
    mounts=$(grep -c "$LANE_ROOT" /proc/self/mountinfo || true)
    runs=$(find "$LANE_ROOT/root/vm/runs" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "domains=$domains cgroups=$cgroups mounts=$mounts vm_runs=$runs"
}

# The guest kernel is the host's packaged one: its modules go into the image (kvm_amd needs
# drivers/crypto/ccp; delete .lanes/modules after changing this list).
release=$("$PY" -c 'from vm import guest; print(guest.find_kernel().release)')
modules=.lanes/modules/$release
if [ ! -f "$modules/modules.dep" ]; then
    say "staging the modules of $release (overlay, veth, bridge, netfilter, kvm...)"
    rm -rf .lanes/modules && mkdir -p "$modules/kernel/drivers"
    src=/lib/modules/$release
    cp -a "$src"/modules.* "$modules"/
    for d in arch block crypto fs kernel lib mm net virt; do
        [ -d "$src/kernel/$d" ] && cp -a "$src/kernel/$d" "$modules/kernel/"
    done
    for d in net block virtio vhost md char crypto; do
        [ -d "$src/kernel/drivers/$d" ] && cp -a "$src/kernel/drivers/$d" "$modules/kernel/drivers/"
    done
    rm -rf "$modules"/kernel/drivers/net/{wireless,ethernet,usb,can,wwan,ieee802154}
fi

# The nested guests' kernel in the KVM lane (find_kernel wants its initrd beside it).
if [ "$lane" = kvm ] && [ ! -f ".lanes/boot/vmlinuz-$release" ]; then
    rm -rf .lanes/boot && mkdir -p .lanes/boot
    cp -p "/boot/vmlinuz-$release" "/boot/initrd.img-$release" .lanes/boot/
fi

# The bench image, built on this host (the guest has no network) and carried as a store.
seed=$LANE_ROOT/seed
ISOBENCH_ROOT=$seed "$ISOBENCH" build -q -t isobench-bench bench/images/bench > .lanes/seed.new
if ! cmp -s .lanes/seed.new .lanes/seed.id || [ ! -f .lanes/seed.tar ]; then
    say "packing the bench image's store ($(cat .lanes/seed.new))"
    tar --sort=name -C "$seed" -cf .lanes/seed.tar images layers cache/build
    mv .lanes/seed.new .lanes/seed.id
fi

root=$LANE_ROOT/root
tag=isobench-lane:$lane
build_log=$LANE_ROOT/build-$lane.log
t0=$(date +%s)
if ! ISOBENCH_ROOT=$root "$ISOBENCH" build --progress plain -f "tests/lanes/$lane.Dockerfile" \
        -t "$tag" . > "$build_log" 2>&1; then
    tail -30 "$build_log" >&2
    say "FAILED: the lane image did not build (log: $build_log)"
    exit 1
fi
# every step is cached now: this only prints the image's ID
image=$(ISOBENCH_ROOT=$root "$ISOBENCH" build -q -f "tests/lanes/$lane.Dockerfile" -t "$tag" .)
say "image $tag ${image:7:12} ready in $(( $(date +%s) - t0 )) s ($(grep -c CACHED "$build_log" || true) steps cached; log: $build_log)"
# One cached guest disk per image: the disks of earlier lane images go.
for f in "$root"/vm/disks/*.raw; do
    [ -e "$f" ] || continue
    case $f in *"${image#sha256:}"*) ;; *) rm -f "$f" "${f%.raw}.json" ;; esac
done

[ "${LANE_BUILD_ONLY:-}" = 1 ] && exit 0  # development: the image, no boot
# Counted after the builds (their containers' empty parent cgroups go with this gc).
ISOBENCH_ROOT=$seed "$ISOBENCH" gc > /dev/null
ISOBENCH_ROOT=$root "$ISOBENCH" gc > /dev/null
before=$(census)

boot() {  # boot PASS KERNEL_ARGS...: one guest, its exit code
    local pass=$1; shift
    local kargs=() a
    for a in "$@"; do kargs+=(--kernel-arg "$a"); done
    # development: LANE_PYTEST_ARGS="-k doctor" narrows the guest's pytest run
    [ -n "${LANE_PYTEST_ARGS:-}" ] && kargs+=(-e "LANE_PYTEST_ARGS=$LANE_PYTEST_ARGS")
    say "pass $pass: booting (TCG, 2 vCPUs, 2 GiB, 8 GiB scratch disk)"
    local t=$(date +%s) code=0
    ISOBENCH_ROOT=$root "$ISOBENCH" vm run -v --accel tcg --cpus 2 -m 2g --scratch 8g \
        --timeout 2400 "${kargs[@]}" "$tag" /lane/src/tests/lanes/guest.sh "$pass" || code=$?
    say "pass $pass: exit $code, $(( $(date +%s) - t )) s wall"
    return $code
}

status=0
case $lane in
    cgroup2)
        # development: LANE_PASS=cgroupfs or systemd boots that pass alone
        for pass in ${LANE_PASS:-cgroupfs systemd}; do
            boot "$pass" cgroup_no_v1=all || status=1
        done ;;
    kvm)
        ISOBENCH_VM_CPU=${ISOBENCH_LANE_KVM_CPU:-max} boot kvm || status=1 ;;
    *) say "unknown lane"; exit 2 ;;
esac

ISOBENCH_ROOT=$root "$ISOBENCH" gc > /dev/null
after=$(census)
if [ "$after" != "$before" ]; then
    say "FAILED: left on the host: before [$before], after [$after]"
    status=1
fi
say "$( [ $status = 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - started )) s"
exit $status
