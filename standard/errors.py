"""The project's errors: one tree, its roots here, its leaves beside the code that raises them.

Every error the gateway raises on purpose is a ``JianguanError``, whose message is written for
whoever must act on it (the caller, the operator). A root says what kind of thing happened and
who acts; a leaf names what happened, and lives in the module that raises it (``module:``
below). Over GraphQL, ``resolvers.graph.errors.CODES`` gives a root its ``extensions.code``
(the one place codes are chosen); an error of no coded root is a bug there, masked as INTERNAL.
Anything that is not a ``JianguanError`` (``ValueError``, ``KeyError`` …) is a bug everywhere.

JianguanError                      raised on purpose; the message is written for whoever must act
 ├── InputError                    BAD_USER_INPUT: what was sent cannot be used; the message
 │    │                            names what and where
 │    ├── FieldProblem             ingest.fields: one field of one record is not a value it takes
 │    ├── FileError                ingest.readers: an ingest file cannot be read as records
 │    ├── IngestError              ingest.service: a batch or file is refused as a whole
 │    ├── BadId                    resolvers.graph.ids: a global ID or cursor this gateway did not
 │    │                            issue
 │    ├── UnknownTable             standard.registry: no record table has that name
 │    ├── PasswordRejected         accounts.passwords: a new password the policy refuses
 │    ├── ChangeRefused            policies.actor: a management change that cannot be made (a
 │    │                            party, account, client or grant that does not exist or clashes)
 │    ├── NotPersisted             gateway.persisted: an operation the allow-list refuses
 │    ├── BadRate                  gateway.ratelimit: a rate that is not '<count>/<period>'
 │    ├── MalformedAuthRequest     gateway.auth_http: a sign-in or token request body that is not
 │    │                            the JSON object it must be
 │    ├── TargetError              open_data.targets: a publishing target unknown or unconfigured
 │    ├── UnknownDataset           open_data.datasets: no open dataset has that name
 │    ├── WitnessError             audit.witness: a file of witnessed chain heads that is not one
 │    ├── BadSubscription          events.subscriptions: a webhook subscription that cannot be made
 │    ├── InvalidTask              tasks.errors: a task record breaks the rules (a naive time, a
 │    │                            bad USCC, no recipient)
 │    ├── DetailRequired           tasks.errors: a task action lacks what it needs (a reason …)
 │    ├── NotDispatched            tasks.complaints: a complaint not dispatched to a department
 │    ├── TransitionRefused        tasks.errors: the action is not allowed from the task's state
 │    ├── ConcurrentChange         tasks.errors: the task changed since the caller saw it
 │    ├── InvalidInspection        inspections.errors: a list item, rule, plan or pool row breaks
 │    │                            the rules
 │    ├── InvalidSnapshot          inspections.errors: a pool snapshot not in its canonical form
 │    ├── SeedMismatch             inspections.errors: the seed is not the one committed to
 │    ├── TooFewInspectors         inspections.errors: too few eligible inspectors for a subject
 │    ├── DrawRefused              inspections.errors: a plan that may not be drawn now
 │    ├── AlreadyIssued            inspections.issuing: a drawn subject's task issued meanwhile
 │    ├── ReceiptRefused           tasks.errors: a delivery receipt that does not verify
 │    │    ├── UnknownReceiptFormat  tasks.errors: a format version this code does not read
 │    │    ├── MalformedReceipt    tasks.errors: a field missing, extra or of the wrong shape
 │    │    ├── AlteredReceipt      tasks.errors: a field no longer matches its signed digest
 │    │    ├── ForeignKey          tasks.errors: signed by another key than the one given
 │    │    └── BadSignature        tasks.errors: the signature is not the given key's
 │    └── OverLimit                NODE_BUDGET_EXCEEDED: the query could ask for more than one
 │         │                       request may
 │         └── OverBudget          gateway.limits: more nodes than the node budget
 ├── Forbidden                     FORBIDDEN: the caller may not (R10, R11); policies.actor and
 │    │                            the resolvers raise it directly
 │    ├── ActorRefused             tasks.errors: the task action is allowed, not to this actor
 │    ├── PlanForbidden            inspections.errors: not a department of the inspection plan
 │    └── ApprovalForbidden        inspections.errors: a plan approved by other than its one
 │                                 department, or a joint plan by other than the city office
 ├── Unauthenticated               UNAUTHENTICATED: sign in first; the resolvers raise it directly
 │    └── AuthError                accounts.auth: a credential refused, with its HTTP status and
 │         │                       OAuth code (gateway.auth_http answers with them)
 │         ├── InvalidCredentials  accounts.auth: wrong username or password
 │         ├── AccountLocked       accounts.auth: too many failed sign-ins; retry after a while
 │         ├── InvalidClient       accounts.auth: an unknown client or a wrong secret
 │         ├── InvalidToken        accounts.auth: a token expired, revoked or never issued
 │         └── PasswordChangeRefused  accounts.auth: the new password is refused (HTTP 400)
 ├── NotFound                      NOT_FOUND: nothing has that ID or name; the resolvers raise it
 │    ├── NoDemoData               demo.principals: the demo principals are asked for before seeding
 │    ├── TaskNotFound             tasks.errors: no task has that id, or none the caller may see
 │    ├── NoSuchComplaint          tasks.complaints: no complaint of that provider has the ticket
 │    ├── PlanNotFound             inspections.errors: no inspection plan the caller may see
 │    └── NoSuchDraw               inspections.issuing: no draw of that number in the plan
 ├── SourceError                   sources.base: a source connector's errors
 │    ├── SourceUnavailable        SOURCE_UNAVAILABLE: a source did not answer in time, refused,
 │    │    │                       or answered garbage; the fields that needed it are null
 │    │    └── SourceRefused       sources.base: it refused a request the gateway found sound
 │    └── BadSourceRequest         sources.base: the gateway asked a source for a table, column or
 │         │                       operator it does not have (the gateway's own mistake: a bug)
 │         └── Malformed           sources.wire: a source-exchange message that is not well formed
 ├── Unavailable                   a part the gateway needs could not be reached; nothing
 │    │                            half-written (a bug over GraphQL, masked as INTERNAL)
 │    ├── AuditUnavailable         audit.log: the audit log could not be written; the batch is
 │    │                            rolled back
 │    └── TokenStoreUnavailable    accounts.tokens: the token store could not be reached
 ├── Misconfigured                 the operator must fix a setting or a file
 │    ├── SettingsError            gateway.settings: a JIANGUAN_* variable is missing or wrong
 │    ├── HolidaysFileError        standard.workdays: the holidays file cannot be used
 │    ├── NoDivisionList           standard.divisions: no official division list for the province
 │    ├── AuditKeyError            audit.keys: the audit signing key is missing or unusable
 │    └── JobsNotSetUp             jobs.runtime: the job queue's tables are not in the gateway
 │                                 database (`jianguan jobs setup`)
 ├── PublishError                  open_data.errors: the open-data publisher's, naming the dataset
 │    ├── SpecError                open_data.errors: a spec that cannot be released (fail closed)
 │    ├── ReleaseRefused           open_data.errors: the release gate said no
 │    └── PortalError              open_data.errors: the portal refused for good
 ├── SchemaCheckError              gateway.schema_check: the schemas to compare cannot be had
 ├── PruneRefused                  audit.retention: pruning would cut what must be kept, or keep
 │                                 a chain that no checkpoint vouches for
 └── NotEmpty                      demo.seed: the databases already hold data; seeding needs none

Not in the tree, on purpose: signals a module raises and catches itself, never shown as errors
(``gateway.body_limit._TooLarge``, ``resolvers.graph.plan.Fallback``), and the HTTP layer's own
``gateway.http.Refused`` (a Starlette ``HTTPException``). ``tests/standard/test_errors.py`` checks
that every subclass of ``JianguanError`` is drawn here and that no other exception class exists.
"""

from __future__ import annotations


class JianguanError(Exception):
    """Raised on purpose; the message is written for whoever must act on it."""


class InputError(JianguanError):
    """What was sent cannot be used; the message names what and where."""


class OverLimit(InputError):
    """The query could ask for more than one request may."""


class Forbidden(JianguanError):
    """The caller may not do this."""


class Unauthenticated(JianguanError):
    """The caller must sign in first."""


class NotFound(JianguanError):
    """Nothing has that ID or name."""


class Unavailable(JianguanError):
    """A part the gateway needs could not be reached; nothing was half-written."""


class Misconfigured(JianguanError):
    """The operator must fix a setting or a file."""


__all__ = [
    "Forbidden",
    "InputError",
    "JianguanError",
    "Misconfigured",
    "NotFound",
    "OverLimit",
    "Unauthenticated",
    "Unavailable",
]
