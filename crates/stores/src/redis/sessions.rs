//! Sessions in Redis, in tower-sessions-redis-store's keys and records (the
//! session id, a MessagePack record, expiring with the session), with
//! commands of its own:
//! - saving updates a session that still exists (`SET ... XX`) and a nil
//!   answer (it is gone) is no error: a deleted session is never written
//!   back (SES-05), and the slow request that raced a sign-out does not fail;
//! - every command fails at once while the connection is down (fred's
//!   `fail_fast`), as the token cache's do: a request during an outage gets
//!   its "try again" page at once instead of queueing for the command timeout;
//! - a failure is told apart: the store down or slow is an outage (one log
//!   line when it starts, one when it ends); any other refusal (an ACL, a
//!   wrong type under a session's key) is a defect, logged every time;
//! - with an L1 in front ([`RedisSessionStore::announcing_on`]), a save and
//!   a delete publish their change notice in the same script as the change
//!   (SES-06): neither happens without the other, whatever fails or is
//!   cancelled after the script was sent.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::{Pool, WithOptions};
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::Options;
use fred::types::{ClusterHash, CustomCommand, Expiration, SetOptions, Value};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Sessions in the Redis the pool reaches.
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    client: WithOptions<Pool>,
    /// One log line per outage.
    outage: Arc<crate::outage::OutageLog>,
    /// The channel saves and deletes announce themselves on, if any.
    notices: Option<Arc<str>>,
}

/// Updates the session only if it exists (`XX`), and announces the change
/// on `ARGV[3]` with `ARGV[4]` when it did.
const SAVE_AND_ANNOUNCE: &str = r"
local set = redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2], 'XX')
if set then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
if set then return 1 end
return 0";

/// Deletes the session and announces it on `ARGV[1]` with `ARGV[2]`.
const DELETE_AND_ANNOUNCE: &str = r"
local deleted = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return deleted";

impl RedisSessionStore {
    /// The sessions of `pool`'s Redis, each command bounded by `timeout`
    /// and failing at once while disconnected.
    pub fn new(pool: Pool, timeout: Duration) -> Self {
        let client = pool.with_options(&Options { fail_fast: true, timeout: Some(timeout), ..Default::default() });
        let outage = Arc::new(crate::outage::OutageLog::new("session store", "redis"));
        Self { client, outage, notices: None }
    }

    /// The same store, each save and delete announcing itself on `channel`
    /// in the same script (what an L1 in front of it follows).
    pub fn announcing_on(mut self, channel: &str) -> Self {
        self.notices = Some(channel.into());
        self
    }

    /// Runs `script` on the node that owns `key`.
    async fn script(&self, script: &'static str, key: String, args: Vec<Value>) -> session_store::Result<i64> {
        let slot = ClusterHash::from(key.as_str());
        let mut command = vec![Value::from(script), Value::from(1i64), Value::from(key)];
        command.extend(args);
        self.observed(self.client.custom::<i64, Value>(CustomCommand::new_static("EVAL", slot, false), command).await)
    }

    /// A command's result as the session store's, outages noted.
    fn observed<T>(&self, result: Result<T, fred::error::Error>) -> session_store::Result<T> {
        crate::sessions::observed(&self.outage, result, super::is_outage)
    }

    /// `SET` of the record with `condition`; whether Redis set it.
    async fn set(&self, record: &Record, condition: SetOptions) -> session_store::Result<bool> {
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        let expiry = Expiration::EXAT(record.expiry_date.unix_timestamp());
        let answer: Value = self.observed(self.client.set(record.id.to_string(), data.as_slice(), Some(expiry), Some(condition), false).await)?;
        Ok(!answer.is_null())
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    /// Under an id nobody holds (`NX`), drawing another on a collision.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.set(record, SetOptions::NX).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    /// Updates the session if its key still exists (`XX`); nil, Redis' answer
    /// when it does not, means the session ended and stays ended.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let Some(channel) = &self.notices else {
            return self.set(record, SetOptions::XX).await.map(|_| ());
        };
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        let id = record.id.to_string();
        let notice = crate::changes::session_notice(&id);
        let args = vec![Value::Bytes(data.into()), Value::from(record.expiry_date.unix_timestamp()), Value::from(&**channel), Value::from(notice)];
        self.script(SAVE_AND_ANNOUNCE, id, args).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> = self.observed(self.client.get(id.to_string()).await)?;
        data.map(|data| rmp_serde::from_slice(&data).map_err(|error| session_store::Error::Decode(error.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let id = id.to_string();
        let Some(channel) = &self.notices else {
            let _: i64 = self.observed(self.client.del(id).await)?;
            return Ok(());
        };
        let notice = crate::changes::session_notice(&id);
        self.script(DELETE_AND_ANNOUNCE, id, vec![Value::from(&**channel), Value::from(notice)]).await.map(|_| ())
    }
}
