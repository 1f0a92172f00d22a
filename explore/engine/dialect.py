"""The engine's DuckDB SQL as Spark SQL: one set of queries, translated by ``sqlglot`` plus a few rewrites.

``explore.engine`` writes every query once, in DuckDB's dialect. ``to_spark(query)`` parses it with sqlglot
(DuckDB grammar) and prints it for Spark, after rewriting what sqlglot leaves to the target or what Spark lacks:

* ``isfinite(x)`` → ``NOT isnan(x) AND abs(x) < inf`` and ``isinf(x)`` → ``abs(x) = inf`` (NULL stays NULL);
* ``epoch_ns(ts)`` → ``unix_micros(ts) * 1000`` (Spark timestamps are microseconds);
* ``list_sum(max(x, k)) / len(max(x, k))`` (mean of the k largest) → the head of ``sort_array(collect_list(x))``;
* ``GROUPING(a, b, …)`` → ``(grouping(a) * 2 + grouping(b) …)``: the same bits, first argument highest (Spark's
  ``grouping`` takes one column, and its ``grouping_id`` only the whole GROUP BY list, in its order);
* ``quantile_cont(x, [qs])`` → ``percentile(x, array(qs))`` (exact, linear interpolation as in DuckDB);
* ``… USING SAMPLE reservoir(k ROWS) REPEATABLE (s)`` → ``ORDER BY rand(s) LIMIT k`` (Spark's ``TABLESAMPLE
  (k ROWS)`` takes the first k rows); ``USING SAMPLE p PERCENT (system, s)`` → ``WHERE rand(s) < p / 100``;
* ``ASOF LEFT JOIN pts ON c.x >= pts.p`` → an equi-join on ``pts.j = _asof_pts(c.x)``, a vectorised binary
  search (``numpy.searchsorted``) over the registered points, see ``explore.engine.spark``;
* ``sum(x) OVER w - y`` → ``(sum(x) OVER w) - y`` (Spark would read ``w-y`` as one identifier);
* decimal literals (``0.5``) → double literals (``0.5D``): in Spark ``0.5`` is a DECIMAL, in DuckDB a DOUBLE;
* ``count(*) … GROUP BY GROUPING SETS (…)`` → the same sets over a ``GROUP BY`` of every key first (Spark
  repeats each row once per grouping set; the pre-aggregated counts are a few thousand rows).

``CREATE … TEMP TABLE / VIEW``, ``DROP TABLE`` and ``DESCRIBE`` are not sent to Spark: ``statement(query)``
says what they are and the connection carries them out on DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from explore import errors

_INF = "CAST('Infinity' AS DOUBLE)"


def asof_function(table: str) -> str:
    """The Spark function name that finds, for a value, the index of the last point of ``table`` at or below it."""
    return f"_asof{table}"


@dataclass(frozen=True)
class Statement:
    """A DuckDB statement classified: ``kind`` is select, create_table, create_view, drop or describe."""

    kind: str
    name: str | None = None
    sql: str | None = None  # the Spark SQL of the query (select / the body of a create)


def _spark(fragment: str) -> exp.Expression:
    return sqlglot.parse_one(fragment, read="spark")


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect="spark")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        args = node.expressions
        if name == "isfinite" and len(args) == 1:
            x = _sql(args[0])
            return exp.paren(_spark(f"NOT ISNAN({x}) AND ABS({x}) < {_INF}"), copy=False)
        if name == "epoch_ns" and len(args) == 1:
            return exp.paren(_spark(f"UNIX_MICROS(CAST({_sql(args[0])} AS TIMESTAMP)) * 1000"), copy=False)
        if (
            name == "list_sum"
            and len(args) == 1
            and isinstance(args[0], exp.Max)
            and args[0].args.get("count")
        ):
            top = _top_k(args[0])
            return _spark(f"AGGREGATE({top}, CAST(0 AS DOUBLE), (acc, v) -> acc + v)")
    if isinstance(node, exp.Length) and isinstance(node.this, exp.Max) and node.this.args.get("count"):
        return _spark(f"SIZE({_top_k(node.this)})")
    if isinstance(node, exp.IsInf):
        return exp.paren(_spark(f"ABS({_sql(node.this)}) = {_INF}"), copy=False)
    if isinstance(node, exp.Grouping) and len(node.expressions) > 1:
        n = len(node.expressions)
        bits = " + ".join(
            f"CAST(GROUPING({_sql(e)}) AS BIGINT) * {1 << (n - 1 - i)}"
            for i, e in enumerate(node.expressions)
        )
        return exp.paren(_spark(bits), copy=False)
    if isinstance(node, exp.PercentileCont) and isinstance(node.expression, exp.Array):
        qs = ", ".join(_sql(e) + "D" for e in node.expression.expressions)
        return _spark(f"PERCENTILE({_sql(node.this)}, ARRAY({qs}))")
    if isinstance(node, exp.Literal) and not node.is_string:
        text = str(node.this)
        if any(c in text for c in ".eE") and not text.upper().endswith("D"):
            return _spark(f"{text}D")
    return node


def _top_k(node: exp.Max) -> str:
    k = _sql(node.args["count"])
    return f"SLICE(SORT_ARRAY(COLLECT_LIST({_sql(node.this)}), FALSE), 1, {k})"


def _rewrite_sample(select: exp.Select) -> None:
    """``USING SAMPLE reservoir(k ROWS) REPEATABLE (s)`` → ``ORDER BY rand(s) LIMIT k``; ``USING SAMPLE p PERCENT
    (system, s)`` → ``WHERE … AND rand(s) < p / 100`` (each row kept with probability p %, as Spark's own
    ``TABLESAMPLE (p PERCENT)`` does, but with the seed)."""
    sample = select.args.get("sample")
    if sample is None:
        return
    select.set("sample", None)
    size, seed = sample.args.get("size"), sample.args.get("seed")
    seed_sql = _sql(seed) if seed is not None else "0"
    percent = sample.args.get("percent")
    if size is None and percent is not None:
        select.where(_spark(f"RAND({seed_sql}) < {float(percent.this) / 100.0!r}"), copy=False)
        return
    if size is None:
        raise errors.AnalysisError(
            f"The Spark engine translates USING SAMPLE only as k ROWS or p PERCENT; received "
            f"{sample.sql(dialect='duckdb')}. This is a bug in explore.engine."
        )
    select.set("order", exp.Order(expressions=[exp.Ordered(this=_spark(f"RAND({seed_sql})"))]))
    select.set("limit", exp.Limit(expression=size.copy()))


def _rewrite_asof(select: exp.Select) -> None:
    """``ASOF LEFT JOIN t AS a ON x >= a.p`` → ``LEFT JOIN t AS a ON a.j = _asof_t(x)`` (a point index)."""
    for join in select.args.get("joins") or []:
        if str(join.args.get("method") or "").upper() != "ASOF":
            continue
        on = join.args.get("on")
        if not isinstance(on, exp.GTE) or not isinstance(join.this, exp.Table):
            raise errors.AnalysisError(
                f"The Spark engine translates an ASOF join only of the form 'ON value >= points.p'; received "
                f"{on.sql(dialect='duckdb') if on is not None else 'no condition'}. This is a bug in explore.engine."
            )
        table = join.this.name
        alias = join.this.alias_or_name
        join.set("method", None)
        join.set(
            "on",
            _spark(f"{alias}.j = {asof_function(table)}({_sql(on.this)})"),
        )


def _set_columns(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    return [node.this] if isinstance(node, exp.Paren) else [node]


def _rewrite_grouping_sets(select: exp.Select) -> None:
    """``SELECT keys, GROUPING(…), count(*) … GROUP BY GROUPING SETS (…)`` → the same grouping sets over ``SELECT
    keys, count(*) AS _n … GROUP BY every key``, summing ``_n``.

    Spark runs grouping sets as an ``Expand``: every row repeated once per set (drift's categorical counts: 6
    times 10M rows), each copy hashed. Counted once by the finest key first, the sets add up a few thousand
    rows of counts. The counts are the same integers; a key's NULL stays its own group in the inner
    ``GROUP BY``, and ``GROUPING()`` of the outer one still tells it from a rolled-up key. Only plain columns
    as keys and ``count(*)`` as the aggregate are rewritten; anything else is left as written."""
    group = select.args.get("group")
    if group is None or len(group.expressions) != 1 or not isinstance(group.expressions[0], exp.GroupingSets):
        return
    if select.args.get("having") or select.args.get("distinct") or select.args.get("sample"):
        return
    keys: list[str] = []
    for s in group.expressions[0].expressions:
        for c in _set_columns(s):
            if not isinstance(c, exp.Column) or c.table:
                return
            if c.name not in keys:
                keys.append(c.name)
    counts = []
    for p in select.expressions:
        node = p.this if isinstance(p, exp.Alias) else p
        if isinstance(node, exp.Count) and isinstance(node.this, exp.Star):
            counts.append(node)
        elif not (
            isinstance(node, exp.Grouping)
            or (isinstance(node, exp.Column) and not node.table and node.name in keys)
        ):
            return
    if not keys or not counts:
        return
    inner = select.copy()
    listed = ", ".join(f"`{k}`" for k in keys)
    inner.set("expressions", [*(exp.column(k, quoted=True) for k in keys), _spark("COUNT(*) AS _n")])
    inner.set("group", _spark(f"SELECT 1 GROUP BY {listed}").args["group"])
    for part in ("order", "limit", "offset"):
        inner.set(part, None)
    for node in counts:
        node.replace(_spark("CAST(SUM(_n) AS BIGINT)"))
    select.set(
        "from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_pre"))))
    )
    for part in ("joins", "where", "laterals", "pivots"):
        select.set(part, None)


def _translate(tree: exp.Expression) -> str:
    for select in list(tree.find_all(exp.Select)):
        _rewrite_sample(select)
        _rewrite_asof(select)
    for select in list(tree.find_all(exp.Select)):
        _rewrite_grouping_sets(select)
    for window in list(tree.find_all(exp.Window)):
        if isinstance(window.parent, exp.Binary):  # Spark reads "OVER w - x" as the identifier "w-x"
            window.replace(exp.paren(window.copy(), copy=False))
    tree = tree.transform(_rewrite)
    return tree.sql(dialect="spark")


def to_spark(query: str) -> str:
    """A DuckDB query of ``explore.engine`` as Spark SQL."""
    return _translate(sqlglot.parse_one(query, read="duckdb"))


def statement(query: str) -> Statement:
    """Classify a DuckDB statement and translate its query part for Spark."""
    tree = sqlglot.parse_one(query, read="duckdb")
    if isinstance(tree, exp.Create) and tree.expression is not None:
        kind = "create_table" if str(tree.args.get("kind")).upper() == "TABLE" else "create_view"
        return Statement(kind, tree.this.name, _translate(tree.expression))
    if isinstance(tree, exp.Drop):
        tables = tree.args.get("tables") or [tree.this]
        return Statement("drop", tables[0].name)
    if isinstance(tree, exp.Describe):
        return Statement("describe", tree.this.name)
    return Statement("select", None, _translate(tree))
