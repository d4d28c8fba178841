//! The sessions table: found, or created as connect-dynamodb creates it, and
//! in either case ACTIVE before the first session call goes through.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use crate::error::{code, StoreError, StoreResult};
use crate::logger::Logger;
use crate::options::StoreOptions;

/// Real DynamoDB takes seconds to tens of seconds to create a table.
const ACTIVE_DEADLINE: Duration = Duration::from_secs(180);
const INDEX_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Finds the table, or (with `autoCreate`) creates it with DynamoDB TTL on
/// the layout's seconds attribute; either way it is ACTIVE afterwards. An existing table whose TTL
/// is off, or on another attribute, is reported through `log`.
pub async fn ensure_table(client: &Client, options: &StoreOptions, logger: &Logger) -> StoreResult<()> {
    match table_status(client, &options.table).await {
        Ok(Some(TableStatus::Active)) => {}
        Ok(_) => wait_until_active(client, &options.table).await?,
        Err(err) if err.is("ResourceNotFoundException") && options.costs.auto_create => {
            if create(client, options, logger).await? {
                return Ok(());
            }
        }
        Err(err) if err.is("ResourceNotFoundException") => {
            return Err(StoreError::new(
                &err.code,
                format!(
                    "table \"{}\" does not exist, and autoCreate is false: {}",
                    options.table, err.message
                ),
            ))
        }
        Err(err) => return Err(err),
    }
    warn_about_ttl(client, &options.table, options.layout.ttl_attr(), logger).await;
    Ok(())
}

/// Creates the table as `ensure_table` would (connect-dynamodb's
/// `createSessionsTable`), waits until it is ACTIVE and turns TTL on. False
/// when it existed already (then it is left as it is).
pub async fn create(client: &Client, options: &StoreOptions, logger: &Logger) -> StoreResult<bool> {
    let created = create_table(client, options).await?;
    wait_until_active(client, &options.table).await?;
    if created {
        let attribute = options.layout.ttl_attr();
        // A table without TTL still works (expired sessions are never served,
        // only never deleted): without UpdateTimeToLive permission (the IAM
        // policy connect-dynamodb documents lacks it), or on a DynamoDB
        // without TTL, the store says so and goes on.
        match enable_ttl(client, &options.table, attribute).await {
            Ok(()) => logger.debug(format!(
                "created table \"{}\" with TTL on \"{attribute}\"",
                options.table
            )),
            Err(err) => logger.warn(format!(
                "created table \"{}\", but DynamoDB TTL could not be turned on (expired sessions are never \
                 deleted until it is: enable TTL on \"{attribute}\", or set reapInterval): [{}] {}",
                options.table, err.code, err.message
            )),
        }
    }
    Ok(created)
}

async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> StoreResult<()> {
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(internal)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await?;
    Ok(())
}

/// The table's TTL status (ENABLED, ENABLING, DISABLED, DISABLING) and attribute.
pub async fn ttl_setting(client: &Client, table: &str) -> StoreResult<(String, Option<String>)> {
    let described = client.describe_time_to_live().table_name(table).send().await?;
    let description = described.time_to_live_description;
    let status = description
        .as_ref()
        .and_then(|d| d.time_to_live_status.as_ref())
        .map_or("DISABLED".to_string(), |status| status.as_str().to_string());
    Ok((status, description.and_then(|d| d.attribute_name)))
}

/// A warning, never a failure: the store works without TTL (expired items
/// are never returned), they are only never deleted.
async fn warn_about_ttl(client: &Client, table: &str, expected: &str, logger: &Logger) {
    let described = match client.describe_time_to_live().table_name(table).send().await {
        Ok(output) => output.time_to_live_description,
        Err(_) => return,
    };
    let (status, attribute) = described
        .map(|d| (d.time_to_live_status, d.attribute_name))
        .unwrap_or_default();
    let on = matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    let message = match attribute.as_deref() {
        Some(name) if on && name == expected => return,
        Some(other) if on => format!(
            "table \"{table}\" has DynamoDB TTL on \"{other}\", not \"{expected}\": expired sessions are never deleted"
        ),
        _ => format!(
            "table \"{table}\" has DynamoDB TTL off: expired sessions are never deleted (enable TTL on \"{expected}\")"
        ),
    };
    logger.warn(message);
}

async fn describe(client: &Client, table: &str) -> StoreResult<TableDescription> {
    let described = client.describe_table().table_name(table).send().await?;
    described
        .table
        .ok_or_else(|| StoreError::new(code::INVALID_RESPONSE, "DescribeTable returned no table"))
}

async fn table_status(client: &Client, table: &str) -> StoreResult<Option<TableStatus>> {
    Ok(describe(client, table).await?.table_status)
}

/// The table connect-dynamodb creates, plus the user index when `userPath` is
/// set. False when another store or process created it first.
async fn create_table(client: &Client, options: &StoreOptions) -> StoreResult<bool> {
    let mut request = client
        .create_table()
        .table_name(&options.table)
        .attribute_definitions(string_attribute(&options.hash_key)?)
        .key_schema(key(&options.hash_key, KeyType::Hash)?);
    request = if options.costs.on_demand {
        request.billing_mode(BillingMode::PayPerRequest)
    } else {
        request.provisioned_throughput(throughput(options)?)
    };
    if options.users.enabled() {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(&options.users.index)
            .key_schema(key(&options.users.attribute, KeyType::Hash)?)
            .key_schema(key(&options.hash_key, KeyType::Range)?)
            .projection(keys_only());
        if !options.costs.on_demand {
            index = index.provisioned_throughput(throughput(options)?);
        }
        request = request
            .attribute_definitions(string_attribute(&options.users.attribute)?)
            .global_secondary_indexes(index.build().map_err(internal)?);
    }
    let result = request.send().await;
    match result.map_err(StoreError::from) {
        // Another store or process created it first: wait for it like ours.
        Err(err) if err.is("ResourceInUseException") => Ok(false),
        other => other.map(|_| true),
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
                format!(
                    "table \"{table}\" did not become ACTIVE within {}s",
                    ACTIVE_DEADLINE.as_secs()
                ),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Adds the user index to an existing table (UpdateTable) unless it is there,
/// and waits until it can be queried.
pub async fn ensure_user_index(client: &Client, options: &StoreOptions, logger: &Logger) -> StoreResult<()> {
    let table = describe(client, &options.table).await?;
    if index_status(&table, &options.users.index).is_none() {
        let on_demand = table
            .billing_mode_summary
            .as_ref()
            .and_then(|summary| summary.billing_mode.as_ref())
            .is_some_and(|mode| *mode == BillingMode::PayPerRequest);
        let mut index = CreateGlobalSecondaryIndexAction::builder()
            .index_name(&options.users.index)
            .key_schema(key(&options.users.attribute, KeyType::Hash)?)
            .key_schema(key(&options.hash_key, KeyType::Range)?)
            .projection(keys_only());
        if !on_demand {
            index = index.provisioned_throughput(throughput(options)?);
        }
        let result = client
            .update_table()
            .table_name(&options.table)
            .attribute_definitions(string_attribute(&options.hash_key)?)
            .attribute_definitions(string_attribute(&options.users.attribute)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(index.build().map_err(internal)?)
                    .build(),
            )
            .send()
            .await;
        match result.map_err(StoreError::from) {
            // Someone else is adding it right now: wait for theirs.
            Err(err) if err.is("ResourceInUseException") => {}
            other => other.map(|_| ())?,
        }
    }
    wait_until_index_active(client, options, logger).await
}

fn index_status(table: &TableDescription, index: &str) -> Option<IndexStatus> {
    table
        .global_secondary_indexes()
        .iter()
        .find(|gsi| gsi.index_name() == Some(index))
        .map(|gsi| gsi.index_status().cloned().unwrap_or(IndexStatus::Creating))
}

async fn wait_until_index_active(client: &Client, options: &StoreOptions, logger: &Logger) -> StoreResult<()> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let table = describe(client, &options.table).await?;
        let index = index_status(&table, &options.users.index);
        if index == Some(IndexStatus::Active) && table.table_status == Some(TableStatus::Active) {
            return Ok(());
        }
        logger.debug(format!(
            "waiting for index \"{}\" (index {:?}, table {:?})",
            options.users.index, index, table.table_status
        ));
        // Adding an index to a large table backfills it, which can take long.
        if started.elapsed() > INDEX_DEADLINE {
            return Err(StoreError::new(
                code::USER_INDEX_MISSING,
                format!(
                    "index \"{}\" of table \"{}\" did not become ACTIVE within {}s",
                    options.users.index,
                    options.table,
                    INDEX_DEADLINE.as_secs()
                ),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn string_attribute(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(internal)
}

fn key(name: &str, key_type: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(internal)
}

fn throughput(options: &StoreOptions) -> StoreResult<ProvisionedThroughput> {
    ProvisionedThroughput::builder()
        .read_capacity_units(options.read_capacity_units)
        .write_capacity_units(options.write_capacity_units)
        .build()
        .map_err(internal)
}

fn keys_only() -> Projection {
    Projection::builder().projection_type(ProjectionType::KeysOnly).build()
}

fn internal(err: impl std::fmt::Display) -> StoreError {
    StoreError::new(code::INTERNAL, err.to_string())
}
