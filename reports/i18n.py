"""The report's words in English (default) and Russian (`--lang ru`).

Our own wording throughout; nothing here quotes the lecture. `text(lang, key, **params)`
formats a string; a key missing in Russian falls back to English, a key missing in both
shows itself (so a gap is visible, never a crash).
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "ru")

EN: dict[str, str] = {
    # -- page ----------------------------------------------------------------------------------
    "title": "isobench report",
    "subtitle": "What a container costs, what a virtual machine costs, and why — measured on "
                "this machine.",
    "session_line": "Session {id} · profile {profile} · {repeat} repetition(s) · "
                    "{started} → {finished}",
    "incomplete": "This session did not finish (interrupted or cut short): the report shows "
                  "what completed.",
    "tcg_title": "VM figures measure emulation, not hardware virtualization",
    "tcg_body": "The VM target ran under TCG, QEMU's software CPU emulator, because hardware "
                "acceleration (KVM) was not usable here{reason}. Every VM number in this "
                "report — CPU, memory, disk, network, start-up — is the cost of emulation and "
                "overstates what a hardware-accelerated VM would cost.",
    "missing_targets": "Missing targets:",
    "no_missing": "All four targets (native, container, runc, vm) produced results.",
    "missing_not_requested": "not part of this session",
    "missing_unavailable": "unavailable: {reason}",
    "missing_failed": "every run failed: {reason}",
    "missing_no_runs": "available, but no successful run recorded",
    "missing_contended": "{reason}: left out (see the list of contended runs)",
    "contents": "Contents",
    "generated": "Generated from {path}.",
    # -- sections ------------------------------------------------------------------------------
    "h_env": "Environment",
    "h_exam": "The exam question, measured",
    "h_summary": "Summary: every target against native",
    "h_overhead": "Overhead by workload",
    "h_startup": "Start-up latency",
    "h_footprint": "Memory footprint over time",
    "h_density": "Density",
    "h_limits": "Limit enforcement",
    "h_history": "History and regressions",
    "h_rules": "How the verdicts are computed",
    "h_trace": "One Dockerfile traced to an image and a container",
    "h_verdicts": "Verdicts",
    "h_claims_detail": "The evidence, claim by claim",
    # -- environment ---------------------------------------------------------------------------
    "env_cpu": "CPU",
    "env_cores": "cores",
    "env_memory": "memory",
    "env_kernel": "kernel",
    "env_distribution": "distribution",
    "env_arch": "architecture",
    "env_cgroup": "cgroup mode",
    "env_accel": "VM acceleration",
    "env_versions": "tool versions",
    "env_virt": "virtualization of this host",
    "env_freq": "CPU frequency",
    "virt_guest": "this host is itself a virtual machine ({type} guest; {how}): \"native\" "
                  "runs under a hypervisor, so every ratio to native compares with a guest, "
                  "not bare metal",
    "virt_bare": "bare metal (no hypervisor flag, no hypervisor detected)",
    "virt_flag": "the CPU's hypervisor flag",
    "virt_container": "It runs inside a {container} container.",
    "governor": "governor {governor}",
    "no_governor": "no cpufreq governor exposed",
    "env_targets": "targets",
    "env_argv": "command",
    "failed_runs": "Failed runs:",
    "failed_run": "{variant} on {target}: {error}",
    "contended_runs": "Contended runs (the contention guard re-ran each up to twice; left "
                      "out of ratios and verdicts unless --keep-contended):",
    "contended_kept": "Contended runs (counted: the session ran with --keep-contended):",
    "contended_run": "{variant} on {target}, repetition {rep}: {reasons}",
    "cell_range": "n={n}, range {low}–{high}",
    "cell_noisy": "noisy ({reason}): not coloured, no verdict",
    "cell_insufficient": "too few runs for a CI: not coloured",
    "cell_refused": "no ratio: {target} ran {mine}, native {native} (different binaries)",
    "cell_contended": "{n} contended run(s) left out",
    "cell_all_contended": "all {n} runs contended: left out",
    "legend_plain": "plain: noisy or too few runs (n < 5) to read a ratio by",
    "env_seed": "seed",
    "accel_none": "no VM measured",
    "available": "available",
    "not_available": "not available",
    "not_installed": "not installed",
    # -- summary -------------------------------------------------------------------------------
    "summary_intro": "Each cell: the median over its n repetitions ± the interquartile range, "
                     "then the ratio of the median to native's with its bootstrap 95 % "
                     "confidence interval. Below n = 5 on either side no interval is shown: "
                     "the cell gives n and the range instead. ↑ higher is better, ↓ lower is "
                     "better.",
    "legend_better": "better than native",
    "legend_worse": "worse than native",
    "legend_noisy": "pale: the CI includes 1",
    "legend_same": "within the metric's threshold of native (±5 % for CPU and memory)",
    "col_workload": "workload",
    "col_variant": "variant",
    "col_metric": "metric",
    "col_target": "target",
    "col_verdict": "verdict",
    "col_claim": "claim",
    "col_evidence": "what was measured",
    "col_conditions": "conditions",
    "col_figure": "figure",
    "baseline": "baseline",
    "no_summary": "No performance workload produced results in this session.",
    # -- plots ---------------------------------------------------------------------------------
    "ax_ratio": "median / native median (95 % CI)",
    "ax_ratio_note": "right of the line = higher than native; ↑/↓ marks which way is better",
    "ax_launch": "launch to exit (ms, log scale)",
    "ax_ecdf": "fraction of launches",
    "ax_time": "time since start (s)",
    "ax_memory": "host memory (MiB, log scale)",
    "ax_instance": "instances started",
    "ax_cumulative": "total host memory (MiB)",
    "ax_start_ms": "start time (ms)",
    "ax_share": "CPU share (of one CPU)",
    "ax_peak": "memory (MiB)",
    "ax_seconds": "seconds (log scale)",
    "ax_mib": "host memory (MiB)",
    "ax_session": "session",
    "lbl_allocation": "allocated to the VM",
    "lbl_asked": "asked: --cpus 0.5",
    "lbl_given": "limit",
    "lbl_peak": "peak",
    "lbl_peak_sampled": "sampled maximum: this kernel has no memory.peak",
    "lbl_cold": "cold build",
    "lbl_cached": "cached rebuild",
    "lbl_oom": "OOM",
    "lbl_per_instance": "per instance",
    "lbl_rss": "QEMU RSS",
    "lbl_pss": "QEMU PSS",
    "lbl_guest_ram": "QEMU guest-RAM mapping (resident)",
    "lbl_cgroup": "cgroup",
    "lbl_boot_first": "VM boot to first output",
    "t_native": "native",
    "t_container": "container",
    "t_container_api": "container (API)",
    "t_container_cli": "container (CLI)",
    "t_runc": "runc",
    "t_microvm": "microVM (QEMU microvm)",
    "t_vm": "VM",
    "no_data": "Not measured in this session.",
    # -- section texts -------------------------------------------------------------------------
    "overhead_intro": "Ratios of each target's median to native's for every variant and "
                      "metric, with bootstrap 95 % confidence intervals; 1 is native speed.",
    "startup_intro": "Launch-to-exit of /bin/true, every repetition, as an empirical "
                     "cumulative distribution (further left is faster).",
    "startup_ratio": "Container (API) / runc start-up: ×{ratio:.2f} (goal: at most 1.0).",
    "footprint_intro": "Host memory charged to one idle instance while it sleeps, sampled "
                       "over time; for the VM also QEMU's resident (RSS) and proportional "
                       "(PSS) memory, against the memory it was given.",
    "density_intro": "Idle containers started one after another: memory charged to each and "
                     "the running total, and how long each start took.",
    "limits_intro": "A busy loop under --cpus 0.5 (the share of one CPU it actually got) and a "
                    "process asking for twice its memory limit (what the OOM killer did).",
    "limits_cpu": "CPU share under --cpus 0.5",
    "limits_memory": "Memory over the limit",
    "col_share": "CPU share",
    "col_given": "limit (MiB)",
    "col_peak": "peak (MiB)",
    "col_kills": "OOM kills",
    "col_restarts": "OOM restarts",
    "col_exit": "exit code",
    "col_enforced": "limit held",
    "yes": "yes",
    "no": "no",
    "unknown": "unknown",
    "derived": "derived from the cgroup's CPU time over the wall time",
    # -- history -------------------------------------------------------------------------------
    "history_none": "No --history given: trends need earlier sessions.",
    "history_empty": "No earlier session with a readable results.json in {dir}.",
    "history_intro": "{n} earlier session(s) from {dir}, oldest first, and this one. Medians "
                     "with their bootstrap 95 % CIs.",
    "history_skipped": "Skipped: {path}: {reason}",
    "history_baseline": "Compared with the most recent comparable session, {id} (the rule of "
                        "isobench compare: worse by more than {threshold:.0%} in the metric's "
                        "direction, with non-overlapping 95 % CIs of the medians).",
    "history_no_baseline": "No earlier session ran on a comparable machine ({why}): nothing to "
                           "compare.",
    "history_regressions": "{n} regression(s) flagged:",
    "history_no_regressions": "No regression flagged ({improved} improved, {noise} changed "
                              "within noise, of {total} compared).",
    "col_base": "baseline median",
    "col_new": "this session",
    "col_change": "change",
    # -- exam ----------------------------------------------------------------------------------
    "exam_question": "The question: what is containerization and how does it differ from "
                     "virtualization? What are a Dockerfile, an image and a container, and how "
                     "does one become the other?",
    "exam_intro": "Below, each part of the answer is stated and then checked against this "
                  "session's measurements. Each claim gets a verdict by a fixed rule (see "
                  "“How the verdicts are computed”): supported, refuted, or inconclusive when "
                  "the data cannot decide.",
    "exam_a1_title": "Containerization",
    "exam_a1": "A container is an ordinary process on the host, which the kernel isolates "
               "with namespaces (its own process tree, network, mounts, hostname) and limits "
               "with cgroups (CPU, memory, I/O). A bare chroot only changes the root "
               "directory, which is why it is not a container.",
    "exam_a2_title": "How it differs from virtualization",
    "exam_a2": "A virtual machine runs a complete guest operating system with its own kernel "
               "on virtual hardware provided by a hypervisor; containers share the host's "
               "kernel. That difference should show in the kernel each reports, in the memory "
               "an idle instance holds, and in how fast each starts.",
    "exam_a3_title": "Dockerfile → image → container",
    "exam_a3": "A Dockerfile is the recipe: one instruction per step. Building it produces "
               "an image — a stack of content-addressed layers plus metadata (command, "
               "environment). Running an image creates a container: an isolated, limited "
               "process on top of those read-only layers and a writable layer of its own, "
               "which goes away with it unless the data is in a volume.",
    "measured": "Measured here:",
    "figure_ref": "see figure",
    "no_evidence_recorded": "no evidence recorded",
    "verdict_supported": "supported",
    "verdict_refuted": "refuted",
    "verdict_inconclusive": "inconclusive",
    "verdict_counts": "{supported} supported, {refuted} refuted, {inconclusive} inconclusive.",
    "lecture_rows": "lecture claim {rows}",
    "rule": "Rule",
    # -- claims --------------------------------------------------------------------------------
    "claim_isolated_process": "A container is an isolated, limited process",
    "claim_isolated_process_stmt": "Namespaces give the process its own PID tree, network and "
                                   "mounts; from the host it is an ordinary process in a "
                                   "cgroup.",
    "claim_chroot_no_isolation": "chroot changes the root directory and nothing more",
    "claim_chroot_no_isolation_stmt": "A chroot'ed process still sees the host's processes "
                                      "and network: chroot neither isolates nor limits.",
    "claim_cgroups_limit": "cgroups limit the resources processes get",
    "claim_cgroups_limit_stmt": "A CPU quota and a memory limit set through cgroups hold.",
    "claim_shared_kernel": "Containers share the host's kernel; a VM runs its own",
    "claim_shared_kernel_stmt": "Every process in a container runs on the host's kernel (the "
                                "same boot_id, drawn once per booted kernel); a VM boots its "
                                "own.",
    "claim_vm_holds_memory": "A VM holds all the memory it was given",
    "claim_vm_holds_memory_stmt": "An idle VM keeps its whole allocation on the host instead "
                                  "of only what it uses.",
    "claim_start_faster": "Containers start faster than VMs",
    "claim_start_faster_stmt": "Launching a process in a container takes far less time than "
                               "booting a VM to run it.",
    "claim_weigh_less": "Containers weigh less than VMs",
    "claim_weigh_less_stmt": "An idle container holds much less host memory than an idle VM.",
    "claim_build_trace": "A Dockerfile becomes an image, an image becomes a container",
    "claim_build_trace_stmt": "Building a Dockerfile yields layers with digests and an image; "
                              "running the image yields an isolated process in a cgroup.",
    "claim_layer_cache": "Layers are cached, so rebuilds are fast",
    "claim_layer_cache_stmt": "Each instruction is a layer; an unchanged Dockerfile rebuilds "
                              "from the cache, much faster than the first build.",
    "claim_volumes_outlive": "Volumes outlive containers",
    "claim_volumes_outlive_stmt": "A container's own data goes with it; data in a volume "
                                  "survives it.",
    "claim_runc_bundle": "runc runs a container from a bundle",
    "claim_runc_bundle_stmt": "runc, the low-level runtime, runs an image's bundle (a root "
                              "filesystem and config.json) as an isolated process, as "
                              "isobench's own runtime does with the same image.",
    "claim_networks_join": "Networks join containers; -p opens a port",
    "claim_networks_join_stmt": "Containers on one network reach each other by name; a "
                                "published port answers from the host.",
    "claim_compose_app": "Compose describes it all in one YAML file",
    "claim_compose_app_stmt": "One compose file brings a multi-container app up, its services "
                              "reach each other by name, and down removes all of it.",
    # -- rules (short forms of reports/claims.py's docstring) ----------------------------------
    "claim_network_cost": "A network path has a cost: host > bridge > a VM's tap",
    "claim_network_cost_stmt": "As Felter et al. (2015) measured: a container on the host's "
                               "network is faster than on a bridge, and a VM on the same "
                               "bridge through a tap and virtio-net is slower still.",
    "rule_isolated_process": "evidence.namespaces on the container. Refuted if it shares the "
                             "host's pid, net or mnt namespace or has the same PID inside and "
                             "outside. Supported if those differ, its PID inside is 1 or 2, "
                             "and it has a host PID and a cgroup. Otherwise inconclusive.",
    "rule_chroot_no_isolation": "The chroot'ed probe of evidence.namespaces. Supported if it "
                                "sees both the host's PIDs and its network; refuted if "
                                "neither; otherwise inconclusive.",
    "rule_cgroups_limit": "limits.* on native, container and runc. CPU share under --cpus 0.5 "
                          "must lie in 0.4–0.6; a hog asking twice 64 MiB must meet the OOM "
                          "killer or stay under the limit. Refuted if any share exceeds 0.6 or "
                          "a memory limit visibly did not hold; supported if the container "
                          "(else runc) passes both; otherwise inconclusive.",
    "rule_shared_kernel": "evidence.kernel: the kernel's boot_id (and uname -r) per target "
                          "against the host's. Refuted if a container target's boot_id differs, "
                          "or the VM's equals the host's; supported if every container "
                          "target's equals it (a VM with its own completes the contrast).",
    "rule_vm_holds_memory": "footprint.idle on the VM: the resident size of QEMU's guest-RAM "
                            "mapping (smaps; else its cgroup or RSS) once the guest is up and "
                            "idle, against the allocation; footprint.reclaim: the guest touches "
                            "192 MiB and frees it, without and with free page reporting. "
                            "Refuted if with reporting ≥ 50 % of it left the host; else "
                            "supported if the idle median is ≥ 90 % of the allocation; refuted "
                            "if even the idle maximum is < 50 %; otherwise inconclusive.",
    "rule_start_faster": "startup.true, container (API) against VM: supported if the "
                         "container's 95 % CI of the median lies wholly below the VM's; "
                         "refuted if wholly above; otherwise inconclusive.",
    "rule_weigh_less": "footprint.idle medians of host memory, the container's cgroup plus its "
                       "monitor's PSS (the VM's QEMU is in its cgroup): supported if the VM "
                       "holds at least 1.5× the container's; refuted if the container holds at "
                       "least as much as the VM; otherwise inconclusive.",
    "rule_build_trace": "evidence.build: supported if there is an image id, layer digests, "
                        "and a container with a host PID, namespaces and a cgroup, each "
                        "layer's files hash to its digest again and the container's root is "
                        "an overlay of exactly those layers; refuted if that container shares "
                        "the host's pid and mount namespaces, a digest does not match its "
                        "files, or the root is not the image's layers.",
    "rule_layer_cache": "evidence.build: supported if every step after FROM hit the cache on "
                        "the rebuild and it took at most half the cold build's time; refuted "
                        "if nothing hit the cache or it was no faster.",
    "rule_volumes_outlive": "evidence.volume: supported if a new container read back what was "
                            "written to the volume and not what was written to the removed "
                            "container's own layer; refuted if either went the other way.",
    "rule_runc_bundle": "evidence.runc: the same probe under runc and isobench. Refuted if "
                        "either shares the host's pid, net, mnt or uts namespace, or runc's "
                        "process has a PID above 2; supported if both are isolated and saw "
                        "the same root filesystem (busybox's digest); inconclusive if the "
                        "root filesystems differ.",
    "rule_networks_join": "evidence.network: a container fetches a page from another on a "
                          "user network by its name, and the host fetches it from the "
                          "published port on loopback. Supported if both succeed; refuted if "
                          "either fails.",
    "rule_compose_app": "evidence.compose: a two-service compose file. Supported if after up "
                        "one service reaches the other by name, the published port answers, "
                        "and after down none of the project's containers or networks is "
                        "left; refuted if any of the three fails.",
    # -- bases ---------------------------------------------------------------------------------
    "rule_network_cost": "net: iperf3 throughput and qperf tcp_lat medians of the container "
                         "on the host's network and on isobench's bridge, and of the VM on "
                         "the same bridge through a tap. Bridge against host, VM tap against "
                         "container bridge: a path is slower when 5 % lower in throughput or "
                         "5 % higher in latency. Supported if both expected-slower paths are "
                         "slower (and faster on no metric); refuted if either is faster; "
                         "inconclusive otherwise. The VM behind slirp is shown, not judged.",
    "basis_no_evidence": "No evidence recorded ({what} did not run in this session).",
    "basis_incomplete": "The evidence is incomplete (missing: {what}).",
    "basis_isolated": "Inside the container the process has PID {pid} (on the host, "
                      "{pid_host}); {n} of {of} namespaces differ from the host's.",
    "basis_shares_namespaces": "The container shares the host's namespace(s): {names}.",
    "basis_same_pid": "The process has the same PID inside and on the host ({pid}).",
    "basis_pid_not_small": "Inside the container the process has PID {pid}, not 1 or 2.",
    "basis_chroot_sees_host": "A chroot'ed process still saw the host's processes and all "
                              "its network interfaces.",
    "basis_chroot_isolated": "A chroot'ed process saw neither the host's processes nor its "
                             "network.",
    "basis_chroot_mixed": "A chroot'ed process saw only part of the host (its processes or "
                          "its network, not both).",
    "basis_limits_held": "Under --cpus 0.5 the {target} got {share:.2f} of a CPU, and a "
                         "process asking for twice its {given:.0f} MiB was held to the limit.",
    "basis_limit_exceeded": "A limit did not hold on: {targets}.",
    "basis_limits_unclear": "The limits were measured but do not settle it (a share outside "
                            "0.4–0.6, or the memory outcome unknown).",
    "basis_container_kernel_differs": "{targets} reported kernel {release}; the host runs "
                                      "{host}.",
    "basis_same_kernel": "{targets}: kernel {host}, the host's own; the VM: {vm}.",
    "basis_vm_holds": "The idle VM held {fraction:.0%} of its allocation (median over the "
                      "run).",
    "basis_vm_lazy": "The idle VM never held more than {fraction:.0%} of its allocation: QEMU "
                     "hands guest RAM out lazily, as the guest touches it.",
    "basis_vm_returns": "With free page reporting, {fraction:.0%} of the memory the guest "
                        "touched and freed left the host: a VM need not keep all it was "
                        "given.",
    "basis_vm_partial": "The idle VM held {fraction:.0%} of its allocation (median): neither "
                        "all of it nor clearly less.",
    "basis_faster": "Container start-up {container:.0f} ms against the VM's {vm:.0f} ms "
                    "(×{ratio:.1f}); the 95 % CIs do not overlap.",
    "basis_slower": "Container start-up {container:.0f} ms against the VM's {vm:.0f} ms: the "
                    "container was slower.",
    "basis_overlap": "Container {container:.0f} ms, VM {vm:.0f} ms: their 95 % CIs overlap.",
    "basis_one_side": "Only one side was measured ({missing} is missing).",
    "basis_lighter": "An idle container held {container:.2f} MiB of host memory, an idle VM "
                     "{vm:.1f} MiB (×{ratio:.0f}).",
    "basis_heavier": "An idle container held {container:.2f} MiB, at least the VM's "
                     "{vm:.1f} MiB.",
    "basis_close": "Container {container:.2f} MiB against the VM's {vm:.1f} MiB: less than "
                   "×1.5 apart.",
    "basis_traced": "The Dockerfile became an image with {layers} layer digest(s), and the "
                    "image a container (host PID {pid}) with its own namespaces and cgroup.",
    "basis_not_isolated": "The container of the traced image shares the host's pid and mount "
                          "namespaces.",
    "basis_cache_fast": "The rebuild hit the cache on {hits} of {steps} steps and took "
                        "{cached:.3f} s against {cold:.3f} s cold (×{speedup:.0f} faster).",
    "basis_no_cache_gain": "The rebuild hit the cache on {hits} of {steps} steps and took "
                           "{cached:.3f} s against {cold:.3f} s cold.",
    "basis_cache_partial": "The rebuild hit the cache on {hits} of {steps} steps; {cached:.3f} "
                           "s against {cold:.3f} s cold.",
    "basis_volume_kept": "A new container read back what was written to the volume; what was "
                         "written to the removed container's own layer was gone.",
    "basis_volume_lost": "A new container did not find what was written to the volume.",
    "basis_layer_kept": "What was written to a removed container's own layer was still there.",
    "basis_vm_shares_kernel": "The VM reported the host's boot_id ({boot_id}): it ran on "
                              "the host's kernel.",
    "basis_digest_mismatch": "Only {equal} of {layers} layer(s) hash to their digest again.",
    "basis_root_not_layers": "The container's root is not an overlay of exactly the image's "
                             "layers.",
    "basis_runtime_not_isolated": "Under {target} the process shares the host's "
                                  "namespace(s): {names}.",
    "basis_runc_isolated": "Under runc the process is PID {pid} in namespaces of its own.",
    "basis_same_bundle_isolated": "runc and isobench ran the same root filesystem, each as "
                                  "an isolated process (PID {pid} under runc, "
                                  "{pid_container} under isobench).",
    "basis_different_rootfs": "runc and isobench did not run the same root filesystem "
                              "(busybox's digest differs): not the same bundle.",
    "basis_checks_failed": "Failed: {failed}.",
    "basis_checks_passed": "Passed: {passed}.",
    # -- conditions ----------------------------------------------------------------------------
    "basis_net_agrees": "As expected: the container's bridge against its host network "
                        "gave ×{bridge_gbit:.2f} throughput and ×{bridge_lat:.2f} latency; "
                        "the VM's tap against the container's bridge ×{tap_gbit:.2f} and "
                        "×{tap_lat:.2f}.",
    "basis_net_contradicts": "Against the claim: the container's bridge against its host "
                             "network gave ×{bridge_gbit:.2f} throughput and "
                             "×{bridge_lat:.2f} latency; the VM's tap against the container's "
                             "bridge ×{tap_gbit:.2f} and ×{tap_lat:.2f}.",
    "basis_net_even": "No clear cost: the container's bridge against its host network gave "
                      "×{bridge_gbit:.2f} throughput and ×{bridge_lat:.2f} latency; the VM's "
                      "tap against the container's bridge ×{tap_gbit:.2f} and ×{tap_lat:.2f}.",
    "cond_tcg": "VM under TCG: emulation, not hardware virtualization.",
    "cond_kvm": "VM with KVM: hardware virtualization.",
    "cond_no_vm": "No VM measured: the contrast with virtualization is missing.",
    "cond_no_container": "The container was not measured.",
    "cond_vm_same_release": "The VM reported the host's release ({release}): release strings "
                            "alone cannot tell the two kernels apart.",
    "cond_few_runs": "Only {n} repetition(s): the confidence intervals are wide or "
                     "degenerate.",
    "cond_pid1_init": "PID 1 inside is the runtime's init ({command}); the command is its "
                      "child, PID 2.",
    "cond_same_hostname": "The hostname inside equals the host's.",
    "cond_derived_cpu_share": "{target}: CPU share derived from the cgroup's CPU time over "
                              "the wall time.",
    "cond_vm_guest_kernel": "In the VM the guest's own kernel enforces memory (its OOM "
                            "killer), not a host cgroup.",
    "cond_single_sample": "Only QEMU's RSS at the command's exit was available, no samples "
                          "over time.",
    "cond_rebuild_new_id": "The cached rebuild produced a different image id.",
    "cond_layer_not_measured": "Whether the container's own layer outlived it was not "
                               "measured.",
    "cond_idle_phase": "Idle phase: samples from {since:.1f} s on, after the guest reported "
                       "ready (its boot is left out).",
    "cond_tcg_cache": "Under TCG, QEMU's memory includes its translated-code cache, which a "
                      "KVM guest does not need.",
    "cond_freed_kept": "Without free page reporting only {fraction:.0%} of what the guest "
                       "freed left the host.",
    "cond_reclaim_not_measured": "Whether freed guest memory goes back (free page reporting) "
                                 "was not measured.",
    "cond_monitor_not_counted": "The container's monitor (a host process outside its cgroup) "
                                "was not measured: the container's side is its cgroup alone.",
    "cond_release_only": "Only kernel releases were recorded (no boot_id): a release names a "
                         "kernel build, not a running kernel.",
    "cond_trace_not_verified": "The digests and the container's root were not re-checked "
                               "(recorded before that check existed).",
    # -- trace ---------------------------------------------------------------------------------
    "trace_intro": "A small Dockerfile built twice (cold, then unchanged), then run once.",
    "col_step": "instruction",
    "col_cold_s": "cold (s)",
    "col_cached_s": "rebuild (s)",
    "col_cache_hit": "cache hit",
    "col_layer": "layer digest",
    "trace_image": "image",
    "trace_layers": "layers",
    "trace_container": "container",
    "trace_pid": "host PID",
    "trace_cgroup": "cgroup",
    "trace_namespaces": "namespaces (inode)",
    "trace_rehashed": "digests re-hashed",
    "trace_rehashed_value": "{equal} of {layers} layer(s) hash to their digest again",
    "trace_root": "root = exactly these layers",
    "trace_no_layer": "metadata only",
    # -- evidence tables -----------------------------------------------------------------------
    "kernel_table": "The kernel inside each target: its release and boot_id",
    "col_release": "uname -r",
    "col_boot_id": "boot_id",
    "setup": "setup",
    "env_harness": "harness CPU",
    "env_harness_value": "{cpu:.1f} s over {wall:.0f} s ({fraction:.1%} of one CPU): the "
                         "harness process itself, samplers included",
    "env_sampler": "sampler CPU per run",
    "env_launcher": "monitor CPU per run, outside the cgroup",
    "env_launcher_value": "{target} {cpu:.3f} s (n={n})",
    "setup_tools": "tools:",
    "setup_disk": "disk:",
    "setup_network": "network:",
    "setup_limits": "limits:",
    "setup_timer": "timer:",
    "setup_skipped": "skipped:",
    "col_same_host": "same as host",
    "host": "host",
    "ns_table": "Namespaces: inode numbers in the container and on the host",
    "col_namespace": "namespace",
    "col_container": "container",
    "col_host": "host",
    "col_differs": "differs",
    "ns_pid_inside": "PID inside the container",
    "ns_pid_host": "PID of the same process on the host",
    "ns_hostname": "hostname differs from the host's",
    "ns_interfaces": "network interfaces inside",
    "ns_cgroup": "cgroup",
    "chroot_pids": "chroot'ed process sees the host's PIDs",
    "chroot_net": "chroot'ed process sees the host's network",
    "volume_table": "Volume round trip",
    "vol_survived": "data in the volume read back by a new container",
    "vol_layer": "data in the removed container's own layer still there",
}

RU: dict[str, str] = {
    "title": "Отчёт isobench",
    "subtitle": "Во что обходится контейнер, во что — виртуальная машина, и почему: измерено "
                "на этой машине.",
    "session_line": "Сессия {id} · профиль {profile} · повторов: {repeat} · "
                    "{started} → {finished}",
    "incomplete": "Сессия не завершилась (прервана): в отчёте только то, что успело "
                  "выполниться.",
    "tcg_title": "Цифры ВМ измеряют эмуляцию, а не аппаратную виртуализацию",
    "tcg_body": "ВМ работала под TCG — программным эмулятором процессора QEMU, потому что "
                "аппаратное ускорение (KVM) здесь недоступно{reason}. Все цифры ВМ в этом "
                "отчёте — процессор, память, диск, сеть, запуск — это стоимость эмуляции; они "
                "завышают издержки ВМ с аппаратным ускорением.",
    "missing_targets": "Отсутствующие цели:",
    "no_missing": "Все четыре цели (native, container, runc, vm) дали результаты.",
    "missing_not_requested": "не входила в эту сессию",
    "missing_unavailable": "недоступна: {reason}",
    "missing_failed": "все запуски завершились ошибкой: {reason}",
    "missing_no_runs": "доступна, но успешных запусков нет",
    "missing_contended": "{reason}: исключены (см. список запусков с конкуренцией)",
    "contents": "Содержание",
    "generated": "Построено по файлу {path}.",
    "h_env": "Окружение",
    "h_exam": "Экзаменационный вопрос — по измерениям",
    "h_summary": "Сводка: каждая цель относительно нативного запуска",
    "h_overhead": "Накладные расходы по нагрузкам",
    "h_startup": "Время запуска",
    "h_footprint": "Потребление памяти во времени",
    "h_density": "Плотность",
    "h_limits": "Соблюдение ограничений",
    "h_history": "История и регрессии",
    "h_rules": "Как вычисляются вердикты",
    "h_trace": "Один Dockerfile: от образа до контейнера",
    "h_verdicts": "Вердикты",
    "h_claims_detail": "Доказательства по каждому утверждению",
    "env_cpu": "процессор",
    "env_cores": "ядер",
    "env_memory": "память",
    "env_kernel": "ядро",
    "env_distribution": "дистрибутив",
    "env_arch": "архитектура",
    "env_cgroup": "режим cgroup",
    "env_accel": "ускорение ВМ",
    "env_versions": "версии инструментов",
    "env_virt": "виртуализация этого хоста",
    "env_freq": "частота процессора",
    "virt_guest": "этот хост сам является виртуальной машиной (гость {type}; {how}): "
                  "«native» работает под гипервизором, и все отношения к native — это "
                  "сравнение с гостем, а не с голым железом",
    "virt_bare": "голое железо (нет флага hypervisor, гипервизор не обнаружен)",
    "virt_flag": "флаг процессора hypervisor",
    "virt_container": "Он работает внутри контейнера {container}.",
    "governor": "регулятор {governor}",
    "no_governor": "регулятор cpufreq недоступен",
    "env_targets": "цели",
    "env_argv": "команда",
    "failed_runs": "Неудачные запуски:",
    "failed_run": "{variant} на {target}: {error}",
    "contended_runs": "Запуски с конкуренцией за ЦП (каждый повторён до двух раз; не входят "
                      "в отношения и вердикты без --keep-contended):",
    "contended_kept": "Запуски с конкуренцией за ЦП (учтены: сессия запущена с "
                      "--keep-contended):",
    "contended_run": "{variant} на {target}, повтор {rep}: {reasons}",
    "cell_range": "n={n}, диапазон {low}–{high}",
    "cell_noisy": "шумно ({reason}): без цвета и вердикта",
    "cell_insufficient": "мало запусков для интервала: без цвета",
    "cell_refused": "нет отношения: {target} запускал {mine}, native — {native} "
                    "(разные программы)",
    "cell_contended": "исключено запусков с конкуренцией: {n}",
    "cell_all_contended": "все {n} запусков с конкуренцией: исключены",
    "legend_plain": "без цвета: шумно или слишком мало запусков (n < 5)",
    "env_seed": "seed",
    "accel_none": "ВМ не измерялась",
    "available": "доступна",
    "not_available": "недоступна",
    "not_installed": "не установлен",
    "summary_intro": "В каждой ячейке — медиана по n повторам ± межквартильный размах, затем "
                     "отношение медианы к нативной с бутстреп-интервалом 95 %. При n < 5 с "
                     "любой стороны интервал не показывается: в ячейке n и диапазон. ↑ — чем "
                     "больше, тем лучше; ↓ — чем меньше, тем лучше.",
    "legend_better": "лучше нативного",
    "legend_worse": "хуже нативного",
    "legend_noisy": "бледнее: интервал включает 1",
    "legend_same": "в пределах порога метрики от нативного (±5 % для ЦП и памяти)",
    "col_workload": "нагрузка",
    "col_variant": "вариант",
    "col_metric": "метрика",
    "col_target": "цель",
    "col_verdict": "вердикт",
    "col_claim": "утверждение",
    "col_evidence": "что измерено",
    "col_conditions": "условия",
    "col_figure": "рисунок",
    "baseline": "база",
    "no_summary": "В этой сессии ни одна нагрузка производительности не дала результатов.",
    "ax_ratio": "медиана / нативная медиана (95 % ДИ)",
    "ax_ratio_note": "правее линии — больше нативного; ↑/↓ показывает, что лучше",
    "ax_launch": "от запуска до выхода (мс, лог. шкала)",
    "ax_ecdf": "доля запусков",
    "ax_time": "время от старта (с)",
    "ax_memory": "память хоста (МиБ, лог. шкала)",
    "ax_instance": "запущено экземпляров",
    "ax_cumulative": "всего памяти хоста (МиБ)",
    "ax_start_ms": "время запуска (мс)",
    "ax_share": "доля процессора (от одного ядра)",
    "ax_peak": "память (МиБ)",
    "ax_seconds": "секунды (лог. шкала)",
    "ax_mib": "память хоста (МиБ)",
    "ax_session": "сессия",
    "lbl_allocation": "выделено ВМ",
    "lbl_asked": "запрошено: --cpus 0.5",
    "lbl_given": "лимит",
    "lbl_peak": "пик",
    "lbl_peak_sampled": "максимум выборок: в этом ядре нет memory.peak",
    "lbl_cold": "сборка с нуля",
    "lbl_cached": "пересборка из кэша",
    "lbl_oom": "OOM",
    "lbl_per_instance": "на экземпляр",
    "lbl_rss": "RSS QEMU",
    "lbl_pss": "PSS QEMU",
    "lbl_guest_ram": "отображение памяти гостя в QEMU (резидентно)",
    "lbl_cgroup": "cgroup",
    "lbl_boot_first": "ВМ: от загрузки до первого вывода",
    "t_native": "нативно",
    "t_container": "контейнер",
    "t_container_api": "контейнер (API)",
    "t_container_cli": "контейнер (CLI)",
    "t_runc": "runc",
    "t_microvm": "микроВМ (QEMU microvm)",
    "t_vm": "ВМ",
    "no_data": "В этой сессии не измерялось.",
    "overhead_intro": "Отношение медианы каждой цели к нативной для каждого варианта и "
                      "метрики, с бутстреп-интервалами 95 %; 1 — нативная скорость.",
    "startup_intro": "Время от запуска до выхода /bin/true во всех повторах — эмпирическая "
                     "функция распределения (левее — быстрее).",
    "startup_ratio": "Запуск контейнера (API) / runc: ×{ratio:.2f} (цель — не больше 1,0).",
    "footprint_intro": "Память хоста, учтённая за одним простаивающим экземпляром, во времени; "
                       "для ВМ также резидентная (RSS) и пропорциональная (PSS) память QEMU — "
                       "в сравнении с выделенным объёмом.",
    "density_intro": "Простаивающие контейнеры, запускаемые один за другим: память каждого, "
                     "нарастающий итог и время каждого запуска.",
    "limits_intro": "Цикл, занимающий процессор, при --cpus 0.5 (какую долю ядра он реально "
                    "получил) и процесс, запрашивающий вдвое больше лимита памяти (что сделал "
                    "OOM killer).",
    "limits_cpu": "Доля процессора при --cpus 0.5",
    "limits_memory": "Память сверх лимита",
    "col_share": "доля CPU",
    "col_given": "лимит (МиБ)",
    "col_peak": "пик (МиБ)",
    "col_kills": "убито OOM",
    "col_restarts": "перезапусков после OOM",
    "col_exit": "код выхода",
    "col_enforced": "лимит соблюдён",
    "yes": "да",
    "no": "нет",
    "unknown": "неизвестно",
    "derived": "вычислено по процессорному времени cgroup и длительности запуска",
    "history_none": "--history не указан: для трендов нужны прошлые сессии.",
    "history_empty": "В {dir} нет прошлых сессий с читаемым results.json.",
    "history_intro": "Прошлых сессий из {dir}: {n}, от старых к новым, и текущая. Медианы с "
                     "бутстреп-интервалами 95 %.",
    "history_skipped": "Пропущено: {path}: {reason}",
    "history_baseline": "Сравнение с последней сопоставимой сессией {id} (правило "
                        "isobench compare: хуже более чем на {threshold:.0%} в нужную "
                        "сторону, и 95 %-интервалы медиан не пересекаются).",
    "history_no_baseline": "Нет прошлых сессий на сопоставимой машине ({why}): сравнивать не "
                           "с чем.",
    "history_regressions": "Найдено регрессий: {n}:",
    "history_no_regressions": "Регрессий нет (улучшений: {improved}, изменений в пределах шума: "
                              "{noise}, всего сравнено: {total}).",
    "col_base": "медиана базы",
    "col_new": "эта сессия",
    "col_change": "изменение",
    "exam_question": "Вопрос: что такое контейнеризация и чем она отличается от "
                     "виртуализации? Что такое Dockerfile, образ и контейнер и как одно "
                     "превращается в другое?",
    "exam_intro": "Ниже каждая часть ответа сформулирована и проверена измерениями этой "
                  "сессии. Каждое утверждение получает вердикт по фиксированному правилу (см. "
                  "«Как вычисляются вердикты»): подтверждено, опровергнуто или не установлено, "
                  "если данных для решения недостаточно.",
    "exam_a1_title": "Контейнеризация",
    "exam_a1": "Контейнер — обычный процесс хоста, который ядро изолирует пространствами имён "
               "(собственное дерево процессов, сеть, точки монтирования, имя хоста) и "
               "ограничивает контрольными группами (процессор, память, ввод-вывод). Простой "
               "chroot лишь меняет корневой каталог, поэтому контейнером он не является.",
    "exam_a2_title": "Чем она отличается от виртуализации",
    "exam_a2": "Виртуальная машина выполняет полноценную гостевую ОС со своим ядром на "
               "виртуальном оборудовании гипервизора; контейнеры используют ядро хоста. Это "
               "различие должно проявиться в версии ядра, которую видит каждый, в памяти, "
               "занятой простаивающим экземпляром, и в скорости запуска.",
    "exam_a3_title": "Dockerfile → образ → контейнер",
    "exam_a3": "Dockerfile — это рецепт: по инструкции на шаг. Сборка даёт образ — стопку "
               "слоёв, адресуемых по содержимому, плюс метаданные (команда, окружение). Запуск "
               "образа создаёт контейнер: изолированный и ограниченный процесс поверх слоёв "
               "образа (только для чтения) и собственного записываемого слоя, который исчезает "
               "вместе с контейнером, если данные не лежат в томе.",
    "measured": "Измерено здесь:",
    "figure_ref": "см. рисунок",
    "no_evidence_recorded": "данных нет",
    "verdict_supported": "подтверждено",
    "verdict_refuted": "опровергнуто",
    "verdict_inconclusive": "не установлено",
    "verdict_counts": "Подтверждено: {supported}, опровергнуто: {refuted}, не установлено: "
                      "{inconclusive}.",
    "lecture_rows": "утверждение лекции {rows}",
    "rule": "Правило",
    "claim_isolated_process": "Контейнер — изолированный и ограниченный процесс",
    "claim_isolated_process_stmt": "Пространства имён дают процессу собственное дерево PID, "
                                   "сеть и точки монтирования; с хоста это обычный процесс в "
                                   "cgroup.",
    "claim_chroot_no_isolation": "chroot меняет только корневой каталог",
    "claim_chroot_no_isolation_stmt": "Процесс под chroot по-прежнему видит процессы и сеть "
                                      "хоста: chroot не изолирует и не ограничивает.",
    "claim_cgroups_limit": "cgroups ограничивают ресурсы процессов",
    "claim_cgroups_limit_stmt": "Квота процессора и лимит памяти, заданные через cgroups, "
                                "соблюдаются.",
    "claim_shared_kernel": "Контейнеры используют ядро хоста, у ВМ — своё",
    "claim_shared_kernel_stmt": "Все процессы контейнера работают на ядре хоста (тот же "
                                "boot_id, который ядро выбирает при загрузке); ВМ загружает "
                                "своё.",
    "claim_vm_holds_memory": "ВМ занимает всю выделенную ей память",
    "claim_vm_holds_memory_stmt": "Простаивающая ВМ держит на хосте весь выделенный объём, а "
                                  "не только используемый.",
    "claim_start_faster": "Контейнеры запускаются быстрее ВМ",
    "claim_start_faster_stmt": "Запуск процесса в контейнере намного быстрее загрузки ВМ для "
                               "того же процесса.",
    "claim_weigh_less": "Контейнеры легче ВМ",
    "claim_weigh_less_stmt": "Простаивающий контейнер занимает намного меньше памяти хоста, "
                             "чем простаивающая ВМ.",
    "claim_build_trace": "Из Dockerfile получается образ, из образа — контейнер",
    "claim_build_trace_stmt": "Сборка Dockerfile даёт слои с дайджестами и образ; запуск "
                              "образа — изолированный процесс в cgroup.",
    "claim_layer_cache": "Слои кэшируются, поэтому пересборка быстрая",
    "claim_layer_cache_stmt": "Каждая инструкция — слой; неизменённый Dockerfile "
                              "пересобирается из кэша намного быстрее первой сборки.",
    "claim_volumes_outlive": "Тома переживают контейнеры",
    "claim_volumes_outlive_stmt": "Собственные данные контейнера исчезают вместе с ним; данные "
                                  "в томе сохраняются.",
    "claim_runc_bundle": "runc запускает контейнер из бандла",
    "claim_runc_bundle_stmt": "runc, низкоуровневая среда выполнения, запускает бандл образа "
                              "(корневую ФС и config.json) как изолированный процесс — так "
                              "же, как собственная среда isobench с тем же образом.",
    "claim_networks_join": "Сети связывают контейнеры; -p открывает порт",
    "claim_networks_join_stmt": "Контейнеры в одной сети обращаются друг к другу по имени; "
                                "опубликованный порт отвечает с хоста.",
    "claim_compose_app": "Compose описывает всё это в одном YAML-файле",
    "claim_compose_app_stmt": "Один compose-файл поднимает многоконтейнерное приложение, его "
                              "сервисы видят друг друга по имени, а down удаляет всё.",
    "claim_network_cost": "У сетевого пути есть цена: хост > мост > tap ВМ",
    "claim_network_cost_stmt": "Как измерили Felter et al. (2015): контейнер в сети хоста "
                               "быстрее, чем на мосту, а ВМ на том же мосту через tap и "
                               "virtio-net — ещё медленнее.",
    "rule_isolated_process": "evidence.namespaces в контейнере. Опровергнуто, если у него "
                             "общие с хостом пространства pid, net или mnt либо одинаковый PID "
                             "внутри и снаружи. Подтверждено, если они различаются, PID внутри "
                             "равен 1 или 2 и у процесса есть PID на хосте и cgroup. Иначе — "
                             "не установлено.",
    "rule_chroot_no_isolation": "Проба под chroot из evidence.namespaces. Подтверждено, если "
                                "она видит и PID хоста, и его сеть; опровергнуто, если ни то, "
                                "ни другое; иначе — не установлено.",
    "rule_cgroups_limit": "limits.* на native, container и runc. Доля CPU при --cpus 0.5 "
                          "должна быть в пределах 0,4–0,6; процесс, запросивший вдвое больше "
                          "64 МиБ, должен встретить OOM killer или остаться в пределах лимита. "
                          "Опровергнуто, если доля больше 0,6 или лимит памяти явно не "
                          "удержан; подтверждено, если контейнер (иначе runc) проходит обе "
                          "проверки; иначе — не установлено.",
    "rule_shared_kernel": "evidence.kernel: boot_id ядра (и uname -r) каждой цели против "
                          "хоста. Опровергнуто, если boot_id контейнерной цели другой или у ВМ "
                          "он совпадает с хостовым; подтверждено, если у всех контейнерных "
                          "целей он хостовый (своё ядро у ВМ завершает контраст).",
    "rule_vm_holds_memory": "footprint.idle на ВМ: резидентный размер отображения памяти "
                            "гостя в QEMU (smaps; иначе cgroup или RSS) после загрузки, в "
                            "простое, против выделенной; footprint.reclaim: гость занимает и "
                            "освобождает 192 МиБ, без сообщения о свободных страницах и с ним. "
                            "Опровергнуто, если с сообщением ≥ 50 % вернулось хосту; иначе "
                            "подтверждено, если медиана в простое ≥ 90 % выделенного; "
                            "опровергнуто, если даже максимум < 50 %; иначе — не установлено.",
    "rule_start_faster": "startup.true, контейнер (API) против ВМ: подтверждено, если 95 % "
                         "ДИ медианы контейнера целиком ниже, чем у ВМ; опровергнуто, если "
                         "целиком выше; иначе — не установлено.",
    "rule_weigh_less": "Медианы памяти хоста в footprint.idle, у контейнера — его cgroup плюс "
                       "PSS его монитора (QEMU у ВМ — в её cgroup): подтверждено, если ВМ "
                       "занимает хотя бы в 1,5 раза больше контейнера; опровергнуто, если "
                       "контейнер — не меньше ВМ; иначе — не установлено.",
    "rule_build_trace": "evidence.build: подтверждено, если есть id образа, дайджесты слоёв и "
                        "контейнер с PID на хосте, пространствами имён и cgroup, файлы каждого "
                        "слоя снова дают его дайджест, а корень контейнера — overlay ровно из "
                        "этих слоёв; опровергнуто, если пространства pid и mnt у контейнера "
                        "общие с хостом, дайджест не совпал с файлами или корень собран не из "
                        "слоёв образа.",
    "rule_layer_cache": "evidence.build: подтверждено, если при пересборке все шаги после FROM "
                        "взяты из кэша и она заняла не больше половины времени первой сборки; "
                        "опровергнуто, если кэш не сработал или быстрее не стало.",
    "rule_volumes_outlive": "evidence.volume: подтверждено, если новый контейнер прочитал "
                            "записанное в том и не нашёл записанного в собственный слой "
                            "удалённого контейнера; опровергнуто, если вышло наоборот.",
    "rule_runc_bundle": "evidence.runc: одна и та же проба под runc и isobench. "
                        "Опровергнуто, если у любого из них общие с хостом пространства pid, "
                        "net, mnt или uts или PID процесса под runc больше 2; подтверждено, "
                        "если оба изолированы и видели одну корневую ФС (дайджест busybox); "
                        "не установлено, если корневые ФС разные.",
    "rule_networks_join": "evidence.network: контейнер получает страницу от другого в "
                          "пользовательской сети по имени, а хост — с опубликованного порта на "
                          "loopback. Подтверждено, если удалось и то и другое; опровергнуто, "
                          "если нет.",
    "rule_compose_app": "evidence.compose: compose-файл из двух сервисов. Подтверждено, если "
                        "после up один сервис достаёт другой по имени, опубликованный порт "
                        "отвечает, а после down не осталось ни контейнеров, ни сетей "
                        "проекта; опровергнуто, если не выполнено хоть одно.",
    "rule_network_cost": "net: медианы пропускной способности iperf3 и задержки qperf "
                         "tcp_lat для контейнера в сети хоста и на мосту isobench и для ВМ на "
                         "том же мосту через tap. Мост против хоста, tap ВМ против моста "
                         "контейнера: путь медленнее, если пропускная способность ниже на 5 % "
                         "или задержка выше на 5 %. Подтверждено, если оба ожидаемо медленных "
                         "пути медленнее (и ни по одной метрике не быстрее); опровергнуто, "
                         "если какой-то быстрее; иначе не определено. ВМ за slirp показана, "
                         "но не оценивается.",
    "basis_no_evidence": "Данных нет ({what} в этой сессии не запускался).",
    "basis_incomplete": "Данные неполные (нет: {what}).",
    "basis_isolated": "В контейнере процесс имеет PID {pid} (на хосте — {pid_host}); "
                      "пространств имён, отличных от хостовых: {n} из {of}.",
    "basis_shares_namespaces": "У контейнера общие с хостом пространства имён: {names}.",
    "basis_same_pid": "PID процесса внутри и на хосте совпадает ({pid}).",
    "basis_pid_not_small": "PID процесса в контейнере — {pid}, а не 1 или 2.",
    "basis_chroot_sees_host": "Процесс под chroot по-прежнему видел процессы хоста и все его "
                              "сетевые интерфейсы.",
    "basis_chroot_isolated": "Процесс под chroot не увидел ни процессов хоста, ни его сети.",
    "basis_chroot_mixed": "Процесс под chroot увидел только часть хоста (процессы или сеть, "
                          "но не то и другое).",
    "basis_limits_held": "При --cpus 0.5 {target} получил {share:.2f} процессора, а процесс, "
                         "запросивший вдвое больше {given:.0f} МиБ, удержан в пределах лимита.",
    "basis_limit_exceeded": "Ограничение не удержано на: {targets}.",
    "basis_limits_unclear": "Ограничения измерены, но вопрос не решают (доля вне 0,4–0,6 или "
                            "исход по памяти неизвестен).",
    "basis_container_kernel_differs": "{targets}: ядро {release}, а на хосте — {host}.",
    "basis_same_kernel": "{targets}: ядро {host}, то же, что у хоста; ВМ: {vm}.",
    "basis_vm_holds": "Простаивающая ВМ держала {fraction:.0%} выделенной памяти (медиана за "
                      "время работы).",
    "basis_vm_lazy": "Простаивающая ВМ ни разу не держала больше {fraction:.0%} выделенной "
                     "памяти: QEMU выдаёт память гостю лениво, по мере обращения к ней.",
    "basis_vm_returns": "С сообщением о свободных страницах хосту вернулось {fraction:.0%} "
                        "памяти, которую гость занял и освободил: ВМ не обязана держать всё "
                        "выделенное.",
    "basis_vm_partial": "Простаивающая ВМ держала {fraction:.0%} выделенной памяти (медиана): "
                        "не всю, но и не явно меньше.",
    "basis_faster": "Запуск контейнера — {container:.0f} мс, ВМ — {vm:.0f} мс (×{ratio:.1f}); "
                    "95 %-интервалы не пересекаются.",
    "basis_slower": "Запуск контейнера — {container:.0f} мс, ВМ — {vm:.0f} мс: контейнер "
                    "медленнее.",
    "basis_overlap": "Контейнер — {container:.0f} мс, ВМ — {vm:.0f} мс: 95 %-интервалы "
                     "пересекаются.",
    "basis_one_side": "Измерена только одна сторона (нет: {missing}).",
    "basis_lighter": "Простаивающий контейнер занимал {container:.2f} МиБ памяти хоста, "
                     "простаивающая ВМ — {vm:.1f} МиБ (×{ratio:.0f}).",
    "basis_heavier": "Простаивающий контейнер занимал {container:.2f} МиБ — не меньше, чем ВМ "
                     "({vm:.1f} МиБ).",
    "basis_close": "Контейнер — {container:.2f} МиБ, ВМ — {vm:.1f} МиБ: разница меньше чем в "
                   "1,5 раза.",
    "basis_traced": "Dockerfile стал образом с дайджестами слоёв ({layers}), а образ — "
                    "контейнером (PID на хосте {pid}) со своими пространствами имён и cgroup.",
    "basis_not_isolated": "У контейнера из собранного образа общие с хостом пространства pid "
                          "и mnt.",
    "basis_cache_fast": "При пересборке из кэша взято {hits} из {steps} шагов; {cached:.3f} с "
                        "против {cold:.3f} с с нуля (в {speedup:.0f} раз быстрее).",
    "basis_no_cache_gain": "При пересборке из кэша взято {hits} из {steps} шагов; "
                           "{cached:.3f} с против {cold:.3f} с с нуля.",
    "basis_cache_partial": "При пересборке из кэша взято {hits} из {steps} шагов; "
                           "{cached:.3f} с против {cold:.3f} с с нуля.",
    "basis_volume_kept": "Новый контейнер прочитал записанное в том; записанное в собственный "
                         "слой удалённого контейнера исчезло.",
    "basis_volume_lost": "Новый контейнер не нашёл записанного в том.",
    "basis_layer_kept": "Записанное в собственный слой удалённого контейнера сохранилось.",
    "basis_vm_shares_kernel": "ВМ сообщила boot_id хоста ({boot_id}): она работала на ядре "
                              "хоста.",
    "basis_digest_mismatch": "Снова дают свой дайджест только {equal} из {layers} слоёв.",
    "basis_root_not_layers": "Корень контейнера — не overlay ровно из слоёв образа.",
    "basis_runtime_not_isolated": "Под {target} у процесса общие с хостом пространства имён: "
                                  "{names}.",
    "basis_runc_isolated": "Под runc процесс имеет PID {pid} в собственных пространствах имён.",
    "basis_same_bundle_isolated": "runc и isobench запустили одну и ту же корневую ФС, каждый "
                                  "— изолированным процессом (PID {pid} под runc, "
                                  "{pid_container} под isobench).",
    "basis_different_rootfs": "runc и isobench запустили разные корневые ФС (дайджест busybox "
                              "отличается): это не один бандл.",
    "basis_checks_failed": "Не выполнено: {failed}.",
    "basis_checks_passed": "Выполнено: {passed}.",
    "basis_net_agrees": "Как ожидалось: мост контейнера против сети хоста — пропускная "
                        "способность ×{bridge_gbit:.2f}, задержка ×{bridge_lat:.2f}; tap ВМ "
                        "против моста контейнера — ×{tap_gbit:.2f} и ×{tap_lat:.2f}.",
    "basis_net_contradicts": "Вопреки утверждению: мост контейнера против сети хоста — "
                             "пропускная способность ×{bridge_gbit:.2f}, задержка "
                             "×{bridge_lat:.2f}; tap ВМ против моста контейнера — "
                             "×{tap_gbit:.2f} и ×{tap_lat:.2f}.",
    "basis_net_even": "Явной цены нет: мост контейнера против сети хоста — пропускная "
                      "способность ×{bridge_gbit:.2f}, задержка ×{bridge_lat:.2f}; tap ВМ "
                      "против моста контейнера — ×{tap_gbit:.2f} и ×{tap_lat:.2f}.",
    "cond_tcg": "ВМ под TCG: эмуляция, а не аппаратная виртуализация.",
    "cond_kvm": "ВМ с KVM: аппаратная виртуализация.",
    "cond_no_vm": "ВМ не измерялась: нет сравнения с виртуализацией.",
    "cond_no_container": "Контейнер не измерялся.",
    "cond_vm_same_release": "ВМ сообщила ту же версию ядра, что и хост ({release}): по одной "
                            "строке версии ядра не различить.",
    "cond_few_runs": "Повторов всего {n}: доверительные интервалы широкие или вырожденные.",
    "cond_pid1_init": "PID 1 внутри — init среды выполнения ({command}); команда — его "
                      "потомок с PID 2.",
    "cond_same_hostname": "Имя хоста внутри совпадает с хостовым.",
    "cond_derived_cpu_share": "{target}: доля CPU вычислена по процессорному времени cgroup и "
                              "длительности запуска.",
    "cond_vm_guest_kernel": "В ВМ память ограничивает собственное ядро гостя (его OOM "
                            "killer), а не cgroup хоста.",
    "cond_single_sample": "Доступен только RSS QEMU на момент выхода команды, без выборок во "
                          "времени.",
    "cond_rebuild_new_id": "Пересборка из кэша дала другой id образа.",
    "cond_layer_not_measured": "Сохраняется ли собственный слой контейнера, не измерялось.",
    "cond_idle_phase": "Фаза простоя: выборки начиная с {since:.1f} с, после того как гость "
                       "сообщил о готовности (загрузка не учитывается).",
    "cond_tcg_cache": "Под TCG память QEMU включает кэш транслированного кода, который гостю "
                      "с KVM не нужен.",
    "cond_freed_kept": "Без сообщения о свободных страницах хосту вернулось лишь "
                       "{fraction:.0%} освобождённого гостем.",
    "cond_reclaim_not_measured": "Возвращается ли освобождённая гостем память (сообщение о "
                                 "свободных страницах), не измерялось.",
    "cond_monitor_not_counted": "Монитор контейнера (процесс хоста вне его cgroup) не "
                                "измерялся: со стороны контейнера учтена только его cgroup.",
    "cond_release_only": "Записаны только версии ядра (без boot_id): версия называет сборку "
                         "ядра, а не работающее ядро.",
    "cond_trace_not_verified": "Дайджесты и корень контейнера не перепроверялись (записано до "
                               "появления этой проверки).",
    "trace_intro": "Небольшой Dockerfile собран дважды (с нуля, затем без изменений) и "
                   "запущен один раз.",
    "col_step": "инструкция",
    "col_cold_s": "с нуля (с)",
    "col_cached_s": "пересборка (с)",
    "col_cache_hit": "из кэша",
    "col_layer": "дайджест слоя",
    "trace_image": "образ",
    "trace_layers": "слои",
    "trace_container": "контейнер",
    "trace_pid": "PID на хосте",
    "trace_cgroup": "cgroup",
    "trace_namespaces": "пространства имён (inode)",
    "trace_rehashed": "дайджесты пересчитаны",
    "trace_rehashed_value": "{equal} из {layers} слоёв снова дают свой дайджест",
    "trace_root": "корень = ровно эти слои",
    "trace_no_layer": "только метаданные",
    "kernel_table": "Ядро внутри каждой цели: версия и boot_id",
    "col_release": "uname -r",
    "col_boot_id": "boot_id",
    "setup": "условия",
    "env_harness": "CPU самого стенда",
    "env_harness_value": "{cpu:.1f} с за {wall:.0f} с ({fraction:.1%} одного CPU): процесс "
                         "стенда, включая сборщики",
    "env_sampler": "CPU сборщика на запуск",
    "env_launcher": "CPU монитора на запуск, вне cgroup",
    "env_launcher_value": "{target} {cpu:.3f} с (n={n})",
    "setup_tools": "программы:",
    "setup_disk": "диск:",
    "setup_network": "сеть:",
    "setup_limits": "ограничения:",
    "setup_timer": "таймер:",
    "setup_skipped": "пропущено:",
    "col_same_host": "как у хоста",
    "host": "хост",
    "ns_table": "Пространства имён: номера inode в контейнере и на хосте",
    "col_namespace": "пространство",
    "col_container": "контейнер",
    "col_host": "хост",
    "col_differs": "отличается",
    "ns_pid_inside": "PID внутри контейнера",
    "ns_pid_host": "PID того же процесса на хосте",
    "ns_hostname": "имя хоста отличается от хостового",
    "ns_interfaces": "сетевые интерфейсы внутри",
    "ns_cgroup": "cgroup",
    "chroot_pids": "процесс под chroot видит PID хоста",
    "chroot_net": "процесс под chroot видит сеть хоста",
    "volume_table": "Запись в том и чтение после удаления контейнера",
    "vol_survived": "данные в томе прочитаны новым контейнером",
    "vol_layer": "данные в собственном слое удалённого контейнера сохранились",
}

STRINGS = {"en": EN, "ru": RU}


def text(lang: str, key: str, **params: Any) -> str:
    template = STRINGS.get(lang, EN).get(key) or EN.get(key)
    if template is None:
        return key
    try:
        return template.format(**params) if params else template
    except (KeyError, ValueError, IndexError, TypeError):
        return template


class Translator:
    """`t("key", **params)` bound to one language, for the template."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r} (valid: {', '.join(LANGS)})")
        self.lang = lang

    def __call__(self, key: str, **params: Any) -> str:
        return text(self.lang, key, **params)
