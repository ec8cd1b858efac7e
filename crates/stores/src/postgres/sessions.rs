//! Sessions in PostgreSQL: tower-sessions-sqlx-store's table, records and
//! queries, except that saving only updates a session that is still there.
//! The store's own `save` is an upsert, so a request that loaded a session
//! before a sign-out or a provider logout deleted it would write it back
//! when it finished, signing the user in again (SES-05). Creating and
//! deleting are its own statements too, so that every failure is told
//! apart: the database down or slow is an outage (one log line when it
//! starts, one when it ends), any other refusal is logged every time.
//!
//! Reads and updates are tried once more when the connection broke under
//! them (`pg_terminate_backend`, a failover): the pool opens a new one, and
//! the request does not fail for a connection that was killed while it ran.
//!
//! With an L1 in front ([`PostgresSessionStore::announcing_on`]), an update
//! and a delete notify in the same statement (SES-06): the notice is sent
//! when the change commits, and never without it.

use std::sync::Arc;

use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

/// The sessions table of one schema.
#[derive(Debug, Clone)]
pub struct PostgresSessionStore {
    store: PostgresStore,
    pool: PgPool,
    /// `UPDATE` of a live session's data and expiry, never an insert.
    update: Arc<str>,
    /// `SELECT` of a live session's data.
    select: Arc<str>,
    /// `INSERT` under an id nobody holds (nothing when it is taken).
    insert: Arc<str>,
    /// `DELETE` of one session.
    delete: Arc<str>,
    /// The channel updates and deletes notify, if any.
    notices: Option<Arc<str>>,
    /// One log line per outage.
    outage: Arc<crate::outage::OutageLog>,
}

impl PostgresSessionStore {
    /// The table `table` in `schema` (both already accepted as identifiers by `store`).
    pub fn new(store: PostgresStore, pool: PgPool, schema: &str, table: &str) -> Self {
        let update = format!(r#"update "{schema}"."{table}" set data = $2, expiry_date = $3 where id = $1 and expiry_date > now()"#);
        let select = format!(r#"select data from "{schema}"."{table}" where id = $1 and expiry_date > now()"#);
        let insert = format!(r#"insert into "{schema}"."{table}" (id, data, expiry_date) values ($1, $2, $3) on conflict (id) do nothing"#);
        let delete = format!(r#"delete from "{schema}"."{table}" where id = $1"#);
        let outage = Arc::new(crate::outage::OutageLog::new("session store", "postgres"));
        Self { store, pool, update: update.into(), select: select.into(), insert: insert.into(), delete: delete.into(), notices: None, outage }
    }

    /// The same store, each update and delete notifying `channel` in the
    /// same statement (what an L1 in front of it follows).
    pub fn announcing_on(mut self, channel: &str) -> Self {
        self.update = format!("with changed as ({}) select pg_notify($4, $5)", self.update).into();
        self.delete = format!("with gone as ({}) select pg_notify($2, $3)", self.delete).into();
        self.notices = Some(channel.into());
        self
    }

    /// A command's result as the session store's, outages noted.
    fn observed<T>(&self, result: Result<T, sqlx::Error>) -> session_store::Result<T> {
        crate::sessions::observed(&self.outage, result, super::is_outage)
    }

    /// Creates the schema's sessions table if it is missing.
    pub async fn migrate(&self) -> sqlx::Result<()> {
        self.store.migrate().await
    }

    /// Deletes the sessions that have expired.
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        tower_sessions::ExpiredDeletion::delete_expired(&self.store).await
    }
}

/// Runs the statement `statement` makes; once more when the connection
/// broke under it (it can be repeated: a read, an update to fixed values,
/// an insert that does nothing when the row is there).
async fn once_more_if_broken<T, F>(statement: impl Fn() -> F) -> Result<T, sqlx::Error>
where
    F: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    match statement().await {
        Err(error) if super::broken_connection(&error) => statement().await,
        outcome => outcome,
    }
}

#[async_trait::async_trait]
impl SessionStore for PostgresSessionStore {
    /// Under an id nobody holds, drawing another on a collision.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        loop {
            let id = record.id.to_string();
            let inserted = self.observed(
                once_more_if_broken(|| sqlx::query(&self.insert).bind(&id).bind(&data).bind(record.expiry_date).execute(&self.pool)).await,
            )?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates the session if it is still there and unexpired; a deleted one stays deleted.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        let id = record.id.to_string();
        let notice = self.notices.as_ref().map(|channel| (channel, crate::changes::session_notice(&id)));
        self.observed(
            once_more_if_broken(|| {
                let update = sqlx::query(&self.update).bind(&id).bind(&data).bind(record.expiry_date);
                match &notice {
                    Some((channel, notice)) => update.bind(&***channel).bind(notice),
                    None => update,
                }
                .execute(&self.pool)
            })
            .await,
        )?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let id = id.to_string();
        let row: Option<(Vec<u8>,)> = self.observed(once_more_if_broken(|| sqlx::query_as(&self.select).bind(&id).fetch_optional(&self.pool)).await)?;
        row.map(|(data,)| rmp_serde::from_slice(&data).map_err(|error| session_store::Error::Decode(error.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let id = id.to_string();
        let notice = self.notices.as_ref().map(|channel| (channel, crate::changes::session_notice(&id)));
        self.observed(
            once_more_if_broken(|| {
                let delete = sqlx::query(&self.delete).bind(&id);
                match &notice {
                    Some((channel, notice)) => delete.bind(&***channel).bind(notice),
                    None => delete,
                }
                .execute(&self.pool)
            })
            .await,
        )?;
        Ok(())
    }
}
