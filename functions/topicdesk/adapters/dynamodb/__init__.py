"""DynamoDB adapters. One table (``DATA_TABLE``, layout ``topicdesk.contract.DATA_TABLE``:
keys ``pk``/``sk``, TTL ``expires_at``) holds every item below; every access is a key lookup
or a query on one partition, nothing scans.

| item             | pk                         | sk                 | module |
|------------------|----------------------------|--------------------|--------|
| session          | ``PERSON#<user>``          | ``SESSION``        | sessions |
| topic index      | ``TOPIC#<chat>#<thread>``  | ``TOPIC``          | sessions |
| ops topic        | ``OPS#<chat>``             | ``OPS``            | sessions |
| shard census     | ``SHARD#<chat>``           | ``COUNT``          | sessions |
| roster           | ``PEOPLE#<user mod 10>``   | ``<user>``         | sessions, broadcasts |
| message map, group side | ``MSG#<chat>#<message>`` | ``MAP``      | messages |
| message map, private side | ``PERSON#<user>``  | ``MSG#<chat>#<message>`` | messages |
| failure journal  | ``FAIL#<update>``          | ``FAIL``           | records |
| step record      | ``STEPS#<unit>``           | ``STEPS``          | records |
| dead letter      | ``DEAD``                   | ``<archive id>``   | dead_letters |
| broadcast        | ``BCAST#<chat>``           | ``BCAST#<question>``| broadcasts |
| group's admins   | ``ADMINS#<chat>``          | ``ADMINS``         | admins |

The shared flood limiter has its own table (``topicdesk.adapters.rate_limiter``). Erasing a
person finds all of theirs by key (``erasure``): keep anything new that is about one person
in their partition (``PERSON#<user>``, its own sk prefix) and erasing takes it along.
"""

from topicdesk.adapters.dynamodb.admins import DynamoAdminDirectory
from topicdesk.adapters.dynamodb.broadcasts import DynamoBroadcastRepository, DynamoRoster
from topicdesk.adapters.dynamodb.common import conditional_failed, conditionally, storage_errors
from topicdesk.adapters.dynamodb.dead_letters import DynamoDeadLetterArchive
from topicdesk.adapters.dynamodb.messages import DynamoMessageMap
from topicdesk.adapters.dynamodb.records import DynamoFailureJournal, DynamoStepLog
from topicdesk.adapters.dynamodb.sessions import DynamoSessionRepository, roster_key

__all__ = [
    "DynamoAdminDirectory",
    "DynamoBroadcastRepository",
    "DynamoDeadLetterArchive",
    "DynamoFailureJournal",
    "DynamoMessageMap",
    "DynamoRoster",
    "DynamoSessionRepository",
    "DynamoStepLog",
    "conditional_failed",
    "conditionally",
    "roster_key",
    "storage_errors",
]
