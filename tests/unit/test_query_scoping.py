"""Every statement on `jobs` names its campaign, so the table can be split by campaign.

Distributed PostgreSQL (Citus, docs/scaling.md) routes a statement to one node only when its
predicate fixes the distribution column, `campaign_id`; partitioning by campaign prunes the same
way. So each SELECT, UPDATE or DELETE that reads `jobs` must have `campaign_id = …` (or
`= ANY (…)`) among the top-level AND terms of its WHERE or JOIN conditions, for that very
reference to `jobs`: a campaign id inside an OR, or only in a sub-query, does not route. The
statements that cannot are listed below with the reason each was accepted.

The statements are parsed with PostgreSQL's own parser (pglast, libpg_query), not matched as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import pglast
import pytest
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

from campaigner.store.database import parse_queries

QUERIES = resources.files("campaigner") / "sql" / "queries"

# query name -> why it may read jobs without naming the campaign.
REVIEWED_EXCEPTIONS: dict[str, str] = {
    "get-job": "tests and tools only, one row by primary key; never on a sending path",
    "set-job-state": "tests only, one row by primary key",
    "apply-receipts": (
        "a receipt names only the provider's message id, so its job is found through "
        "jobs_provider_id across the account's campaigns; on Citus this is the one multi-shard "
        "statement of the send path (docs/scaling.md: a provider-id lookup table would route it)"
    ),
    "apply-pending-receipts": "as apply-receipts: parked receipts name only the provider's id",
    # The three write-backs of the dispatcher and the reconciler: by primary key, the jobs of one
    # claim of one worker, so of one campaign. On one server the key is the route; on Citus they
    # must carry the campaign id too (the runner has it): docs/scaling.md, "not yet".
    "record-results": (
        "by primary key, guarded by our worker and sending: the results of every campaign this "
        "process carries in one statement (dispatch/result_batcher.py); see docs/scaling.md"
    ),
    "release-jobs": "by primary key, the jobs of one claim (one campaign); see docs/scaling.md",
    "settle-reconciled": "by primary key, jobs of the one campaign a reconciler serves; see docs/scaling.md",
    "settle-by-callback": (
        "a Clickatell callback names only the job id it echoes (clientMessageId), so the job is "
        "found by primary key once per ambiguous send (rare: a lost reply), then its campaign's "
        "jobs are updated by campaign_id"
    ),
}


def named_queries() -> Iterator[tuple[str, str]]:
    for path in sorted(QUERIES.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".sql"):
            for name, query in parse_queries(path.read_text(encoding="utf-8"), path.name).items():
                yield name, query.sql


def _from_items(items: object) -> Iterator[ast.RangeVar]:
    """The tables a FROM list reads directly (through joins, not into sub-queries)."""
    for item in items or ():
        if isinstance(item, ast.RangeVar):
            yield item
        elif isinstance(item, ast.JoinExpr):
            yield from _from_items((item.larg, item.rarg))


def _join_quals(items: object) -> Iterator[object]:
    for item in items or ():
        if isinstance(item, ast.JoinExpr):
            if item.quals is not None:
                yield item.quals
            yield from _join_quals((item.larg, item.rarg))


def _conjuncts(node: object) -> Iterator[object]:
    """The top-level AND terms of a condition."""
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        for arg in node.args:
            yield from _conjuncts(arg)
    elif node is not None:
        yield node


def _fields(node: object) -> list[str | None]:
    return [getattr(f, "sval", None) for f in node.fields] if isinstance(node, ast.ColumnRef) else []


def _fixes_a_value(node: object, tables: set[str]) -> bool:
    """A parameter, a constant, or a column of a CTE or of the rows a parameter unnests: one
    campaign's id. A column of another table (`c.id` of campaigns) fixes nothing by itself."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, (ast.ParamRef, ast.A_Const)):
        return True
    fields = _fields(node)
    return len(fields) == 2 and fields[0] not in tables


def _names_campaign(term: object, alias: str, tables: set[str]) -> bool:
    """Is this AND term `alias.campaign_id = <one value>` or `= ANY (<parameter>)`?"""
    if not isinstance(term, ast.A_Expr) or term.kind not in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_OP_ANY):
        return False
    if [n.sval for n in term.name] != ["="]:
        return False
    for side, other in ((term.lexpr, term.rexpr), (term.rexpr, term.lexpr)):
        if _fields(side) in (["campaign_id"], [alias, "campaign_id"]) and _fixes_a_value(other, tables):
            return True
    return False


def unscoped_reads(sql: str) -> list[str]:
    """The references to `jobs` in a statement (and its CTEs and sub-queries) that no campaign id
    routes, as `alias (statement kind)`."""
    found: list[str] = []
    tree = pglast.parse_sql(sql)
    ctes = {node.ctename for node in _nodes(tree) if isinstance(node, ast.CommonTableExpr)}
    for node in _statements(tree):
        if isinstance(node, ast.SelectStmt):
            tables, extra, where = list(_from_items(node.fromClause)), node.fromClause, node.whereClause
        elif isinstance(node, ast.UpdateStmt):
            tables = [node.relation, *_from_items(node.fromClause)]
            extra, where = node.fromClause, node.whereClause
        elif isinstance(node, ast.DeleteStmt):
            tables = [node.relation, *_from_items(node.usingClause)]
            extra, where = node.usingClause, node.whereClause
        else:
            continue
        terms = [t for cond in (where, *_join_quals(extra)) for t in _conjuncts(cond)]
        names = {t.alias.aliasname if t.alias else t.relname for t in tables if t.relname not in ctes}
        for table in tables:
            if table.relname != "jobs":
                continue
            alias = table.alias.aliasname if table.alias else "jobs"
            if not any(_names_campaign(term, alias, names) for term in terms):
                found.append(f"{alias} ({type(node).__name__})")
    return found


def _nodes(tree: object) -> Iterator[ast.Node]:
    """Every node of a parse tree."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, ast.Node):
            yield node
            stack.extend(getattr(node, slot) for slot in node)


def _statements(tree: object) -> Iterator[ast.Node]:
    """Every SELECT, UPDATE and DELETE of a parse tree, nested ones included."""
    return (n for n in _nodes(tree) if isinstance(n, (ast.SelectStmt, ast.UpdateStmt, ast.DeleteStmt)))


QUERY_LIST = list(named_queries())


@pytest.mark.parametrize(("name", "sql"), QUERY_LIST, ids=[name for name, _ in QUERY_LIST])
def test_every_read_of_jobs_names_its_campaign(name: str, sql: str) -> None:
    unscoped = unscoped_reads(sql)
    if name in REVIEWED_EXCEPTIONS:
        assert unscoped, f"{name} is scoped now: take it off REVIEWED_EXCEPTIONS"
    else:
        assert not unscoped, f"{name} reads jobs without a campaign_id predicate: {unscoped}"


def test_the_checker_sees_what_does_not_route() -> None:
    assert unscoped_reads("SELECT 1 FROM jobs WHERE id = $1") == ["jobs (SelectStmt)"]
    assert unscoped_reads("SELECT 1 FROM jobs j WHERE j.campaign_id = $1 OR j.id = $2") == ["j (SelectStmt)"]
    assert unscoped_reads("SELECT 1 FROM jobs j JOIN jobs k ON k.id = j.id WHERE j.campaign_id = $1") == [
        "k (SelectStmt)"
    ]
    assert unscoped_reads(
        "WITH d AS (SELECT id FROM jobs WHERE state = 'pending') UPDATE jobs SET state = 'x' "
        "FROM d WHERE jobs.id = d.id AND jobs.campaign_id = $1"
    ) == ["jobs (SelectStmt)"]
    assert unscoped_reads("DELETE FROM jobs WHERE campaign_id = ANY ($1::bigint[]) AND state = 'x'") == []
    assert (
        unscoped_reads(
            "WITH t AS (SELECT 1 AS c, 2 AS id) UPDATE jobs j SET state = 'x' "
            "FROM t WHERE t.c = j.campaign_id AND j.id = t.id"
        )
        == []
    )
    # Joined to campaigns by its id: every campaign of the account, not one.
    assert unscoped_reads("SELECT 1 FROM jobs j JOIN campaigns c ON c.id = j.campaign_id WHERE c.x = $1") == [
        "j (SelectStmt)"
    ]
