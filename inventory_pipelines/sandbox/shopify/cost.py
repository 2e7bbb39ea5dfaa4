"""Query cost, in the manner of Shopify's calculated query cost.

Shopify's published rules, simplified: scalars and enums cost 0, an object costs 1, a
connection costs 2 plus ``first`` (or ``last``) times the cost of one node, and a mutation
field costs 10. Edges and ``pageInfo`` are wrappers and cost nothing. The requested cost
uses the page sizes asked for; the actual cost counts the objects really returned, and the
difference is refunded to the bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
#: a single query may not request more than this (Shopify's documented maximum)
MAX_QUERY_COST = 1000
_FREE_TYPES = ("PageInfo",)


def _is_list(field_type: GraphQLOutputType) -> bool:
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)


class _Costing:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None

    def selections(self, parent: Any, selection_set: SelectionSetNode | None, data: Any) -> float:
        """The cost of a selection set on ``parent``; ``data`` is None for the requested cost."""
        if selection_set is None:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, data)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(target, selection.selection_set, data)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selections(target, fragment.selection_set, data)
        return total

    def field(
        self, parent: Any, node: FieldNode, data: Any, list_size: float | None = None
    ) -> float:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0.0
        definition = fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0.0
        key = node.alias.value if node.alias else name
        if data is not None:
            if not isinstance(data, Mapping) or data.get(key) is None:
                return 0.0
            value = data[key]
        else:
            value = None
        if named.name.endswith("Connection"):
            size = self.argument(node, "first") or self.argument(node, "last") or 0
            return 2.0 + self.connection(named, node.selection_set, value, float(size))
        if _is_list(definition.type):
            own = 0.0 if named.name.endswith("Edge") or named.name in _FREE_TYPES else 1.0
            if value is not None:
                return sum(own + self.selections(named, node.selection_set, item) for item in value)
            count = list_size
            if count is None:
                # a list picked by an argument (``nodes(ids:)``, ``quantities(names:)``)
                picked = self.argument(node, "ids") or self.argument(node, "names")
                count = float(len(picked)) if isinstance(picked, list) else 1.0
            return count * (own + self.selections(named, node.selection_set, None))
        own = 0.0 if named.name in _FREE_TYPES else 1.0
        return own + self.selections(named, node.selection_set, value)

    def connection(
        self, connection: Any, selection_set: SelectionSetNode | None, data: Any, size: float
    ) -> float:
        if selection_set is None:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(connection, selection, data, list_size=size)
        return total


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None = None,
) -> int:
    """The requested cost (``data`` None) or the actual cost of ``data`` for one operation."""
    costing = _Costing(schema, fragments, variables or {})
    if operation.operation == OperationType.MUTATION:
        roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        return MUTATION_COST * len(roots)
    root: GraphQLObjectType | None = schema.query_type
    return round(costing.selections(root, operation.selection_set, data))
