# The cgroup v2 lane's guest (make test-cgroup2): Debian with the project's runtime and test
# dependencies from Debian packages, runc, systemd (the second pass) and the tools a tiny
# bench session runs natively.
# Built by isobench's own builder and booted by its own VM driver (tests/lanes/lane.sh).
# Each step is cached: a second lane run rebuilds only the COPY steps whose files changed.
FROM debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-psutil python3-yaml python3-jsonschema python3-jinja2 \
        python3-rich python3-pytest python3-libvirt python3-seccomp \
        runc busybox-static iproute2 iptables e2fsprogs kmod procps util-linux \
        sysbench fio stress-ng iperf3 qperf systemd dbus \
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
# A store holding the bench image and its build cache (lane.sh): the guest has no network
# to build it, and a tiny bench session needs it.
COPY .lanes/seed.tar /lane/seed.tar
COPY pyproject.toml /lane/src/pyproject.toml
COPY runtime /lane/src/runtime
COPY vm /lane/src/vm
COPY results /lane/src/results
COPY bench /lane/src/bench
COPY reports /lane/src/reports
COPY isobench /lane/src/isobench
COPY tests /lane/src/tests
