"""results/metrics.py: one table holds every metric any workload produces, and the
workloads declare theirs from it.

Three sources of metric names are checked against the table: what every parser returns on
its captured fixtures, what every workload declares (by name, through metrics.named), and
what the orchestration code writes into run records (found by reading bench/'s source: a
write the scan cannot resolve fails the test, so a new form of write cannot slip past it).
The recorded sessions in the fixtures are checked too.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import bench
from bench import parsers, workloads
from results import metrics

FIXTURES = Path(__file__).parent / "fixtures"
BENCH = Path(bench.__file__).parent

# parser -> captured outputs of the tool (tests/unit/fixtures/CAPTURED.md)
PARSER_FIXTURES = {
    "parse_sysbench_cpu": ["sysbench_cpu_single.txt", "sysbench_cpu_all.txt"],
    "parse_sysbench_memory": ["sysbench_memory_seq.txt"],
    "parse_sysbench_memory_random": ["sysbench_memory_random.txt"],
    "parse_fio_random": ["fio_randread.json", "fio_randwrite.json"],
    "parse_fio_sequential": ["fio_seqread.json", "fio_seqwrite.json"],
    "parse_iperf3": ["iperf3_tcp.json"],
    "parse_qperf_latency": ["qperf_tcp_lat.txt", "qperf_udp_lat.txt"],
    "parse_stress_ng_metrics": ["stress_ng_cpu.txt", "stress_ng_vm_oom_verbose.txt"],
}
# Writes whose names come from elsewhere: (file, the parameter called) -> why that is covered.
DYNAMIC = {("bench/harness.py", "parse"): "a command variant's parser: see the parser test"}


def test_the_table_is_well_formed() -> None:
    assert len(metrics.METRICS) == len(metrics.TABLE), "a metric is listed twice"
    for m in metrics.TABLE:
        assert m.better in ("higher", "lower", None), m
        assert 0 < m.threshold < 1 and m.description, m
        assert m.name.isidentifier() and m.name == m.name.lower(), m


def test_every_parser_s_metrics_are_in_the_table() -> None:
    names = {n for n in dir(parsers) if n.startswith("parse_")}
    assert names == set(PARSER_FIXTURES), "give a new parser its fixtures here"
    for name, files in PARSER_FIXTURES.items():
        for file in files:
            produced = getattr(parsers, name)((FIXTURES / file).read_text())
            missing = set(produced) - set(metrics.METRICS)
            assert not missing, f"{name}({file}) returns {missing}, not in results.metrics"


def test_every_declared_metric_is_the_table_s_definition() -> None:
    for workload in workloads.WORKLOADS.values():
        for variant in workload.variants:
            for m in variant.metrics:
                assert metrics.get(m.name) is m, f"{variant.name}: {m.name} is not from the table"


def test_named_returns_the_definitions_and_refuses_an_unknown_name() -> None:
    assert metrics.named("events_per_s", "tcp_lat_us") == (metrics.METRICS["events_per_s"],
                                                           metrics.METRICS["tcp_lat_us"])
    with pytest.raises(KeyError, match="not_a_metric"):
        metrics.named("events_per_s", "not_a_metric")


# -- what the orchestration code writes into run records ---------------------------------------

class MetricWrites:
    """Metric names written into `<record>.metrics` in one module, by reading its source."""

    def __init__(self, label: str, source: str) -> None:
        self.label = label              # "bench/harness.py"
        self.tree = ast.parse(source)
        self.parents = {child: node for node in ast.walk(self.tree)
                        for child in ast.iter_child_nodes(node)}
        self.functions = {f.name: f for f in self.tree.body if isinstance(f, ast.FunctionDef)}
        self.names: set[str] = set()
        self.unresolved: list[str] = []
        for node in ast.walk(self.tree):
            self._visit(node)

    def _where(self, node: ast.AST) -> str:
        return f"{self.label}:{getattr(node, 'lineno', '?')}"

    def _fail(self, node: ast.AST, what: str) -> set[str]:
        self.unresolved.append(f"{self._where(node)}: {what}: {ast.unparse(node)}")
        return set()

    def _up(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def _function(self, node: ast.AST) -> ast.FunctionDef | None:
        return next((p for p in self._up(node) if isinstance(p, ast.FunctionDef)), None)

    def _visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if _is_metrics(target) and node.value is not None:
                    self.names |= self._mapping(node.value)
                elif isinstance(target, ast.Subscript) and _is_metrics(target.value):
                    self.names |= self._key(target.slice)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "update" \
                    and _is_metrics(func.value):
                for arg in node.args:
                    self.names |= self._mapping(arg)
            for kw in node.keywords:
                # Variant(..., metrics=named(...)) declares, it writes no record: the
                # declaration test covers it
                if kw.arg == "metrics" and _name(func) != "Variant":
                    self.names |= self._mapping(kw.value)
            # a parse function handed to run_job: what it returns becomes the metrics
            if isinstance(func, ast.Attribute | ast.Name) and _name(func) == "run_job":
                parse = node.args[5] if len(node.args) > 5 else next(
                    (kw.value for kw in node.keywords if kw.arg == "parse"), None)
                if isinstance(parse, ast.Name) and parse.id in self.functions:
                    self.names |= self._returned(self.functions[parse.id])

    def _mapping(self, node: ast.expr) -> set[str]:
        """The keys of a mapping expression."""
        if isinstance(node, ast.Dict):
            out: set[str] = set()
            for key in node.keys:
                out |= self._key(key) if key is not None else self._fail(node, "a ** spread")
            return out
        if isinstance(node, ast.IfExp):
            return self._mapping(node.body) | self._mapping(node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in self.functions:
                return self._returned(self.functions[node.func.id])
            if (self.label, node.func.id) in DYNAMIC:
                return set()
        return self._fail(node, "metrics from an expression the scan cannot read")

    def _returned(self, fn: ast.FunctionDef) -> set[str]:
        """The keys of the mapping a module-level function returns."""
        out: set[str] = set()
        for ret in (n for n in ast.walk(fn) if isinstance(n, ast.Return)):
            if isinstance(ret.value, ast.Name):  # a dict built up, then returned
                var = ret.value.id
                for n in ast.walk(fn):
                    if isinstance(n, ast.Assign | ast.AnnAssign):
                        for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                            if isinstance(t, ast.Name) and t.id == var and n.value is not None:
                                out |= self._mapping(n.value)
                            elif isinstance(t, ast.Subscript) and _name(t.value) == var:
                                out |= self._key(t.slice)
            elif ret.value is not None:
                out |= self._mapping(ret.value)
        return out

    def _key(self, node: ast.expr) -> set[str]:
        """The metric names a key expression can take."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.JoinedStr):
            return self._formatted(node)
        if isinstance(node, ast.Name):
            return self._argument(node)
        return self._fail(node, "a metric name the scan cannot read")

    def _formatted(self, node: ast.JoinedStr) -> set[str]:
        """f"qemu_{key}_mib" inside `for key in ("rss", "pss")`: each name it makes."""
        out = {""}
        for part in node.values:
            if isinstance(part, ast.Constant):
                out = {prefix + str(part.value) for prefix in out}
                continue
            assert isinstance(part, ast.FormattedValue)
            var = _name(part.value)
            loop = next((p for p in self._up(node) if isinstance(p, ast.For)
                         and _name(p.target) == var), None)
            if loop is None or not isinstance(loop.iter, ast.Tuple | ast.List) or not all(
                    isinstance(e, ast.Constant) for e in loop.iter.elts):
                return self._fail(node, "an f-string over values the scan cannot read")
            out = {prefix + str(e.value) for prefix in out
                   for e in loop.iter.elts}
        return out

    def _argument(self, node: ast.Name) -> set[str]:
        """A parameter used as a metric name: the constants its callers pass."""
        fn = self._function(node)
        params = [a.arg for a in fn.args.args] if fn is not None else []
        if fn is None or node.id not in params:
            return self._fail(node, "a metric name from a variable")
        index = params.index(node.id)
        out: set[str] = set()
        for call in (n for n in ast.walk(self.tree) if isinstance(n, ast.Call)
                     and _name(n.func) == fn.name):
            arg = call.args[index] if len(call.args) > index else next(
                (kw.value for kw in call.keywords if kw.arg == node.id), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.add(arg.value)
            else:
                self._fail(call, f"{fn.name}() called with a {node.id} the scan cannot read")
        return out


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _is_metrics(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "metrics"


def written_metrics() -> tuple[set[str], list[str]]:
    names: set[str] = set()
    unresolved: list[str] = []
    for path in sorted(BENCH.rglob("*.py")):
        scan = MetricWrites(f"bench/{path.relative_to(BENCH)}", path.read_text())
        names |= scan.names
        unresolved += scan.unresolved
    return names, unresolved


def test_every_metric_the_orchestration_writes_is_in_the_table() -> None:
    names, unresolved = written_metrics()
    assert not unresolved, "teach MetricWrites this form of write:\n" + "\n".join(unresolved)
    # the scan sees every orchestration workload's writes (a sample from each)
    assert {"launch_to_exit_ms", "boot_to_first_output_ms", "memory_mean_mib", "qemu_pss_mib",
            "start_ms_mean", "cpu_share", "oom_restarts", "iperf3_gbit_s", "tcp_lat_us",
            "same_as_host", "cached_steps", "survived"} <= names
    missing = names - set(metrics.METRICS)
    assert not missing, f"written into run records but not in results.metrics: {missing}"


def test_the_scan_reads_each_form_and_fails_on_what_it_cannot() -> None:
    readable = MetricWrites("probe.py", """
def timed(rec, metric):
    rec.metrics = {metric: 1.0} if rec.ok else {}
def run(rec):
    timed(rec, "a_ms")
    rec.metrics["b_ms"] = 2.0
    for key in ("rss", "pss"):
        rec.metrics[f"c_{key}_mib"] = 3.0
    rec.metrics = built(rec)
    h.run_job("w", "v", "t", 0, job, parsed)
V = Variant("w.v", metrics=named("declared_not_written"))
def built(rec):
    out = {"d_s": 1.0}
    out["e_s"] = 2.0
    return out
def parsed(text):
    return {"f": 1.0}
""")
    assert readable.unresolved == []
    assert readable.names == {"a_ms", "b_ms", "c_rss_mib", "c_pss_mib", "d_s", "e_s", "f"}
    unreadable = MetricWrites("probe.py", """
def f(rec, name):
    rec.metrics[compute()] = 2.0
    rec.metrics = g()
    rec.metrics = {**other}
    rec.metrics[local] = 1.0
""")
    assert len(unreadable.unresolved) == 4, unreadable.unresolved


@pytest.mark.parametrize("path", sorted((FIXTURES / "reports").glob("*.json"))
                         + sorted((FIXTURES / "results").glob("*.json")), ids=lambda p: p.name)
def test_recorded_sessions_use_only_known_metrics(path: Path) -> None:
    doc = json.loads(path.read_text())
    recorded = {m for run in doc["runs"] for m in run.get("metrics", {})}
    assert recorded - set(metrics.METRICS) == set()


def test_undeclared_metrics_take_the_table_s_unit_and_direction() -> None:
    doc = {"workloads": {"cpu": {"variants": {"cpu.single": {"metrics": {
        "events_per_s": {"unit": "events/s", "better": "higher"}}}}}}}
    assert metrics.unit_and_direction(doc, "startup", "startup.true", "launch_to_exit_ms") \
        == ("ms", "lower")
    assert metrics.unit_and_direction(doc, "cpu", "cpu.single", "events_per_s") \
        == ("events/s", "higher")
    assert metrics.unit_and_direction(doc, "limits", "limits.cpu_half", "cpu_share") \
        == ("CPU", None)
    assert metrics.unit_and_direction(doc, "x", "x.y", "not_a_metric") == ("", None)
    assert metrics.threshold("not_a_metric") == metrics.DEFAULT_THRESHOLD
