"""DynamoDB tables (see docs/architecture.md, "Tables"); their key layouts are the product's
contract (topicdesk.contract), listed in infra/definitions.py."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.definitions import DATA, IDEMPOTENCY, LIMITS, TableSpec
from infra.functions import removal_policy

_STRING = dynamodb.AttributeType.STRING


class Storage(Construct):
    """Data (sessions, topics, message map, dead letters), rate limits, idempotency."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.data_table = self._table(config, DATA)
        self.limits_table = self._table(config, LIMITS)
        # Powertools idempotency's DynamoDBPersistenceLayer defaults: key `id`, TTL `expiration`.
        self.idempotency_table = self._table(config, IDEMPOTENCY)

    def _table(self, config: StageConfig, spec: TableSpec) -> dynamodb.Table:
        layout = spec.layout
        return dynamodb.Table(
            self,
            spec.construct_id,
            table_name=config.name(spec.suffix),
            partition_key=dynamodb.Attribute(name=layout.partition_key, type=_STRING),
            sort_key=(
                dynamodb.Attribute(name=layout.sort_key, type=_STRING) if layout.sort_key else None
            ),
            time_to_live_attribute=layout.ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.protect_data,
            removal_policy=removal_policy(config),
        )
