# The KVM lane's guest (make test-kvm): the cgroup v2 lane's image (the first step is the
# same, so it is one cached layer) plus QEMU, libvirt and a compiler for the VM driver's
# init shim. Booted by tests/lanes/lane.sh with an SVM-capable CPU (ISOBENCH_VM_CPU=max):
# KVM runs inside it, emulated by the outer TCG, so its figures prove the code path only.
FROM debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-psutil python3-yaml python3-jsonschema python3-jinja2 \
        python3-rich python3-pytest python3-libvirt python3-seccomp \
        runc busybox-static iproute2 iptables e2fsprogs kmod procps util-linux \
        sysbench fio stress-ng iperf3 qperf systemd dbus \
 && rm -rf /var/lib/apt/lists/*
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# The project runs from /lane/src without an install: a path entry, and the CLI beside
# python3 (the integration tests call Path(sys.executable).with_name("isobench")).
# pyseccomp (pyproject) is a drop-in for libseccomp's own bindings, python3-seccomp here.
RUN echo /lane/src > /usr/lib/python3/dist-packages/isobench-lane.pth \
 && echo 'from seccomp import *  # noqa' > /usr/lib/python3/dist-packages/pyseccomp.py \
 && printf '#!/usr/bin/python3\nfrom isobench.cli import entry\nentry()\n' > /usr/bin/isobench \
 && chmod 755 /usr/bin/isobench
# The guest kernel's modules (overlay, veth, bridge, nf_tables...): staged by lane.sh from
# the host's /lib/modules/<the release the guest boots>. Into /usr/lib: /lib is a symlink to
# it, and the builder's COPY does not follow a symlink in its destination (Docker's does).
COPY .lanes/modules /usr/lib/modules
# The kernel the nested guests boot: the host's packaged one (the same release as the
# modules above), staged by lane.sh.
COPY .lanes/boot /boot
# The bench image's store, as in the cgroup v2 lane: a tiny session on the vm target.
COPY .lanes/seed.tar /lane/seed.tar
COPY pyproject.toml /lane/src/pyproject.toml
COPY runtime /lane/src/runtime
COPY vm /lane/src/vm
COPY results /lane/src/results
COPY bench /lane/src/bench
COPY reports /lane/src/reports
COPY isobench /lane/src/isobench
COPY tests /lane/src/tests
