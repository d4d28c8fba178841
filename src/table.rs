//! The sessions table: found, or created as connect-dynamodb creates it, and
//! in either case ACTIVE before the first session call goes through.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, KeySchemaElement, KeyType, ProvisionedThroughput, ScalarAttributeType,
    TableStatus,
};
use aws_sdk_dynamodb::Client;

use crate::error::{code, StoreError, StoreResult};
use crate::options::StoreOptions;

/// Real DynamoDB takes seconds to tens of seconds to create a table.
const ACTIVE_DEADLINE: Duration = Duration::from_secs(180);

pub async fn ensure_table(client: &Client, options: &StoreOptions) -> StoreResult<()> {
    match table_status(client, &options.table).await {
        Ok(Some(TableStatus::Active)) => Ok(()),
        Ok(_) => wait_until_active(client, &options.table).await,
        Err(err) if err.is("ResourceNotFoundException") => {
            create_table(client, options).await?;
            wait_until_active(client, &options.table).await
        }
        Err(err) => Err(err),
    }
}

async fn table_status(client: &Client, table: &str) -> StoreResult<Option<TableStatus>> {
    let described = client.describe_table().table_name(table).send().await?;
    Ok(described.table.and_then(|t| t.table_status))
}

async fn create_table(client: &Client, options: &StoreOptions) -> StoreResult<()> {
    let result = client
        .create_table()
        .table_name(&options.table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&options.hash_key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(internal)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(&options.hash_key)
                .key_type(KeyType::Hash)
                .build()
                .map_err(internal)?,
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(options.read_capacity_units)
                .write_capacity_units(options.write_capacity_units)
                .build()
                .map_err(internal)?,
        )
        .send()
        .await;
    match result.map_err(StoreError::from) {
        // Another store or process created it first: wait for it like ours.
        Err(err) if err.is("ResourceInUseException") => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn wait_until_active(client: &Client, table: &str) -> StoreResult<()> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match table_status(client, table).await {
            Ok(Some(TableStatus::Active)) => return Ok(()),
            // Just created: DescribeTable may not see it for a moment.
            Ok(_) => {}
            Err(err) if err.is("ResourceNotFoundException") => {}
            Err(err) => return Err(err),
        }
        if started.elapsed() > ACTIVE_DEADLINE {
            return Err(StoreError::new(
                code::TABLE_NOT_ACTIVE,
                format!("table \"{table}\" did not become ACTIVE within {}s", ACTIVE_DEADLINE.as_secs()),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn internal(err: impl std::fmt::Display) -> StoreError {
    StoreError::new(code::INTERNAL, err.to_string())
}
