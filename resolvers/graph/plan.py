"""Completion plans: an object whose selected fields hold plain values is completed in one pass.

graphql-core completes every field of every object on its own: a path, a resolve info, a
resolver call, a completion step, each a few microseconds; a page of 100 subjects with their
dossier is about 9,000 fields, most of the gateway's CPU per request. Yet nearly all of them
only read an attribute of an object the root resolver already built, or a relation prefetched
for the whole page (see prefetch.py).

The executor below keeps graphql-core in charge of the operation — variables, root resolvers,
field collection (fragments, aliases, ``@include``/``@skip``), errors — and takes over one step:
completing an object value whose selection can be read without resolvers. It compiles, per
object type and field group, what to read and how to complete it, then builds the result
dictionary directly. Anything it does not expect — a null for a non-null field, a value outside
the plain types, a relation that was not prefetched or failed, any exception — makes it give up
on that object before it has reported anything; graphql-core then completes the object field by
field as it always would, so errors, their paths and null propagation are graphql-core's own.
Plans are pure, so giving up costs time, never correctness.

Completion is synchronous, so a large result held the event loop from its first object to its
last: every other request waited, and the request deadline could not fire. Past
``SLICE_SECONDS`` of completing, an object is queued instead, and the queue is completed a slice
per turn of the loop; objects of a request that was cancelled meanwhile are skipped.

A resolver field takes part when its resolver offers a plain read (``plain_read``): a
function of the parent object and the field's GraphQL arguments that returns the value, or
``UNREAD`` when only the resolver can answer. Extensions that hook ``resolve`` (per-field
middleware) and fields with field extensions (permissions) turn planning off where they apply.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from time import perf_counter
from typing import Any, TypeVar

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.values import get_argument_values
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE as _CAST
from strawberry.types.field import StrawberryField

Read = Callable[[Any], Any]
Complete = Callable[[Any], Any]
FieldGroup = list[FieldDetails]
F = TypeVar("F", bound=Callable[..., Any])

SLICE_SECONDS = 0.01
"""How long completion may run before the event loop gets a turn."""

UNREAD: Any = object()
"""What a plain read returns when only the field's resolver can answer."""

_PLAIN_READ = "__plain_read__"
_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
_STRAWBERRY_CHECK = "strawberry.schema.schema_converter"  # where its is_type_of functions live
# Leaf values a plan completes itself: never awaitable, never an exception (graphql-core would
# await the one and raise the other). Anything else goes the per-field way.
_PLAIN_LEAVES = frozenset({str, int, float, bool, Decimal, date, datetime, time, dict, list})


def plain_read(read: Callable[..., Any]) -> Callable[[F], F]:
    """Give a resolver a plain read: ``read(parent, **graphql_arguments)``, or ``UNREAD``."""

    def mark(resolver: F) -> F:
        setattr(resolver, _PLAIN_READ, read)
        return resolver

    return mark


class Fallback(Exception):  # a signal inside this module, never an error shown
    """A plan cannot complete this value; graphql-core will, field by field."""


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain objects by plan (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A middleware (an extension's ``resolve``) must see every field: no plans then.
        self._planning = not (manager is not None and manager.middlewares)
        # (object type, id of the field group) -> (the group, kept alive; its plan or None)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldGroup, Complete | None]] = {}
        self._slice_started = perf_counter()
        self._later: deque[tuple[asyncio.Future[Any], tuple[Any, ...]]] = deque()
        self._drainer: asyncio.Task[None] | None = None

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldGroup,
        info: GraphQLResolveInfo[Any],
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        args = (return_type, field_details_list, info, path, result, position_context)
        if perf_counter() - self._slice_started > SLICE_SECONDS:
            return self._queue(args)
        return self._complete_object(*args)

    def _queue(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._later.append((future, args))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        later = self._later
        try:
            while later:
                await asyncio.sleep(0)  # other requests, and the deadline, have their turn
                started = self._slice_started = perf_counter()
                while later:
                    future, args = later.popleft()
                    if not future.cancelled():  # its request is over
                        self._settle(future, args)
                    if perf_counter() - started > SLICE_SECONDS:
                        break
        finally:
            self._drainer = None

    def _settle(self, future: asyncio.Future[Any], args: tuple[Any, ...]) -> None:
        try:
            value = self._complete_object(*args)
        except Exception as exc:  # graphql-core reports it where it awaits the future
            future.set_exception(exc)
            return
        if not self.is_awaitable(value):
            future.set_result(value)
            return
        task = asyncio.ensure_future(value)

        def done(task: asyncio.Future[Any]) -> None:
            if future.cancelled():
                return
            if task.cancelled():
                future.cancel()
            elif (error := task.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(task.result())

        task.add_done_callback(done)
        future.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)

    def _complete_object(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldGroup,
        info: GraphQLResolveInfo[Any],
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._planning and position_context is None:
            complete = self._object_plan(return_type, field_details_list)
            if complete is not None:
                try:
                    return complete(result)
                except Exception:  # noqa: S110  # the plan gave up; field by field says why
                    pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _object_plan(self, object_type: GraphQLObjectType, group: FieldGroup) -> Complete | None:
        key = (object_type, id(group))
        found = self._plans.get(key)
        if found is None:
            try:
                plan = self._compile_object(object_type, group)
            except Exception:  # graphql-core's own path meets it and reports it
                plan = None
            found = self._plans[key] = (group, plan)
        return found[1]

    def _compile_object(self, object_type: GraphQLObjectType, group: FieldGroup) -> Complete | None:
        is_type_of = object_type.is_type_of
        if is_type_of is not None and getattr(is_type_of, "__module__", "") != _STRAWBERRY_CHECK:
            return None  # a hand-written check may want the resolve info
        definition = object_type.extensions.get(_BACKREF)
        origin = getattr(definition, "origin", None)
        if is_type_of is None and origin is None:
            return None
        grouped, new_defers, _ = self.collect_subfields(object_type, group)
        if new_defers:
            return None
        entries: list[tuple[str, Read, Complete]] = []
        for response_name, details in grouped.items():
            if any(d.defer_usage is not None for d in details):
                return None
            planned = self._field(object_type, details)
            if planned is None:
                return None
            entries.append((response_name, *planned))

        if is_type_of is not None:
            check: Any = is_type_of
            # An object of exactly the type's class, not cast to another type, is what
            # Strawberry's check accepts without asking (its look-up of a cast is the slow part).
            exact = origin if origin is not None and not hasattr(origin, _CAST) else None

            def complete(value: Any) -> dict[str, Any]:
                asked = type(value) is not exact or _CAST in value.__dict__
                if asked and not check(value, None):  # Strawberry's never reads the info
                    raise Fallback
                return {name: finish(read(value)) for name, read, finish in entries}

        else:
            expected: Any = origin

            def complete(value: Any) -> dict[str, Any]:
                if not isinstance(value, expected):
                    raise Fallback
                return {name: finish(read(value)) for name, read, finish in entries}

        return complete

    def _field(
        self, parent: GraphQLObjectType, details: FieldGroup
    ) -> tuple[Read, Complete] | None:
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            type_name = parent.name
            return (lambda _value: type_name), _same
        field_def = self.schema.get_field(parent, name)
        if field_def is None:
            return None
        read = self._reader(field_def, details)
        if read is None:
            return None
        finish = self._completer(field_def.type, details)
        if finish is None:
            return None
        return read, finish

    def _reader(self, field_def: GraphQLField, details: FieldGroup) -> Read | None:
        field = field_def.extensions.get(_BACKREF)
        if not isinstance(field, StrawberryField) or field.extensions:
            return None
        resolver = field.base_resolver
        if resolver is None:
            # Strawberry's basic field: it reads the attribute through the default resolver.
            if not getattr(field_def.resolve, "_is_default", False):
                return None
            python_name, default = field.python_name, field.default_resolver
            if default is getattr:
                return attrgetter(python_name)
            return lambda value: default(value, python_name)
        plain = getattr(resolver.wrapped_func, _PLAIN_READ, None)
        if plain is None:
            return None
        first = details[0]
        try:
            arguments = get_argument_values(
                field_def,
                first.node,
                self.variable_values,
                first.fragment_variable_values,
                self.hide_suggestions,
            )
        except Exception:  # a bad argument: the resolver's path reports it
            return None

        def read(value: Any) -> Any:
            found = plain(value, **arguments)
            if found is UNREAD:
                raise Fallback
            return found

        return read

    def _completer(
        self, type_: GraphQLOutputType, details: FieldGroup, *, nullable: bool = True
    ) -> Complete | None:
        """How to complete a value of ``type_``; a non-null type gives up on null instead."""
        if is_non_null_type(type_):
            return self._completer(type_.of_type, details, nullable=False)
        if is_list_type(type_):
            item = self._completer(type_.of_type, details)
            if item is None:
                return None

            def many(value: Any) -> Any:
                if value is None or value is Undefined:
                    if nullable:
                        return None
                    raise Fallback
                if type(value) is not list and type(value) is not tuple:
                    raise Fallback
                return [item(v) for v in value]

            return many
        if is_leaf_type(type_):
            coerce = type_.coerce_output_value
            # String and ID give a string back as it is: skip the call for the commonest leaf.
            strings = coerce is serialize_string or coerce is serialize_id
            enum = is_enum_type(type_)

            def leaf(value: Any) -> Any:
                kind = type(value)
                if kind is str and strings:
                    return value
                if value is None or value is Undefined:
                    if nullable:
                        return None
                    raise Fallback
                if kind not in _PLAIN_LEAVES and not (enum and isinstance(value, Enum)):
                    raise Fallback
                done = coerce(value)
                if done is None or done is Undefined:
                    raise Fallback
                return done

            return leaf
        if is_object_type(type_):
            plan = self._object_plan(type_, details)
            if plan is None:
                return None

            def obj(value: Any) -> Any:
                if value is None or value is Undefined:
                    if nullable:
                        return None
                    raise Fallback
                return plan(value)

            return obj
        return None  # interfaces and unions: resolving the runtime type is graphql-core's


def _same(value: Any) -> Any:
    return value


__all__ = ["UNREAD", "PlannedExecutor", "plain_read"]
